"""Credit-trigger webhooks (信用修复提示推送): outbox, signed delivery, retries, receipts.

Flow: the projector writes each credit trigger and, in the same transaction, one outbox row
per matching subscriber (`enqueue_deliveries`). `zhongshu webhooks run` claims due rows
(FOR UPDATE SKIP LOCKED on PostgreSQL, a claim-by-update on SQLite, so several delivery
processes can share one outbox), POSTs the trigger JSON signed with the subscriber's secret,
and records every attempt. A 2xx answer is 已送达 (delivered); anything else, a timeout or a
connection error is retried with exponential backoff and jitter until `max_attempts`, then
the delivery is 死信 (dead) until an operator retries it. The credit platform's receipt (a
credit event of kind `trigger_receipt`, details {"trigger_id": …}) is turned into 已确认
(acknowledged) by the projector (`acknowledge_receipt`).

Delivery is at-least-once: a receiver that answers late or not at all gets the same trigger
again, with the same `Idempotency-Key` (the trigger_id) and the same body, and must dedupe.

Request (see `request_headers`):
    POST <url>
    Content-Type: application/json
    Idempotency-Key: <trigger_id>
    X-Zhongshu-Delivery: <delivery_id>
    X-Zhongshu-Timestamp: <unix seconds>
    X-Zhongshu-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
    body: the CreditTrigger record as JSON (schemas/credit_trigger.avsc; only its fields)

Wiring into the projector (projections/projector.py), either
    from connectors import webhooks; webhooks.install(HANDLERS)      # wraps both handlers
or, by hand, `webhooks.enqueue_deliveries(s, v)` in project_trigger and
`webhooks.acknowledge_receipt(s, v)` in the credit.events handler; credit.events must be
among the projector's topics for receipts to be seen.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
import re
import secrets
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Callable

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, sessionmaker

from .webhook_models import (
    ACKNOWLEDGED, DEAD, DELIVERED, IN_FLIGHT, PENDING, STATE_LABELS, STATES, WebhookAttempt, WebhookOutbox,
    WebhookSubscriber, ensure_tables,
)

log = logging.getLogger("zhongshu.webhooks")

# The credit triggers of RULES.md (credit.repair-triggers); CR_REPAIR_SLA is a lead, not a trigger.
TRIGGER_CODES = ("CR_REPAIR_ELIGIBLE", "CR_PUBLICITY_EXPIRED", "CR_WITHDRAW_NOT_PUBLISHABLE", "CR_WITHDRAW_REVOKED")
RECEIPT_KIND = "trigger_receipt"
SIGNATURE_HEADER = "X-Zhongshu-Signature"
TIMESTAMP_HEADER = "X-Zhongshu-Timestamp"
DELIVERY_HEADER = "X-Zhongshu-Delivery"
USER_AGENT = "zhongshu-webhooks/0.1"

_SUBSCRIBER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


# ---------------------------------------------------------------- configuration

@dataclass(frozen=True)
class WebhookConfig:
    """`[webhooks]` in zhongshu.toml; each key also as ZHONGSHU_WEBHOOKS_<KEY> (environment wins)."""

    timeout: float = 10.0          # seconds per HTTP phase (connect, write, read); a timeout is a failed attempt
    max_attempts: int = 12         # attempts before 死信; an operator retry starts a new round
    backoff_base: float = 2.0      # delay after the first failure, seconds
    backoff_factor: float = 2.0    # each further failure multiplies the delay
    backoff_cap: float = 600.0     # no delay is longer than this (10 min)
    jitter: float = 0.5            # the delay is drawn from [d·(1−jitter), d], so retries of many rows spread out
    poll_interval: float = 1.0     # seconds between outbox polls when nothing is due
    concurrency: int = 8           # requests in flight per delivery process
    batch_size: int = 50           # rows claimed per poll at most
    lease_margin: float = 30.0     # an in-flight claim older than timeout + this is taken to be abandoned

    def __post_init__(self):
        problems = []
        if self.timeout <= 0:
            problems.append(f"timeout {self.timeout}: must be > 0")
        if self.max_attempts < 1:
            problems.append(f"max_attempts {self.max_attempts}: must be ≥ 1")
        if self.backoff_base <= 0 or self.backoff_factor < 1 or self.backoff_cap < self.backoff_base:
            problems.append(f"backoff base {self.backoff_base} / factor {self.backoff_factor} / cap "
                            f"{self.backoff_cap}: need base > 0, factor ≥ 1, cap ≥ base")
        if not 0 <= self.jitter <= 1:
            problems.append(f"jitter {self.jitter}: must be within [0, 1]")
        if self.concurrency < 1 or self.batch_size < 1 or self.poll_interval <= 0:
            problems.append("concurrency, batch_size and poll_interval must be positive")
        if problems:
            raise ValueError("webhooks configuration: " + "; ".join(problems))

    @classmethod
    def from_settings(cls, settings=None, environ=None) -> "WebhookConfig":
        values: dict = dict((getattr(settings, "extra", None) or {}).get("webhooks") or {})
        env = os.environ if environ is None else environ
        known = {f.name: f for f in fields(cls)}
        for name in known:
            if f"ZHONGSHU_WEBHOOKS_{name.upper()}" in env:
                values[name] = env[f"ZHONGSHU_WEBHOOKS_{name.upper()}"]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"[webhooks] unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
        typed = {k: (int if isinstance(known[k].default, int) else float)(v) for k, v in values.items()}
        return cls(**typed)


def backoff_delay(failures: int, config: WebhookConfig = WebhookConfig(), rng: random.Random | None = None) -> float:
    """Seconds to wait after the `failures`-th consecutive failure (1-based):
    min(cap, base·factor^(failures−1)), less a random share of up to `jitter`."""
    if failures < 1:
        raise ValueError(f"failures {failures}: counts from 1")
    exponent = min(failures - 1, 64)  # beyond 2^64 the cap has long won; avoid float overflow
    nominal = min(config.backoff_cap, config.backoff_base * config.backoff_factor ** exponent)
    draw = (rng or random).random()
    return nominal * (1 - config.jitter * draw)


def nominal_schedule(config: WebhookConfig = WebhookConfig()) -> list[float]:
    """The delays between the attempts of one round without jitter (max_attempts − 1 of them)."""
    return [min(config.backoff_cap, config.backoff_base * config.backoff_factor ** min(n, 64))
            for n in range(config.max_attempts - 1)]


# ---------------------------------------------------------------- signing and the body

def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>` — the X-Zhongshu-Signature value."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str | None, body: bytes, signature: str | None,
                     tolerance: float = 300.0, now: float | None = None) -> bool:
    """What a receiver should do: recompute, compare in constant time, refuse stale timestamps
    (a captured request cannot be replayed later than `tolerance` seconds)."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def request_headers(secret: str, delivery_id: str, trigger_id: str, body: bytes, timestamp: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Idempotency-Key": trigger_id,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        "User-Agent": USER_AGENT,
    }


def _trigger_fields() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from schemas.codec import SCHEMA_DIR

    schema = json.loads((Path(SCHEMA_DIR) / "credit_trigger.avsc").read_text(encoding="utf-8"))
    top = tuple(f["name"] for f in schema["fields"])
    evidence = next(f for f in schema["fields"] if f["name"] == "evidence")["type"]["items"]
    return top, tuple(f["name"] for f in evidence["fields"])


TRIGGER_FIELDS, EVIDENCE_FIELDS = _trigger_fields()


def trigger_body(trigger: dict) -> str:
    """The JSON text sent for a trigger: only the CreditTrigger schema's fields, in schema
    order. Triggers carry no complainant data; the whitelist keeps it that way even if a
    caller hands over a richer dict."""
    out = {}
    for name in TRIGGER_FIELDS:
        value = trigger.get(name)
        if name == "evidence":
            value = [{k: e.get(k) for k in EVIDENCE_FIELDS} for e in (value or [])]
        out[name] = value
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"),
                      default=lambda v: str(v) if isinstance(v, Decimal) else repr(v))


def delivery_id_for(subscriber_id: str, trigger_id: str) -> str:
    return hashlib.sha256(f"{subscriber_id}\x1f{trigger_id}".encode()).hexdigest()[:32]


def uscc_region(uscc: str | None) -> str | None:
    """Characters 3–8 of a USCC: the registering authority's 行政区划代码 (GB 32100)."""
    if uscc and len(uscc) == 18 and uscc[2:8].isdigit():
        return uscc[2:8]
    return None  # a natural person's trigger carries an id token, which has no region


def subscriber_wants(sub: WebhookSubscriber, trigger: dict) -> bool:
    from projections.auth import scope_prefix

    if sub.codes and trigger.get("code") not in sub.codes:
        return False
    if sub.region_code:
        region = uscc_region(trigger.get("uscc"))
        return region is not None and region.startswith(scope_prefix(sub.region_code))
    return True


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------- projector side

def _rebuilding(session: Session) -> bool:
    """A projection rebuild replays every trigger and receipt ever logged into fresh side tables
    (projections/schema.py), flagged by `session.info["replay"]` or a schema-translated engine;
    the outbox is not among those tables and the live projector, which keeps running
    meanwhile, enqueues and acknowledges — so a rebuild does neither."""
    if session.info.get("replay"):
        return True
    return bool(session.get_bind().get_execution_options().get("schema_translate_map"))


def _insert_if_absent(session: Session, row: dict) -> bool:
    """INSERT … ON CONFLICT DO NOTHING, straight to the database: a trigger seen twice in one
    projector batch (or by two projectors) cannot collide, whatever the session's autoflush."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(WebhookOutbox).values(**row).on_conflict_do_nothing(index_elements=["delivery_id"])
    return session.execute(stmt).rowcount == 1


def _outbox_row(sub_id: str, trigger: dict, body: str, now: datetime) -> dict:
    return dict(delivery_id=delivery_id_for(sub_id, trigger["trigger_id"]), subscriber_id=sub_id,
                trigger_id=trigger["trigger_id"], code=trigger["code"], uscc=trigger["uscc"], body=body,
                state=PENDING, attempts=0, next_attempt_at=now, created_at=now)


def enqueue_deliveries(session: Session, trigger: dict) -> int:
    """Add an outbox row per active, matching subscriber that has none for this trigger yet;
    call inside the projector's transaction. Returns the number of rows added (0 on replay)."""
    if _rebuilding(session):
        return 0
    subs = session.execute(select(WebhookSubscriber).where(WebhookSubscriber.active.is_(True))
                           .order_by(WebhookSubscriber.subscriber_id)).scalars().all()
    wanted = [sub.subscriber_id for sub in subs if subscriber_wants(sub, trigger)]
    if not wanted:
        return 0
    body, now = trigger_body(trigger), _now()
    return sum(_insert_if_absent(session, _outbox_row(sid, trigger, body, now)) for sid in wanted)


def acknowledge_receipt(session: Session, credit_event: dict) -> bool:
    """A `trigger_receipt` credit event closes the trigger's deliveries as 已确认 (also a
    pending, in-flight or dead one: the platform has it). details may narrow it to one
    `delivery_id` or `subscriber_id`. Returns whether any delivery changed."""
    if credit_event.get("kind") != RECEIPT_KIND or _rebuilding(session):
        return False
    details = credit_event.get("details") or {}
    trigger_id = details.get("trigger_id")
    sid = credit_event.get("source_event_id")
    if not trigger_id:
        log.warning("receipt %s has no details.trigger_id; ignored", sid)
        return False
    query = select(WebhookOutbox.delivery_id, WebhookOutbox.uscc).where(
        WebhookOutbox.trigger_id == str(trigger_id), WebhookOutbox.state != ACKNOWLEDGED)
    if details.get("delivery_id"):
        query = query.where(WebhookOutbox.delivery_id == str(details["delivery_id"]))
    if details.get("subscriber_id"):
        query = query.where(WebhookOutbox.subscriber_id == str(details["subscriber_id"]))
    found = session.execute(query).all()
    if not found:
        log.info("receipt %s for trigger %s: no open webhook delivery", sid, trigger_id)
        return False
    ids = []
    for delivery_id, uscc in found:
        if uscc_region(uscc) and credit_event.get("uscc") != uscc:
            log.warning("receipt %s names uscc %s but trigger %s is about %s; ignored",
                        sid, credit_event.get("uscc"), trigger_id, uscc)
        else:
            ids.append(delivery_id)
    if not ids:
        return False
    # Core UPDATE, executed now: a second receipt in the same batch sees the first one's effect
    session.execute(update(WebhookOutbox)
                    .where(WebhookOutbox.delivery_id.in_(ids), WebhookOutbox.state != ACKNOWLEDGED)
                    .values(state=ACKNOWLEDGED, acknowledged_at=_time(credit_event.get("at")) or _now(),
                            receipt_event_id=sid, next_attempt_at=None, claim_token=None)
                    .execution_options(synchronize_session=False))
    return True


def _time(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def install(handlers: dict | None = None) -> dict:
    """Wrap the projector's handlers (default: projections.projector.HANDLERS) so triggers
    enqueue deliveries and receipts acknowledge them, in the projector's transaction.
    Idempotent. The projector must also consume credit.events for receipts to arrive."""
    if handlers is None:
        from projections.projector import HANDLERS as handlers  # noqa: N811

    inner = handlers.get("credit.repair-triggers")
    if not getattr(inner, "_zhongshu_webhooks", False):
        def project_trigger_and_enqueue(s, v, msg):
            if inner is not None:
                inner(s, v, msg)
            enqueue_deliveries(s, v)
        project_trigger_and_enqueue._zhongshu_webhooks = True
        handlers["credit.repair-triggers"] = project_trigger_and_enqueue

    inner_credit = handlers.get("credit.events")
    if not getattr(inner_credit, "_zhongshu_webhooks", False):
        def project_credit_and_acknowledge(s, v, msg):
            if inner_credit is not None:
                inner_credit(s, v, msg)
            if v.get("kind") == RECEIPT_KIND:
                acknowledge_receipt(s, v)
        project_credit_and_acknowledge._zhongshu_webhooks = True
        handlers["credit.events"] = project_credit_and_acknowledge
    return handlers


# ---------------------------------------------------------------- subscribers and operators

class WebhookError(ValueError):
    """A request the outbox cannot honour; `status` is the HTTP answer it maps to."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def validate_subscriber(url, secret, codes=None, region_code=None, subscriber_id=None) -> list[dict]:
    """Every problem with a subscriber definition, as {field, value, expected}."""
    import httpx

    problems = []
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else None
    except Exception:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        problems.append({"field": "url", "value": url, "expected": "an absolute http:// or https:// URL"})
    if not isinstance(secret, str) or not 16 <= len(secret) <= 500:
        problems.append({"field": "secret", "value": "***" if isinstance(secret, str) else secret,
                         "expected": "a shared secret of 16 to 500 characters"})
    if codes is not None:
        if not isinstance(codes, list) or not codes or any(c not in TRIGGER_CODES for c in codes):
            problems.append({"field": "codes", "value": codes,
                             "expected": f"a non-empty list of trigger codes from {', '.join(TRIGGER_CODES)}"})
    if region_code is not None and not (isinstance(region_code, str) and len(region_code) == 6
                                        and region_code.isdigit()):
        problems.append({"field": "region_code", "value": region_code, "expected": "a 6-digit 行政区划代码"})
    if subscriber_id is not None and not (isinstance(subscriber_id, str) and _SUBSCRIBER_ID.fullmatch(subscriber_id)):
        problems.append({"field": "subscriber_id", "value": subscriber_id,
                         "expected": "1–64 characters of letters, digits, '.', '_' or '-'"})
    return problems


def put_subscriber(session: Session, *, url: str, secret: str, codes=None, region_code=None,
                   subscriber_id: str | None = None, label: str | None = None,
                   backfill: bool = False) -> tuple[WebhookSubscriber, bool, int]:
    """Create or replace (and reactivate) a subscriber. With `backfill`, triggers already
    projected are enqueued for it as well. Returns (subscriber, created, backfilled)."""
    problems = validate_subscriber(url, secret, codes, region_code, subscriber_id)
    if problems:
        raise WebhookError("; ".join(f"{p['field']}: expected {p['expected']}" for p in problems))
    now = _now()
    subscriber_id = subscriber_id or f"ws-{secrets.token_hex(4)}"
    row = session.get(WebhookSubscriber, subscriber_id)
    created = row is None
    if created:
        row = WebhookSubscriber(subscriber_id=subscriber_id, created_at=now)
        session.add(row)
    row.url, row.secret, row.codes, row.region_code = url, secret, list(codes) if codes else None, region_code
    row.label, row.active, row.updated_at = label, True, now
    session.flush()
    return row, created, backfill_subscriber(session, row) if backfill else 0


def backfill_subscriber(session: Session, sub: WebhookSubscriber) -> int:
    from projections.models import CreditTrigger

    added = 0
    for trig in session.execute(select(CreditTrigger).order_by(CreditTrigger.detected_at)).scalars():
        body = trig.body or {}
        if subscriber_wants(sub, body):
            added += _insert_if_absent(session, _outbox_row(sub.subscriber_id, body, trigger_body(body), _now()))
    return added


def deactivate_subscriber(session: Session, subscriber_id: str) -> WebhookSubscriber:
    """Stop sending to a subscriber; its open deliveries wait (they resume if it is re-added)."""
    row = session.get(WebhookSubscriber, subscriber_id)
    if row is None:
        raise WebhookError(f"no webhook subscriber {subscriber_id}", 404)
    row.active, row.updated_at = False, _now()
    return row


def retry_delivery(session: Session, delivery_id: str) -> WebhookOutbox:
    """Operator retry: a 死信 (or still pending) delivery is due now, with a fresh round of attempts."""
    row = session.get(WebhookOutbox, delivery_id)
    if row is None:
        raise WebhookError(f"no webhook delivery {delivery_id}", 404)
    if row.state not in (DEAD, PENDING):
        raise WebhookError(f"delivery {delivery_id} is {row.state} ({STATE_LABELS[row.state]}); only a dead "
                           f"or pending delivery can be retried", 409)
    row.state, row.attempts, row.next_attempt_at, row.claim_token = PENDING, 0, _now(), None
    return row


def parse_state(value: str | None) -> str | None:
    if value is None:
        return None
    for state, label in STATE_LABELS.items():
        if value in (state, label):
            return state
    raise WebhookError(f"state {value!r}: expected one of " +
                       ", ".join(f"{s} ({STATE_LABELS[s]})" for s in STATES))


def list_deliveries(session: Session, *, trigger_id=None, state=None, subscriber_id=None,
                    region_prefix: str | None = None, page: int = 1, page_size: int = 50) -> list[WebhookOutbox]:
    """Newest first; `page_size + 1` rows so the caller can tell whether there is a next page."""
    q = select(WebhookOutbox)
    for col, val in ((WebhookOutbox.trigger_id, trigger_id), (WebhookOutbox.state, parse_state(state)),
                     (WebhookOutbox.subscriber_id, subscriber_id)):
        if val is not None:
            q = q.where(col == val)
    if region_prefix:
        q = q.where(WebhookOutbox.uscc.like("__" + region_prefix + "%"))
    q = q.order_by(WebhookOutbox.created_at.desc(), WebhookOutbox.delivery_id)
    return list(session.execute(q.offset((page - 1) * page_size).limit(page_size + 1)).scalars())


def attempts_of(session: Session, delivery_ids: list[str]) -> dict[str, list[WebhookAttempt]]:
    out: dict[str, list[WebhookAttempt]] = {d: [] for d in delivery_ids}
    if delivery_ids:
        for a in session.execute(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids))
                                 .order_by(WebhookAttempt.attempt_id)).scalars():
            out[a.delivery_id].append(a)
    return out


def _iso(dt):
    return dt.isoformat() if dt else None


def subscriber_json(r: WebhookSubscriber) -> dict:
    return {"subscriber_id": r.subscriber_id, "url": r.url, "codes": r.codes, "region_code": r.region_code,
            "active": r.active, "label": r.label, "secret_set": bool(r.secret),
            "created_at": _iso(r.created_at), "updated_at": _iso(r.updated_at)}


def delivery_json(r: WebhookOutbox, attempts: list[WebhookAttempt] | None = None) -> dict:
    body = {"delivery_id": r.delivery_id, "subscriber_id": r.subscriber_id, "trigger_id": r.trigger_id,
            "code": r.code, "uscc": r.uscc, "state": r.state, "state_label": STATE_LABELS[r.state],
            "attempts": r.attempts, "next_attempt_at": _iso(r.next_attempt_at), "last_status": r.last_status,
            "last_error": r.last_error, "created_at": _iso(r.created_at), "delivered_at": _iso(r.delivered_at),
            "acknowledged_at": _iso(r.acknowledged_at), "receipt_event_id": r.receipt_event_id}
    if attempts is not None:
        body["log"] = [{"at": _iso(a.at), "url": a.url, "status_code": a.status_code, "error": a.error,
                        "duration_ms": a.duration_ms} for a in attempts]
    return body


# ---------------------------------------------------------------- delivery process

@dataclass(frozen=True)
class Claim:
    delivery_id: str
    trigger_id: str
    body: str
    url: str
    secret: str
    attempts: int
    token: str


class Dispatcher:
    """Claims due outbox rows and POSTs them; several may run against one database."""

    def __init__(self, engine, config: WebhookConfig = WebhookConfig(), client=None,
                 rng: random.Random | None = None, clock: Callable[[], datetime] = _now):
        import httpx

        ensure_tables(engine)
        self.Session = sessionmaker(engine, expire_on_commit=False)
        self.dialect = engine.dialect.name
        self.config = config
        self.client = client or httpx.Client(
            timeout=config.timeout, follow_redirects=False,  # a redirect is an answer to fix, not to follow
            limits=httpx.Limits(max_connections=config.concurrency * 2,
                                max_keepalive_connections=config.concurrency))
        self.rng = rng or random.Random()
        self.clock = clock
        self.stopping = threading.Event()
        self.outcomes: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- claiming

    def claim(self, limit: int) -> list[Claim]:
        now = self.clock()
        token = secrets.token_hex(16)
        lease_until = now + timedelta(seconds=self.config.timeout + self.config.lease_margin)
        due = and_(WebhookOutbox.state.in_((PENDING, IN_FLIGHT)), WebhookOutbox.next_attempt_at <= now,
                   WebhookOutbox.subscriber_id.in_(select(WebhookSubscriber.subscriber_id)
                                                   .where(WebhookSubscriber.active.is_(True))))
        pick = select(WebhookOutbox.delivery_id).where(due).order_by(WebhookOutbox.next_attempt_at).limit(limit)
        claimed = dict(state=IN_FLIGHT, claim_token=token, next_attempt_at=lease_until)
        with self.Session() as s, s.begin():
            if self.dialect == "postgresql":
                ids = s.execute(pick.with_for_update(skip_locked=True, of=WebhookOutbox)).scalars().all()
                if not ids:
                    return []
                s.execute(update(WebhookOutbox).where(WebhookOutbox.delivery_id.in_(ids)).values(**claimed)
                          .execution_options(synchronize_session=False))
            else:
                # SQLite has one writer at a time: a single UPDATE re-checks `due` under the write
                # lock, so two processes never claim the same row.
                s.execute(update(WebhookOutbox).where(WebhookOutbox.delivery_id.in_(pick), due)
                          .values(**claimed).execution_options(synchronize_session=False))
            rows = s.execute(select(WebhookOutbox, WebhookSubscriber)
                             .join(WebhookSubscriber, WebhookSubscriber.subscriber_id == WebhookOutbox.subscriber_id)
                             .where(WebhookOutbox.claim_token == token)).all()
        return [Claim(o.delivery_id, o.trigger_id, o.body, sub.url, sub.secret, o.attempts, token)
                for o, sub in rows]

    # -- one attempt

    def deliver(self, c: Claim) -> str:
        import httpx

        body = c.body.encode("utf-8")
        started = self.clock()
        t0 = time.monotonic()
        status, error = None, None
        try:
            headers = request_headers(c.secret, c.delivery_id, c.trigger_id, body, str(int(time.time())))
            r = self.client.post(c.url, content=body, headers=headers)
            status = r.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}: {r.text[:200]}"
        except httpx.TimeoutException as exc:
            error = f"timeout after {self.config.timeout:g}s ({type(exc).__name__})"
        except Exception as exc:  # connection refused, reset, bad URL …: all count as a failed attempt
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = int((time.monotonic() - t0) * 1000)
        return self.record(c, started, status, error, duration_ms)

    def record(self, c: Claim, started: datetime, status: int | None, error: str | None, duration_ms: int) -> str:
        now = self.clock()
        attempts = c.attempts + 1
        values: dict = dict(attempts=attempts, last_status=status, last_error=error, claim_token=None)
        if error is None:
            outcome = DELIVERED
            values.update(state=DELIVERED, delivered_at=now, next_attempt_at=None)
        elif attempts >= self.config.max_attempts:
            outcome = DEAD
            values.update(state=DEAD, next_attempt_at=None)
        else:
            outcome = "retry"
            with self._lock:
                delay = backoff_delay(attempts, self.config, self.rng)
            values.update(state=PENDING, next_attempt_at=now + timedelta(seconds=delay))
        with self.Session() as s, s.begin():
            s.add(WebhookAttempt(delivery_id=c.delivery_id, at=started, url=c.url, status_code=status,
                                 error=error, duration_ms=duration_ms))
            # only our own claim: a receipt (acknowledged) or an operator retry meanwhile wins
            res = s.execute(update(WebhookOutbox)
                            .where(WebhookOutbox.delivery_id == c.delivery_id, WebhookOutbox.claim_token == c.token,
                                   WebhookOutbox.state == IN_FLIGHT)
                            .values(**values).execution_options(synchronize_session=False))
        if res.rowcount == 0:
            outcome = "superseded"
        if outcome == DEAD:
            log.error("delivery %s of trigger %s is dead (死信) after %d attempts: %s",
                      c.delivery_id, c.trigger_id, attempts, error)
        elif error:
            log.info("delivery %s of trigger %s attempt %d failed: %s", c.delivery_id, c.trigger_id, attempts, error)
        with self._lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return outcome

    # -- loop

    def run(self, once: bool = False) -> None:
        """Keep up to `concurrency` requests in flight; with `once`, return when nothing is due."""
        inflight: set = set()
        with ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="webhook") as pool:
            try:
                while not self.stopping.is_set():
                    want = min(self.config.concurrency - len(inflight), self.config.batch_size)
                    claims: list[Claim] = []
                    if want > 0:
                        try:
                            claims = self.claim(want)
                        except Exception:  # database away for a moment: say so, wait, poll again
                            log.exception("claiming from the webhook outbox failed; retrying")
                            self.stopping.wait(self.config.poll_interval)
                            continue
                    inflight |= {pool.submit(self.deliver, c) for c in claims}
                    if not inflight:
                        if once:
                            return
                        self.stopping.wait(self.config.poll_interval)
                        continue
                    # a full claim may mean more rows are due now: look again at once if there is room
                    more_due = want > 0 and len(claims) == want and len(inflight) < self.config.concurrency
                    done, still = wait(inflight, timeout=0 if more_due else self.config.poll_interval,
                                       return_when=FIRST_COMPLETED)
                    inflight = set(still)
                    for f in done:
                        if f.exception() is not None:
                            # the claim's lease runs out and another poll takes the row again
                            log.error("recording a webhook attempt failed", exc_info=f.exception())
            finally:
                wait(inflight)  # a stop lets the requests under way finish (each ends by its timeout)

    def close(self):
        self.client.close()


# ---------------------------------------------------------------- CLI: zhongshu webhooks …

UP_CHILDREN = [("webhooks", ["webhooks", "run"])]


def _session(settings_loader, args):
    from projections.db import make_engine
    from projections.schema import ensure_schema

    settings = settings_loader(args)
    if settings.db_url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)  # the embedded default's file lives there
    engine = make_engine(settings.db_url)
    ensure_schema(engine)
    ensure_tables(engine)
    return engine


def cmd_add(settings_loader, args) -> int:
    secret = sys.stdin.readline().strip() if args.secret == "-" else args.secret
    engine = _session(settings_loader, args)
    try:
        with Session(engine) as s, s.begin():
            row, created, backfilled = put_subscriber(
                s, url=args.url, secret=secret, codes=args.codes, region_code=args.region,
                subscriber_id=args.id, label=args.label, backfill=args.backfill)
            out = subscriber_json(row)
    except WebhookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out["backfilled"] = backfilled
    print(json.dumps(out, ensure_ascii=False))
    print(f"subscriber {out['subscriber_id']} {'added' if created else 'updated'}"
          + (f"; {backfilled} earlier trigger(s) enqueued" if args.backfill else ""), file=sys.stderr)
    return 0


def cmd_list(settings_loader, args) -> int:
    engine = _session(settings_loader, args)
    with Session(engine) as s:
        for row in s.execute(select(WebhookSubscriber).order_by(WebhookSubscriber.subscriber_id)).scalars():
            print(json.dumps(subscriber_json(row), ensure_ascii=False))
    return 0


def cmd_remove(settings_loader, args) -> int:
    engine = _session(settings_loader, args)
    try:
        with Session(engine) as s, s.begin():
            deactivate_subscriber(s, args.subscriber_id)
    except WebhookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"subscriber {args.subscriber_id} deactivated; its open deliveries wait until it is added again")
    return 0


def cmd_retry(settings_loader, args) -> int:
    engine = _session(settings_loader, args)
    try:
        with Session(engine) as s, s.begin():
            row = retry_delivery(s, args.delivery_id)
            out = delivery_json(row)
    except WebhookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, ensure_ascii=False))
    return 0


def cmd_deliveries(settings_loader, args) -> int:
    engine = _session(settings_loader, args)
    try:
        with Session(engine) as s:
            rows = list_deliveries(s, trigger_id=args.trigger_id, state=args.state, page_size=args.limit)
            for row in rows[:args.limit]:
                print(json.dumps(delivery_json(row), ensure_ascii=False))
    except WebhookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_run(settings_loader, args) -> int:
    settings = settings_loader(args)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = WebhookConfig.from_settings(settings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = _session(settings_loader, args)
    dispatcher = Dispatcher(engine, config)
    signal.signal(signal.SIGTERM, lambda *_: dispatcher.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: dispatcher.stopping.set())
    log.info("delivering credit-trigger webhooks from %s (timeout %gs, %d attempts, backoff %gs×%g ≤ %gs)",
             settings.db_url.split("@")[-1], config.timeout, config.max_attempts, config.backoff_base,
             config.backoff_factor, config.backoff_cap)
    try:
        dispatcher.run(once=args.once)
    finally:
        dispatcher.close()
        log.info("webhooks stopped; outcomes %s", dispatcher.outcomes)
    return 0


def register(subparsers, settings_loader) -> None:
    wh = subparsers.add_parser("webhooks", help="credit-trigger webhooks (信用修复提示推送)")
    sub = wh.add_subparsers(dest="sub", required=True)

    add = sub.add_parser("add", help="add (or replace) a subscriber")
    add.add_argument("--url", required=True, help="endpoint the triggers are POSTed to")
    add.add_argument("--secret", required=True, help="shared HMAC secret (16–500 chars); '-' reads it from stdin")
    add.add_argument("--codes", nargs="+", choices=TRIGGER_CODES, help="only these trigger codes (default: all)")
    add.add_argument("--region", help="only enterprises registered in this 6-digit region (USCC chars 3–8)")
    add.add_argument("--id", help="subscriber id (default: generated); an existing id is replaced and reactivated")
    add.add_argument("--label")
    add.add_argument("--backfill", action="store_true", help="also enqueue triggers projected before now")
    add.set_defaults(func=partial(cmd_add, settings_loader))

    sub.add_parser("list", help="list subscribers (secrets are not shown)").set_defaults(
        func=partial(cmd_list, settings_loader))
    rm = sub.add_parser("remove", help="deactivate a subscriber")
    rm.add_argument("subscriber_id")
    rm.set_defaults(func=partial(cmd_remove, settings_loader))

    run = sub.add_parser("run", help="run the delivery process")
    run.add_argument("--once", action="store_true", help="return when nothing is due")
    run.set_defaults(func=partial(cmd_run, settings_loader))

    retry = sub.add_parser("retry", help="retry a dead (死信) delivery now")
    retry.add_argument("delivery_id")
    retry.set_defaults(func=partial(cmd_retry, settings_loader))

    dl = sub.add_parser("deliveries", help="delivery log, newest first")
    dl.add_argument("--trigger-id")
    dl.add_argument("--state", help="pending/in_flight/delivered/acknowledged/dead or 待投递/投递中/已送达/已确认/死信")
    dl.add_argument("--limit", type=int, default=50)
    dl.set_defaults(func=partial(cmd_deliveries, settings_loader))
