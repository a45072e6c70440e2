"""Pull connector (拉取接入): poll a source system's REST endpoint page by page with a cursor.

For a source that cannot push. Each page's records go through the same intake path as
`POST /api/v1/intake/...`: validated by `connectors.validation`, personal data tokenised,
appended once per `source_event_id` through `IntakeService` (the intake ledger dedupes, so a
record repeated on a later page, or a page read again after a crash, appends nothing). A
record that fails validation goes to `hub.deadletter` (stage `pull:<name>`) and the
connector goes on. The cursor is stored in the hub's database (`pull_cursors`) only after
every record of the page was appended or dead-lettered, so a restart resumes where the last
finished page ended.

Failures of the source — HTTP 5xx, 408, 429, timeouts, refused or dropped connections, a
body cut off mid-page — and of the hub (broker or database unavailable) are retried with
exponential backoff and jitter, up to `max_attempts` tries; after that the connector logs
the failure, waits `interval` seconds and tries the same cursor again, for as long as it
runs. Other 4xx answers (a wrong URL or token) are not retried quickly: they are logged and
tried again after `interval`.

Protocol expected of the source (each part configurable):

    GET <url>?<cursor_param>=<cursor>&<page_size_param>=<page_size>&<params…>
    → 200 {"items": [ <intake JSON record>, … ], "next_cursor": "…" | null}

The first request has no cursor parameter (or `start_cursor`). The records are intake JSON
of the configured `kind` (DESIGN.md §6), each with its `source_event_id`. `items_path` and
`next_path` are dotted paths into the answer (`data.list`, `meta.next`; a list index is a
number: `pages.0.items`). The source is caught up when a page has no items, no next cursor,
or the same cursor again; then the connector sleeps `interval` seconds and asks again with
the stored cursor (with no next cursor, the last cursor is kept, so the last page is read
again and its records answer as duplicates).

Configuration (`zhongshu.toml`; one table per connector, the table name is `--name`):

    [pull.hotline-city]                  # name: letters, digits, - and _
    url = "https://12345.example.gov.cn/api/workorders"
    kind = "workorder"                   # workorder | inspection | case | credit | transfer
    cursor_param = "cursor"              # query parameter carrying the cursor
    items_path = "items"                 # dotted path of the record list in the answer
    next_path = "next_cursor"            # dotted path of the next cursor in the answer
    page_size = 200                      # optional; sent as <page_size_param>=200
    page_size_param = "page_size"
    start_cursor = ""                    # optional cursor of the very first request
    params = { region = "330203" }       # optional fixed query parameters
    headers = { "X-App-Id" = "zhongshu" }  # optional request headers
    token_env = "HOTLINE_TOKEN"          # optional: sent as "Authorization: Bearer $HOTLINE_TOKEN"
    token = ""                           # the token itself (prefer token_env: keep secrets out of files)
    interval = 30.0                      # seconds between polls once caught up, and after giving up
    timeout = 10.0                       # seconds per HTTP request (connect, read, write, pool)
    max_attempts = 6                     # tries per page before giving up until the next interval
    backoff_initial = 0.5                # first retry delay in seconds; doubles each try …
    backoff_max = 60.0                   # … up to this; each delay is jittered (50–100 %)
    autostart = true                     # false: `zhongshu up` does not run this connector

Commands:

    zhongshu pull --name hotline-city            # run [pull.hotline-city] until stopped (SIGTERM/Ctrl-C)
    zhongshu pull --name hotline-city --once     # pull until caught up, then exit
    zhongshu pull --name adhoc --url URL --kind workorder [--cursor-param cursor]
                  [--items-path items] [--next-path next_cursor] [--interval S] [--once]
    zhongshu pull --all                          # every [pull.*] table in one process
    zhongshu pull --name hotline-city --reset    # forget the stored cursor (start from the beginning;
                                                 # records already appended answer as duplicates)

Flags override the table's keys. `zhongshu up` runs `zhongshu pull --all` as a supervised
child when the config file has `[pull.*]` tables with `autostart` true. Run one process per
connector name: two processes on one name would read pages twice (harmless for the log,
which dedupes, but wasted work). Exit codes: 0 done or stopped; 1 `--once` and the source or
the hub stayed unavailable past `max_attempts` (the cursor is kept; run again); 2 a
configuration error.

Dead letters: the DeadLetter record has topic = the kind's ingress topic, partition -1,
offset -1, key = the record's would-be key (when it can be told), original = the record's
JSON (UTF-8) with complainant name/phone and a party's ID number replaced by their intake
tokens (DESIGN.md §10: never in clear on Kafka), reason = every problem (field, value,
expected), stage `pull:<name>`. Each distinct rejected record is dead-lettered once per
connector (table `pull_rejected`), however often its page is read.
"""
from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import os
import random
import re
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Callable

import httpx
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from schemas.codec import CE_TYPES, cloudevent_headers

from .intake import SOURCES, IntakeService, IntakeUnavailable, record_key
from .pull_models import PullCursor, PullRejected, ensure_tables
from .validation import RECORD_KINDS, ValidationFailed, validate_record

log = logging.getLogger("zhongshu.pull")

ROUTES: dict[str, str] = {kind: route for route, (kind, _topic, _source) in SOURCES.items()}
TOPICS: dict[str, str] = {kind: topic for _route, (kind, topic, _source) in SOURCES.items()}
DEADLETTER_TOPIC = "hub.deadletter"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
RETRY_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))  # worth asking again soon


class PullConfigError(ValueError):
    """A [pull.<name>] table or the flags are wrong; the message lists every problem."""


@dataclass
class PullConfig:
    name: str
    url: str
    kind: str
    cursor_param: str = "cursor"
    items_path: str = "items"
    next_path: str = "next_cursor"
    page_size: int | None = None
    page_size_param: str = "page_size"
    start_cursor: str | None = None
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    token: str = ""
    token_env: str = ""
    interval: float = 30.0
    timeout: float = 10.0
    max_attempts: int = 6
    backoff_initial: float = 0.5
    backoff_max: float = 60.0
    autostart: bool = True

    @classmethod
    def from_mapping(cls, name: str, table: dict) -> "PullConfig":
        """Build and check a config from a [pull.<name>] table (plus flags merged in)."""
        known = {f.name for f in fields(cls)} - {"name"}
        problems = [f"unknown key {k!r} (known: {', '.join(sorted(known))})" for k in table if k not in known]
        values = {k: v for k, v in table.items() if k in known and v is not None}
        for key in ("url", "kind"):
            if not values.get(key):
                problems.append(f"{key} is required")
        if problems:
            raise PullConfigError(f"[pull.{name}]: " + "; ".join(problems))
        try:
            config = cls(name=name, **values)
        except TypeError as exc:
            raise PullConfigError(f"[pull.{name}]: {exc}") from None
        config.check()
        return config

    def check(self) -> None:
        problems = []
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            problems.append(f"name {self.name!r}: 1-100 letters, digits, '-' or '_'")
        if self.kind not in ROUTES:
            problems.append(f"kind {self.kind!r}: expected one of {', '.join(RECORD_KINDS)}")
        if not isinstance(self.url, str) or not re.match(r"https?://", self.url):
            problems.append(f"url {self.url!r}: expected an http:// or https:// URL")
        for key in ("cursor_param", "items_path", "next_path", "page_size_param"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                problems.append(f"{key}: a non-empty string")
        for key in ("params", "headers"):
            value = getattr(self, key)
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, (str, int))
                                                     for k, v in value.items()):
                problems.append(f"{key}: a table of string values")
        if self.page_size is not None and (not isinstance(self.page_size, int) or self.page_size < 1):
            problems.append(f"page_size {self.page_size!r}: a positive integer")
        for key in ("interval", "timeout", "backoff_initial", "backoff_max"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                problems.append(f"{key} {value!r}: a positive number of seconds")
        if not isinstance(self.autostart, bool):
            problems.append(f"autostart {self.autostart!r}: true or false")
        if not isinstance(self.max_attempts, int) or isinstance(self.max_attempts, bool) or self.max_attempts < 1:
            problems.append(f"max_attempts {self.max_attempts!r}: an integer ≥ 1")
        if self.token_env and os.environ.get(self.token_env) is None:
            problems.append(f"token_env {self.token_env!r}: that environment variable is not set")
        if problems:
            raise PullConfigError(f"[pull.{self.name}]: " + "; ".join(problems))

    def request_headers(self) -> dict[str, str]:
        headers = {str(k): str(v) for k, v in self.headers.items()}
        token = os.environ.get(self.token_env, "") if self.token_env else self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.setdefault("Accept", "application/json")
        return headers

    def __repr__(self) -> str:  # never print the token
        return f"PullConfig(name={self.name!r}, url={self.url!r}, kind={self.kind!r})"


def pull_tables(settings) -> dict[str, dict]:
    """The raw [pull.<name>] tables of the configuration (Settings.extra["pull"])."""
    tables = (settings.extra or {}).get("pull") or {}
    if not isinstance(tables, dict):
        raise PullConfigError("[pull]: expected tables [pull.<name>], one per connector")
    bad = [n for n, t in tables.items() if not isinstance(t, dict)]
    if bad:
        raise PullConfigError(f"[pull]: {', '.join(bad)} should be tables [pull.<name>] with url, kind, …")
    return tables


def pull_configs(settings) -> dict[str, PullConfig]:
    """Every configured connector, checked; PullConfigError names each broken table."""
    configs, problems = {}, []
    for name, table in pull_tables(settings).items():
        try:
            configs[name] = PullConfig.from_mapping(name, table)
        except PullConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise PullConfigError("\n".join(problems))
    return configs


# ---------------------------------------------------------------- reading a page

class SourceUnavailable(RuntimeError):
    """The page could not be read this time (5xx, timeout, dropped connection, cut-off body)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class SourceRefused(RuntimeError):
    """The source answered a 4xx that retrying soon will not change (URL, token, parameters)."""


def json_path(document: Any, path: str) -> Any:
    """`data.items` → document["data"]["items"]; a number indexes a list. KeyError if absent."""
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            here = sorted(node)[:20] if isinstance(node, dict) else type(node).__name__
            raise KeyError(f"{path!r}: no {part!r} in the answer (found {here})")
    return node


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the exponential backoff is good enough


async def fetch_page(client: httpx.AsyncClient, config: PullConfig, cursor: str | None) -> tuple[list, str | None]:
    """(items, next cursor) of one page, or SourceUnavailable / SourceRefused."""
    params: dict[str, Any] = {str(k): v for k, v in config.params.items()}
    if cursor:
        params[config.cursor_param] = cursor
    if config.page_size:
        params[config.page_size_param] = config.page_size
    try:
        response = await client.get(config.url, params=params)
    except httpx.TimeoutException as exc:
        raise SourceUnavailable(f"timed out after {config.timeout:g}s ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:  # refused, reset, peer closed mid-body, protocol errors
        raise SourceUnavailable(f"connection failed: {type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if status in RETRY_STATUSES:
        raise SourceUnavailable(f"HTTP {status}: {response.text[:200]!r}", _retry_after(response))
    if status >= 400 or status < 200:
        raise SourceRefused(f"HTTP {status}: {response.text[:200]!r}")
    try:
        document = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        # a body cut off without a Content-Length, or a proxy's error page: read it again
        raise SourceUnavailable(f"the answer is not JSON ({exc}); {len(response.content)} bytes") from exc
    try:
        items = json_path(document, config.items_path)
    except KeyError as exc:
        raise SourceUnavailable(f"items_path {exc.args[0]}") from None
    if not isinstance(items, list):
        raise SourceUnavailable(f"items_path {config.items_path!r} is a {type(items).__name__}, not a list")
    try:
        nxt = json_path(document, config.next_path)
    except KeyError:
        nxt = None  # many APIs leave the cursor out on the last page
    if isinstance(nxt, bool) or (nxt is not None and not isinstance(nxt, (str, int))):
        raise SourceUnavailable(f"next_path {config.next_path!r} is a {type(nxt).__name__}, not a cursor")
    return items, (str(nxt) if nxt not in (None, "") else None)


# ---------------------------------------------------------------- personal data in dead letters

def redact_personal(kind: str, item: Any, tokenise: Callable[[str, str], str]) -> Any:
    """A copy of a rejected record with complainant name/phone and a party's ID number replaced
    by the tokens intake would give them (so dead letters still correlate, never in clear)."""
    if not isinstance(item, dict):
        return item
    out = copy.deepcopy(item)

    def token(fieldname: str, value: Any) -> str:
        return tokenise(fieldname, value) if isinstance(value, str) and value.strip() else "<redacted>"

    if kind == "workorder" and "complainant" in out:
        person = out["complainant"]
        if isinstance(person, dict):
            out["complainant"] = {k: token(k if k in ("name", "phone") else "other", v) for k, v in person.items()}
        elif person is not None:
            out["complainant"] = "<redacted>"
    if kind == "case" and isinstance(out.get("party"), dict) and "id_number" in out["party"]:
        out["party"]["id_number"] = token("id_number", out["party"]["id_number"])
    return out


def _guess_key(kind: str, item: Any) -> bytes | None:
    try:
        key = record_key(kind, item)
    except Exception:  # the record is invalid; its key may be missing or of any type
        return None
    return key.encode("utf-8") if isinstance(key, str) and key else None


# ---------------------------------------------------------------- the connector

@dataclass
class PullStats:
    pages: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failures: int = 0          # failed attempts (each retried or given up)
    gave_up: int = 0           # rounds abandoned after max_attempts

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def make_intake(settings, session_factory, producer, codec) -> IntakeService:
    """The intake service as the API builds it (its timeouts from the settings, when it has them)."""
    kw = {name: getattr(settings, key) for name, key in (("send_timeout", "intake_send_timeout"),
                                                          ("claim_lease", "intake_claim_lease"))
          if hasattr(settings, key)}
    return IntakeService(session_factory, producer, codec, **kw)


async def stop_producer(producer, timeout: float = 30.0) -> None:
    """Flush and stop; a broker that stays away must not keep the process from exiting (a record
    still queued keeps its ledger claim, which the next intake recovers after the lease)."""
    try:
        await asyncio.wait_for(producer.stop(), timeout)
    except asyncio.TimeoutError:
        log.warning("the broker did not take the last records within %gs; stopping anyway", timeout)


class _GiveUp(Exception):
    pass


class _Stopped(Exception):
    pass


async def _to_thread(fn, *args):
    return await asyncio.to_thread(fn, *args)


class PullConnector:
    """One configured source. `run()` polls until `stop` is set (or, with once=True, until
    caught up); the cursor lives in `pull_cursors` under `config.name`."""

    def __init__(self, config: PullConfig, *, session_factory, producer, codec, tokenise,
                 intake: IntakeService | None = None, client: httpx.AsyncClient | None = None,
                 rng: random.Random | None = None):
        self.config = config
        self.session_factory = session_factory
        self.producer = producer
        self.codec = codec
        self.tokenise = tokenise
        self.intake = intake or IntakeService(session_factory, producer, codec)
        self.route = ROUTES[config.kind]
        self.topic = TOPICS[config.kind]
        self.stage = f"pull:{config.name}"
        self._client = client
        self._rng = rng or random.Random()
        self.stats = PullStats()

    # -- cursor ------------------------------------------------------------------------------

    def load_cursor(self) -> str | None:
        with self.session_factory() as s:
            row = s.get(PullCursor, self.config.name)
            if row is None:
                return self.config.start_cursor or None
            if row.url != self.config.url or row.kind != self.config.kind:
                log.warning("pull %s: the stored cursor was written for %s %s, now %s %s; resuming from it "
                            "(zhongshu pull --name %s --reset starts over)", self.config.name, row.kind, row.url,
                            self.config.kind, self.config.url, self.config.name)
            return row.cursor

    def commit_cursor(self, cursor: str | None, accepted: int, duplicates: int, rejected: int) -> None:
        now = datetime.now(timezone.utc)
        with self.session_factory() as s, s.begin():
            row = s.get(PullCursor, self.config.name, with_for_update=True)
            if row is None:
                row = PullCursor(name=self.config.name, pages=0, accepted=0, duplicates=0, rejected=0)
                s.add(row)
            row.kind, row.url, row.cursor, row.updated_at = self.config.kind, self.config.url, cursor, now
            row.pages += 1
            row.accepted += accepted
            row.duplicates += duplicates
            row.rejected += rejected

    def reset_cursor(self) -> bool:
        with self.session_factory() as s, s.begin():
            return s.execute(delete(PullCursor).where(PullCursor.name == self.config.name)).rowcount > 0

    # -- dead letters ------------------------------------------------------------------------

    def _claim_rejected(self, digest: str, sid: str | None, reason: str) -> bool:
        with self.session_factory() as s, s.begin():
            try:
                s.add(PullRejected(name=self.config.name, digest=digest, source_event_id=sid, reason=reason[:4000],
                                   rejected_at=datetime.now(timezone.utc)))
                s.flush()
                return True
            except IntegrityError:
                return False

    def _release_rejected(self, digest: str) -> None:
        with self.session_factory() as s, s.begin():
            s.execute(delete(PullRejected).where(PullRejected.name == self.config.name,
                                                 PullRejected.digest == digest))

    def _place_rejected(self, digest: str, partition: int, offset: int) -> None:
        with self.session_factory() as s, s.begin():
            row = s.get(PullRejected, (self.config.name, digest))
            if row is not None:
                row.partition, row.offset = partition, offset

    async def dead_letter(self, item: Any, problems) -> bool:
        """Send one rejected record to hub.deadletter unless this connector already did."""
        original = json.dumps(redact_personal(self.config.kind, item, self.tokenise), ensure_ascii=False,
                              sort_keys=True, default=str).encode("utf-8")
        digest = hashlib.sha256(original).hexdigest()
        reason = "; ".join(str(p) for p in problems)
        sid = item.get("source_event_id") if isinstance(item, dict) else None
        sid = sid if isinstance(sid, str) else None
        if not await _to_thread(self._claim_rejected, digest, sid[:200] if sid else None, reason):
            return False
        key = _guess_key(self.config.kind, item)
        now = datetime.now(timezone.utc).isoformat()
        try:
            value = self.codec.encode("DeadLetter", {
                "topic": self.topic, "partition": -1, "offset": -1, "key": key, "original": original,
                "reason": reason[:2000], "stage": self.stage, "at": now})
            headers = cloudevent_headers(ce_id=f"{self.stage}:{digest[:32]}", source=f"/zhongshu/{self.stage}",
                                         type=CE_TYPES[DEADLETTER_TOPIC], time=now,
                                         subject=key.decode() if key else None)
            meta = await self.producer.send_and_wait(DEADLETTER_TOPIC, value=value, key=key, headers=headers)
        except Exception as exc:
            await _to_thread(self._release_rejected, digest)
            raise IntakeUnavailable(f"broker did not accept the dead letter of {sid or digest[:12]}: {exc}") from exc
        await _to_thread(self._place_rejected, digest, meta.partition, meta.offset)
        log.warning("pull %s: record %s dead-lettered: %s", self.config.name, sid or f"#{digest[:12]}", reason[:500])
        return True

    # -- one page ----------------------------------------------------------------------------

    async def ingest(self, items: list) -> tuple[int, int, int]:
        """Append the valid records of a page and dead-letter the others, in page order
        (a run of valid records is appended before the next rejected one is dead-lettered).
        (accepted, duplicates, rejected)."""
        accepted = duplicates = rejected = 0
        run: list[dict] = []

        async def flush():
            nonlocal accepted, duplicates, run
            if run:
                result = await self.intake.append(self.route, run, _to_thread)
                accepted += len(result.accepted)
                duplicates += len(result.duplicates)
                run = []

        for item in items:
            try:
                run.append(validate_record(self.config.kind, item, tokenise=self.tokenise))
            except ValidationFailed as exc:
                await flush()
                rejected += await self.dead_letter(item, exc.problems)
        await flush()
        return accepted, duplicates, rejected

    async def step(self, client: httpx.AsyncClient, cursor: str | None) -> tuple[str | None, bool]:
        """Read, ingest and commit one page; (cursor to ask for next, caught up?)."""
        items, nxt = await fetch_page(client, self.config, cursor)
        accepted, duplicates, rejected = await self.ingest(items)
        new_cursor = nxt if nxt is not None else cursor
        await _to_thread(self.commit_cursor, new_cursor, accepted, duplicates, rejected)
        self.stats.pages += 1
        self.stats.accepted += accepted
        self.stats.duplicates += duplicates
        self.stats.rejected += rejected
        log.info("pull %s: page at cursor %r: %d record(s), %d accepted, %d duplicate(s), %d rejected; next %r",
                 self.config.name, cursor, len(items), accepted, duplicates, rejected, new_cursor)
        caught_up = not items or nxt is None or nxt == cursor
        return new_cursor, caught_up

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay before try `attempt + 1`: exponential, capped, jittered to 50–100 %."""
        c = self.config
        delay = min(c.backoff_max, c.backoff_initial * (2 ** (attempt - 1)))
        delay = self._rng.uniform(delay / 2, delay)
        if retry_after is not None:
            delay = max(delay, min(retry_after, c.backoff_max))
        return delay

    async def _page_with_retries(self, client, cursor, stop: asyncio.Event) -> tuple[str | None, bool]:
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                return await self.step(client, cursor)
            except SourceRefused as exc:
                self.stats.failures += 1
                log.error("pull %s: %s refused the request at cursor %r: %s", self.config.name,
                          self.config.url, cursor, exc)
                raise _GiveUp(str(exc)) from exc
            except (SourceUnavailable, IntakeUnavailable, SQLAlchemyError, OSError) as exc:
                self.stats.failures += 1
                retry_after = getattr(exc, "retry_after", None)
                if attempt == self.config.max_attempts:
                    raise _GiveUp(str(exc)) from exc
                delay = self.backoff(attempt, retry_after)
                log.warning("pull %s: try %d/%d at cursor %r failed (%s); again in %.2fs", self.config.name,
                            attempt, self.config.max_attempts, cursor, exc, delay)
                if await _wait(stop, delay):
                    raise _Stopped  # the cursor is still the last committed one
        raise AssertionError("unreachable")

    async def run(self, *, once: bool = False, stop: asyncio.Event | None = None) -> bool:
        """Poll until stopped (or caught up, with once). False if `once` ended by giving up."""
        stop = stop or asyncio.Event()
        client = self._client or httpx.AsyncClient(timeout=httpx.Timeout(self.config.timeout),
                                                   headers=self.config.request_headers(), follow_redirects=True)
        try:
            cursor = await _to_thread(self.load_cursor)
            log.info("pull %s: %s → %s, starting at cursor %r", self.config.name, self.config.url, self.topic, cursor)
            while not stop.is_set():
                try:
                    cursor, caught_up = await self._page_with_retries(client, cursor, stop)
                except _Stopped:
                    break
                except _GiveUp as exc:
                    self.stats.gave_up += 1
                    if once:
                        log.error("pull %s: giving up at cursor %r after %d tries: %s", self.config.name, cursor,
                                  self.config.max_attempts, exc)
                        return False
                    log.error("pull %s: giving up at cursor %r for now (%s); next try in %gs", self.config.name,
                              cursor, exc, self.config.interval)
                    await _wait(stop, self.config.interval)
                    continue
                if caught_up:
                    if once:
                        break
                    await _wait(stop, self.config.interval)
            return True
        finally:
            if self._client is None:
                await client.aclose()


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if `stop` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
        return True
    except asyncio.TimeoutError:
        return stop.is_set()


# ---------------------------------------------------------------- process entry

async def run_connectors(settings, configs: list[PullConfig], *, once: bool = False,
                         stop: asyncio.Event | None = None, reset: bool = False) -> dict[str, tuple[bool, PullStats]]:
    """Run connectors sharing one producer and one database engine (for `zhongshu pull`)."""
    from sqlalchemy.orm import sessionmaker

    from projections.db import make_engine
    from projections.schema import ensure_schema
    from schemas.codec import Codec

    from . import kafka as kafka_edge
    from .privacy import Tokeniser

    engine = make_engine(settings.db_url)
    try:
        await asyncio.to_thread(ensure_schema, engine)
        await asyncio.to_thread(ensure_tables, engine)
        session_factory = sessionmaker(engine, expire_on_commit=False)
        codec, tokenise = Codec(), Tokeniser(settings.secret_bytes())
        producer = kafka_edge.producer(settings.bootstrap, settings.kafka_client_kwargs())
        await producer.start()
        try:
            intake = make_intake(settings, session_factory, producer, codec)
            connectors = [PullConnector(c, session_factory=session_factory, producer=producer, codec=codec,
                                        tokenise=tokenise, intake=intake) for c in configs]
            if reset:
                for conn in connectors:
                    if await asyncio.to_thread(conn.reset_cursor):
                        log.warning("pull %s: stored cursor forgotten; starting from the beginning", conn.config.name)
            tasks = [asyncio.create_task(conn.run(once=once, stop=stop), name=f"pull:{conn.config.name}")
                     for conn in connectors]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            failed = [t for t in tasks if t.done() and t.exception() is not None]
            if failed:  # a bug, not a source outage: stop the others and let the supervisor restart us
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise failed[0].exception()
            return {conn.config.name: (t.result(), conn.stats) for conn, t in zip(connectors, tasks)}
        finally:
            await stop_producer(producer)
    finally:
        engine.dispose()
