"""Intake (接入): validate, tokenise, deduplicate by source_event_id, append to Kafka.

Framework-free so the HTTP routes, the file importer and the pull connector share it.

Every source_event_id is appended once (exactly one record per ce_id on the topic), through
an API crash, a broker outage or a database outage. The intake ledger row is the claim:

1. A request claims the id (insert; unique key) with the partition the record will go to and no
   offset yet, then hands the record to the producer. Once the broker confirms, the offset is
   stored: answer 202.
2. A repeat of an id with an offset answers 200 with that position. A repeat of an id this
   process is still appending waits for that append (concurrent duplicates: one 202, the rest
   200) — at most `send_timeout`, then 503 with Retry-After.
3. aiokafka's idempotent producer retries a batch until the broker takes it, so a broker outage
   cannot be told from a slow broker: after `send_timeout` the request answers 503, the claim
   stays and the record is still appended when the broker returns (its position is stored then);
   a retry learns it (200). A record the producer never took releases its claim; one whose
   append failed after the producer took it (it may have reached the broker) is in doubt: its
   claim is aged past the lease, so the retry looks in the log first (point 4). A producer whose
   idempotence state broke (a sequence gap after a long outage) is replaced.
4. A claim without an offset that no request of this process holds and that is older than
   `claim_lease` was left by an API process that died mid-append: the record may or may not be
   in the log. Its partition is scanned for the ce_id (from before the claim); found: its
   position is stored (200); not found: the claim is taken over (compare-and-set) and the
   record appended (202).
5. Database errors answer 503 (IntakeUnavailable) like broker errors: nothing half-done is
   acknowledged, and the ledger decides on retry.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from aiokafka.errors import InvalidProducerEpoch, InvalidProducerIdMapping, OutOfOrderSequenceNumber, ProducerFenced
from sqlalchemy import bindparam, delete, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from projections.models import IntakeLedger
from schemas.codec import CE_TYPES, TOPIC_SCHEMAS, cloudevent_headers

from . import kafka as kafka_edge
from .validation import Problem, ValidationFailed, validate_record

log = logging.getLogger("zhongshu.intake")

# a producer that answered one of these fails every later record too
BROKEN_PRODUCER = (OutOfOrderSequenceNumber, InvalidProducerEpoch, InvalidProducerIdMapping, ProducerFenced)

CLAIM_ROWS = 1000  # rows per claim statement on SQLite (6 parameters each; SQLite allows 32,766)

# PostgreSQL: claims and positions as arrays, so the statement text never changes with the
# number of rows (SQLAlchemy compiled a multi-row VALUES afresh for every group: 12 % of the
# API's CPU at 500 records/s)
PG_CLAIM = text(
    'INSERT INTO intake_ledger (kind, source_event_id, topic, key, "partition", accepted_at) '
    "SELECT :kind, u.sid, u.topic, u.key, u.part, :now "
    "FROM unnest(CAST(:sids AS text[]), CAST(:topics AS text[]), CAST(:keys AS text[]), CAST(:parts AS int[])) "
    "AS u(sid, topic, key, part) "
    "ON CONFLICT (kind, source_event_id) DO NOTHING RETURNING source_event_id")
# route name -> (kind, topic, ce_source)
SOURCES: dict[str, tuple[str, str, str]] = {
    "hotline/workorders": ("workorder", "hotline.workorders", "12345"),
    "enforcement/inspections": ("inspection", "enforcement.inspections", "enforcement"),
    "enforcement/cases": ("case", "enforcement.cases", "enforcement"),
    "credit/events": ("credit", "credit.events", "credit"),
    "justice/transfers": ("transfer", "justice.transfers", "justice"),
}


def record_key(kind: str, rec: dict) -> str:
    """The correlation subject each ingress topic is keyed by (DESIGN.md §5)."""
    if kind == "workorder":
        return (rec.get("subject") or {}).get("uscc") or rec["order_id"]
    if kind == "inspection":
        return rec["target"]["uscc"]
    if kind in ("case", "transfer"):
        return rec["case_id"]
    if kind == "credit":
        return rec["uscc"]
    raise KeyError(kind)


def record_time(kind: str, rec: dict) -> str:
    for name in ("occurred_at", "received_at", "started_at", "filed_at", "decided_at",
                 "published_at", "reviewed_at", "approved_at", "at"):
        if rec.get(name):
            return rec[name]
    return datetime.now(timezone.utc).isoformat()  # only for ce_time, never for a rule


class IntakeUnavailable(RuntimeError):
    """The record was not acknowledged (broker or database unavailable, or another request is
    still appending it); the caller may retry after `retry_after` seconds and nothing is doubled."""

    def __init__(self, message: str, retry_after: int = 5):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


@dataclass
class IntakeResult:
    accepted: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)


def validate_batch(kind: str, items: list[Any], tokenise) -> tuple[list[dict | None], list[Problem]]:
    records: list[dict | None] = []
    problems: list[Problem] = []
    for i, item in enumerate(items):
        try:
            records.append(validate_record(kind, item, tokenise=tokenise))
        except ValidationFailed as exc:
            records.append(None)
            prefix = f"[{i}]" if len(items) > 1 else ""
            problems.extend(
                Problem(field=f"{prefix}.{p.field}" if prefix and p.field else (prefix or p.field),
                        value=p.value, expected=p.expected)
                for p in exc.problems
            )
    return records, problems


def _item(sid: str, topic: str, partition: int | None, offset: int | None) -> dict:
    return {"source_event_id": sid, "ce_id": sid, "topic": topic, "partition": partition, "offset": offset}


class GroupCommit:
    """Group commit (成组提交) of ledger writes: what concurrent requests submit while one
    transaction runs goes into the next one, together. `fn(items)` runs off the event loop and
    returns one result per item; if it raises, every request of that group gets the exception
    (and answers 503; nothing of the group was committed). One request alone waits for nothing:
    a group starts as soon as the previous one ends, with whatever has arrived."""

    def __init__(self, fn, max_items: int = 2000):
        self.fn = fn
        self.max_items = max_items
        self._pending: list[tuple[Any, asyncio.Future]] = []
        self._running = False
        self._task: asyncio.Future | None = None  # held: the loop keeps only a weak reference to tasks

    async def submit(self, item, run_sync):
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        if not self._running:
            self._running = True
            self._task = asyncio.ensure_future(self._drain(run_sync))
        return await fut

    async def _drain(self, run_sync) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending[:self.max_items], self._pending[self.max_items:]
                try:
                    results = await run_sync(self.fn, [item for item, _ in group])
                except BaseException as exc:  # noqa: BLE001 — handed to every waiting request
                    for _, fut in group:
                        if not fut.done():
                            fut.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, fut), result in zip(group, results):
                    if not fut.done():
                        fut.set_result(result)
        finally:
            self._running = False


class IntakeService:
    def __init__(self, session_factory, producer, codec, *, send_timeout: float = 10.0, claim_lease: float = 30.0,
                 bootstrap: str | None = None, client_kwargs: dict | None = None, renew_producer=None):
        self.session_factory = session_factory
        self.producer = producer
        # async callable that replaces a producer whose idempotence state is broken (the owner of
        # the producer sets `self.producer` again); None: nothing can be done here
        self.renew_producer = renew_producer
        self.codec = codec
        self.send_timeout = send_timeout
        self.claim_lease = claim_lease
        self.bootstrap = bootstrap or getattr(producer, "zs_bootstrap", None)
        self.client_kwargs = client_kwargs if client_kwargs is not None else getattr(producer, "zs_client_kwargs", {})
        self._inflight: dict[tuple[str, str], asyncio.Future] = {}  # appends of this process not yet stored
        self._sent_by: dict[tuple[str, str], Any] = {}  # the producer each of them was handed to
        # concurrent requests share one transaction for their claims, and one for their positions
        self._claims = GroupCommit(self._claim_groups)
        self._positions = GroupCommit(self._position_groups)
        self._multirow_claims: bool | None = None  # INSERT … ON CONFLICT DO NOTHING RETURNING available

    # -- ledger (blocking; run off the event loop) ---------------------------------------------

    def _claim(self, kind: str, topic: str, sid: str, key: str, partition: int) -> bool:
        """One claim in its own transaction (databases without INSERT … ON CONFLICT … RETURNING)."""
        with self.session_factory() as s, s.begin():
            try:
                s.add(IntakeLedger(kind=kind, source_event_id=sid, topic=topic, key=key, partition=partition,
                                   accepted_at=datetime.now(timezone.utc)))
                s.flush()
                return True
            except IntegrityError:
                return False

    def _claim_groups(self, groups: list[tuple[str, str, list[tuple[str, str, int]]]]) -> list[set[str]]:
        """The claims of several requests ((kind, topic, [(sid, key, partition)])) in one
        transaction, one INSERT … ON CONFLICT DO NOTHING RETURNING per kind: each id nobody
        claimed before goes to the first request that asked for it; per request, the ids it got."""
        now = datetime.now(timezone.utc)
        wanted: dict[str, dict[str, dict]] = {}  # kind -> sid -> row, first request first
        for kind, topic, rows in groups:
            rows_of_kind = wanted.setdefault(kind, {})
            for sid, key, partition in rows:
                rows_of_kind.setdefault(sid, {"kind": kind, "source_event_id": sid, "topic": topic, "key": key,
                                              "partition": partition, "accepted_at": now})
        got: dict[str, set[str]] = {}
        with self.session_factory() as s, s.begin():
            dialect = s.get_bind().dialect.name
            for kind, rows in wanted.items():
                got[kind] = set()
                if dialect == "postgresql":  # one statement of constant text: compiled and planned once
                    got[kind].update(s.execute(PG_CLAIM, {
                        "kind": kind, "now": now, "sids": list(rows), "topics": [r["topic"] for r in rows.values()],
                        "keys": [r["key"] for r in rows.values()],
                        "parts": [r["partition"] for r in rows.values()]}).scalars())
                    continue
                values = list(rows.values())
                for i in range(0, len(values), CLAIM_ROWS):  # bound parameters per statement stay under the limits
                    got[kind].update(s.execute(sqlite_insert(IntakeLedger).values(values[i:i + CLAIM_ROWS])
                                               .on_conflict_do_nothing(index_elements=["kind", "source_event_id"])
                                               .returning(IntakeLedger.source_event_id)).scalars())
        out = []
        for kind, _, rows in groups:
            mine = {sid for sid, _, _ in rows if sid in got[kind]}
            got[kind] -= mine  # an id asked for twice in one group goes to the first request only
            out.append(mine)
        return out

    def _supports_multirow_claims(self) -> bool:
        if self._multirow_claims is None:
            with self.session_factory() as s:
                self._multirow_claims = s.get_bind().dialect.name in ("postgresql", "sqlite")
        return self._multirow_claims

    async def _claim_rows(self, kind: str, topic: str, rows: list[tuple[str, str, int]], run_sync) -> set[str] | None:
        """Claim the ids of `rows` ((sid, key, partition), distinct ids) that nobody claimed
        before, together with what concurrent requests claim; the ids this call claimed. None
        where the database has no INSERT … ON CONFLICT DO NOTHING RETURNING."""
        if self._multirow_claims is None:
            await self._db(run_sync, self._supports_multirow_claims)
        if not self._multirow_claims:
            return None
        try:
            return await self._claims.submit((kind, topic, rows), run_sync)
        except SQLAlchemyError as exc:
            raise IntakeUnavailable(f"intake ledger (database) unavailable: {type(exc).__name__}") from exc

    def _release(self, kind: str, sid: str):
        with self.session_factory() as s, s.begin():
            s.execute(delete(IntakeLedger).where(IntakeLedger.kind == kind, IntakeLedger.source_event_id == sid,
                                                 IntakeLedger.offset.is_(None)))

    def _record_positions(self, kind: str, positions: list[tuple[str, int, int]]):
        self._position_groups([(kind, positions)])

    def _position_groups(self, groups: list[tuple[str, list[tuple[str, int, int]]]]) -> list[None]:
        """Store the log positions of several requests' appends in one transaction.

        One UPDATE per row by the full primary key (executemany: one pipelined round trip on
        PostgreSQL), not one UPDATE joined to an array of ids: the planner may join that one
        by scanning every ledger row of the kind — it does while the table's statistics lag
        behind its growth, as they do on any busy day's first minutes — and the cost per request
        then grows with the ledger (10 ms a request at 40k rows, bench/RESULTS.md "Session 6").
        A primary-key equality has one plan, whatever the statistics say."""
        t = IntakeLedger.__table__
        stmt = (update(t).where(t.c.kind == bindparam("b_kind"), t.c.source_event_id == bindparam("b_sid"))
                .values(partition=bindparam("b_partition"), offset=bindparam("b_offset")))
        params = [{"b_kind": kind, "b_sid": sid, "b_partition": p, "b_offset": o}
                  for kind, positions in groups for sid, p, o in positions]
        with self.session_factory() as s, s.begin():
            if params:
                s.connection().execute(stmt, params)
        return [None] * len(groups)

    def _doubt(self, kind: str, sid: str):
        """The append may or may not have reached the log: age the claim past the lease, so the
        next attempt looks in the log (from before the claim) before appending again."""
        with self.session_factory() as s, s.begin():
            row = s.get(IntakeLedger, (kind, sid), with_for_update=s.get_bind().dialect.name == "postgresql")
            if row is not None and row.offset is None:
                row.accepted_at = row.accepted_at - timedelta(seconds=self.claim_lease + 1)

    def _take_over(self, kind: str, sid: str, claimed_at: datetime) -> bool:
        with self.session_factory() as s, s.begin():
            done = s.execute(update(IntakeLedger)
                             .where(IntakeLedger.kind == kind, IntakeLedger.source_event_id == sid,
                                    IntakeLedger.offset.is_(None), IntakeLedger.accepted_at == claimed_at)
                             .values(accepted_at=datetime.now(timezone.utc)))
            return done.rowcount == 1

    def lookup(self, kind: str, sid: str) -> IntakeLedger | None:
        with self.session_factory() as s:
            return s.get(IntakeLedger, (kind, sid))

    # -- appending --------------------------------------------------------------------------------

    async def append(self, route: str, records: list[dict], run_sync) -> IntakeResult:
        """Append validated records; `run_sync` runs blocking DB calls off the event loop.

        The records of one call are claimed and handed to the producer in order (so one
        partition keeps their order), then confirmed together. A list's new ids are claimed in
        one statement (one database round trip instead of one per record), in one transaction
        with the claims of concurrent requests (GroupCommit), and so are the positions; every id
        claimed before — a duplicate, an append in flight or in doubt, a repeat inside the list —
        takes the one-by-one path. Raises IntakeUnavailable if any record could not be acknowledged;
        the ones that were are in the log, and a retry of the whole list answers them as
        duplicates."""
        kind, topic, source = SOURCES[route]
        outcomes: list[tuple[bool, dict] | None] = [None] * len(records)
        queued: list[tuple[int, str, asyncio.Future]] = []
        failure: IntakeUnavailable | None = None
        claimed = await self._claim_list(kind, topic, records, run_sync) if len(records) > 1 else {}
        for i, rec in enumerate(records):
            try:
                mine = claimed.get(rec["source_event_id"])
                if mine is not None and mine[0] == i:
                    del claimed[rec["source_event_id"]]
                    out = ("queued", rec["source_event_id"],
                           await self._enqueue(kind, topic, source, rec, mine[1], mine[2]))
                else:
                    out = await self._append_one(kind, topic, source, rec, run_sync)
            except IntakeUnavailable as exc:
                failure = exc
                break
            if out[0] == "queued":
                queued.append((i, out[1], out[2]))
            else:
                outcomes[i] = (False, out[1])
        for sid in claimed:  # claimed with the list but never handed to the producer (stopped early)
            await self._release_quietly(kind, sid)
        metas = await asyncio.gather(*(self._confirm(kind, sid, fut) for _, sid, fut in queued), return_exceptions=True)
        positions = []
        for (i, sid, _), meta in zip(queued, metas):
            if isinstance(meta, BaseException):
                failure = failure or (meta if isinstance(meta, IntakeUnavailable) else IntakeUnavailable(repr(meta)))
                continue
            positions.append((sid, meta.partition, meta.offset))
            outcomes[i] = (True, _item(sid, topic, meta.partition, meta.offset))
        try:
            if positions:
                await self._positions.submit((kind, positions), run_sync)
        except SQLAlchemyError as exc:  # they are in the log: acknowledge; positions are recovered later
            log.warning("intake: %d record(s) appended but their positions not stored: %s", len(positions),
                        type(exc).__name__)
        finally:
            for sid, _, _ in positions:
                self._inflight.pop((kind, sid), None)
                self._sent_by.pop((kind, sid), None)
        if failure is not None:
            raise failure
        result = IntakeResult()
        for accepted, item in outcomes:
            (result.accepted if accepted else result.duplicates).append(item)
        return result

    async def _claim_list(self, kind: str, topic: str, records: list[dict], run_sync) -> dict:
        """sid -> (index of its first occurrence, key, partition) for the ids this call claimed."""
        first: dict[str, tuple[int, str, int]] = {}
        for i, rec in enumerate(records):
            sid = rec["source_event_id"]
            if sid not in first:
                key = record_key(kind, rec)
                first[sid] = (i, key, await self._partition(topic, key))
        got = await self._claim_rows(kind, topic, [(sid, key, partition) for sid, (_, key, partition) in first.items()],
                                     run_sync)
        return {sid: first[sid] for sid in got} if got else {}

    async def _db(self, run_sync, fn, *args):
        try:
            return await run_sync(fn, *args)
        except SQLAlchemyError as exc:
            raise IntakeUnavailable(f"intake ledger (database) unavailable: {type(exc).__name__}") from exc

    async def _append_one(self, kind: str, topic: str, source: str, rec: dict, run_sync) -> tuple:
        """("queued", sid, producer future) once this request holds the claim and the producer
        has the record, or ("duplicate", item) when the id was appended before."""
        sid = rec["source_event_id"]
        key = record_key(kind, rec)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.send_timeout
        partition = await self._partition(topic, key)
        while True:
            got = await self._claim_rows(kind, topic, [(sid, key, partition)], run_sync)
            if got is None:
                got = {sid} if await self._db(run_sync, self._claim, kind, topic, sid, key, partition) else set()
            if sid in got:
                return "queued", sid, await self._enqueue(kind, topic, source, rec, key, partition)
            row = await self._db(run_sync, self.lookup, kind, sid)
            if row is None:  # released meanwhile (the broker refused it): claim it again
                continue
            if row.offset is not None:
                return "duplicate", _item(sid, topic, row.partition, row.offset)
            mine = self._inflight.get((kind, sid))
            if mine is not None:  # this process is appending it: answer with its outcome
                try:
                    meta = await asyncio.wait_for(asyncio.shield(mine), max(0.1, deadline - loop.time()))
                except asyncio.TimeoutError:
                    raise IntakeUnavailable(f"{sid} is being appended and the broker has not confirmed it yet; "
                                            "retry to learn its position") from None
                except Exception:  # that append failed and released the claim
                    if loop.time() > deadline:
                        raise IntakeUnavailable(f"broker did not accept {sid}") from None
                    await asyncio.sleep(0.05)
                    continue
                return "duplicate", _item(sid, topic, meta.partition, meta.offset)
            age = (datetime.now(timezone.utc) - row.accepted_at).total_seconds()
            if age < self.claim_lease:  # another process (or a request just before ours) holds it
                if loop.time() > deadline:
                    raise IntakeUnavailable(f"{sid} is claimed by another request since {age:.0f}s; retry",
                                            retry_after=self.claim_lease - age + 1)
                await asyncio.sleep(0.1)
                continue
            # left by a process that died mid-append: in the log or not?
            part = row.partition if row.partition is not None else partition
            found = await self._find(topic, part, sid, row.accepted_at)
            if found is not None:
                await self._db(run_sync, self._record_positions, kind, [(sid, part, found)])
                log.warning("intake: %s was in the log at %s/%s/%s; position recovered", sid, topic, part, found)
                return "duplicate", _item(sid, topic, part, found)
            if await self._db(run_sync, self._take_over, kind, sid, row.accepted_at):
                log.warning("intake: %s claimed %.0fs ago but not in the log; appending it now", sid, age)
                return "queued", sid, await self._enqueue(kind, topic, source, rec, key, part)

    async def _partition(self, topic: str, key: str) -> int:
        try:
            parts = await asyncio.wait_for(self.producer.partitions_for(topic), self.send_timeout)
        except Exception as exc:
            raise IntakeUnavailable(f"broker unavailable: no partitions for {topic}: {exc!r}") from exc
        return kafka_edge.partition_for(key.encode(), parts)

    async def _find(self, topic: str, partition: int, sid: str, claimed_at: datetime) -> int | None:
        # the record's timestamp is its send time, shortly after the claim; take over happens
        # only after the lease, so look well before the (possibly renewed) claim time
        since = claimed_at.timestamp() - max(300.0, 4 * self.claim_lease)
        if not self.bootstrap:
            raise IntakeUnavailable(f"{sid}: an earlier append is in doubt and this intake cannot read the log")
        try:
            return await kafka_edge.find_ce_id(self.bootstrap, self.client_kwargs, topic, partition, sid,
                                               int(since * 1000), timeout=max(self.send_timeout, 5.0))
        except Exception as exc:
            raise IntakeUnavailable(f"broker unavailable while checking whether {sid} is in the log: {exc!r}") from exc

    async def _enqueue(self, kind: str, topic: str, source: str, rec: dict, key: str, partition: int) -> asyncio.Future:
        """Hand a record whose claim this request holds to the producer; the future resolves to
        its RecordMetadata once the broker has it."""
        sid = rec["source_event_id"]
        try:
            value = self.codec.encode(TOPIC_SCHEMAS[topic], rec)
            headers = cloudevent_headers(ce_id=sid, source=f"/zhongshu/intake/{source}", type=CE_TYPES[topic],
                                         time=record_time(kind, rec), subject=key)
            fut = await asyncio.wait_for(self.producer.send(topic, value=value, key=key.encode(), partition=partition,
                                                            headers=headers), self.send_timeout)
        except Exception as exc:  # not handed to the producer: it cannot reach the log
            await self._release_quietly(kind, sid)
            raise IntakeUnavailable(f"broker did not accept {sid}: {exc!r}") from exc
        self._inflight[(kind, sid)] = fut
        self._sent_by[(kind, sid)] = self.producer
        return fut

    async def _confirm(self, kind: str, sid: str, fut: asyncio.Future):
        try:
            return await asyncio.wait_for(asyncio.shield(fut), self.send_timeout)
        except asyncio.TimeoutError:
            # still in the producer: it is appended when the broker is back, and stored then
            fut.add_done_callback(lambda f: asyncio.ensure_future(self._finish_late(kind, sid, f)))
            raise IntakeUnavailable(f"broker has not confirmed {sid} within {self.send_timeout:.0f}s; it stays "
                                    "queued and is appended once the broker is back; retry to learn its position") from None
        except Exception as exc:
            # the batch may have reached the broker before it failed (a retried batch, a lost answer)
            self._inflight.pop((kind, sid), None)
            await self._doubt_quietly(kind, sid)
            await self._maybe_renew(exc, self._sent_by.pop((kind, sid), None))
            raise IntakeUnavailable(f"broker did not confirm {sid}: {exc!r}; retry") from exc

    async def _maybe_renew(self, exc: BaseException, producer) -> None:
        """aiokafka's idempotent producer does not recover from a sequence gap (e.g. a batch it
        gave up on while the broker was away): every later send fails. Start a new producer."""
        if isinstance(exc, BROKEN_PRODUCER) and self.renew_producer is not None and producer is self.producer:
            try:
                await self.renew_producer(producer)
            except Exception as renew_exc:
                log.warning("intake: could not renew the producer: %r", renew_exc)

    async def _finish_late(self, kind: str, sid: str, fut: asyncio.Future) -> None:
        try:
            if fut.cancelled() or fut.exception() is not None:
                await asyncio.to_thread(self._doubt, kind, sid)
                if not fut.cancelled():
                    await self._maybe_renew(fut.exception(), self._sent_by.get((kind, sid)))
            else:
                meta = fut.result()
                await asyncio.to_thread(self._record_positions, kind, [(sid, meta.partition, meta.offset)])
        except Exception as exc:  # the claim stays without an offset and is recovered after the lease
            log.warning("intake: late outcome of %s not stored: %r", sid, exc)
        finally:
            self._inflight.pop((kind, sid), None)
            self._sent_by.pop((kind, sid), None)

    async def _doubt_quietly(self, kind: str, sid: str) -> None:
        try:
            await asyncio.to_thread(self._doubt, kind, sid)
        except Exception as exc:  # the claim keeps its time and is recovered after the lease
            log.warning("intake: claim of %s not marked in doubt: %r", sid, exc)

    async def _release_quietly(self, kind: str, sid: str) -> None:
        try:
            await asyncio.to_thread(self._release, kind, sid)
        except Exception as exc:  # the claim stays without an offset and is recovered after the lease
            log.warning("intake: claim of %s not released: %r", sid, exc)
