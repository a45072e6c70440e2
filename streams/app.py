"""Faust app (流处理): thin agents around the pure rules.

Run with `faust -A streams.app worker -l info` (or `zhongshu worker`). Delivery is
at-least-once (Faust's exactly_once has open bugs upstream): every output has a deterministic
id and every consumer of it is idempotent, so a redelivery changes nothing.
"""
from __future__ import annotations

import asyncio
import base64
import contextvars
import heapq
import json
import logging
import weakref
from dataclasses import replace
from datetime import datetime, timezone

import faust
from faust.streams import _current_event, current_event

from connectors.validation import check_decoded
from schemas.codec import CE_TYPES, TOPIC_SCHEMAS, Codec, DecodeError, cloudevent_headers, header_dict
from zhongshu.config import load_settings

from . import faustfix
from .keyspaces import AGENCY, CASE, ENTERPRISE, KIND_OF_TOPIC, KeySpace, dispatch, earliest_due, takes
from .rules.base import Fact, RuleConfig, Tick, parse_time
from .rules.config import load_thresholds
from .topics import INGRESS_TOPICS, REFERENCE_MAX_BYTES, REFERENCE_TOPICS

log = logging.getLogger("zhongshu.streams")

settings = load_settings()
# offsets are committed only after the table writes they cover are on the broker, and never past
# records the consumer skipped (streams/faustfix.py)
faustfix.install(strict_topics=(*INGRESS_TOPICS, "hub.clock", "hub.facts-by-enterprise", "hub.facts-by-agency"),
                 bootstrap=settings.bootstrap, client_kwargs=settings.aiokafka_client_kwargs())
faustfix.fetch_sizes(settings.fetch_min_bytes, settings.fetch_max_wait_ms)
codec = Codec()
THRESHOLDS = load_thresholds()

app = faust.App(
    settings.app_id,
    broker=[f"kafka://{b}" for b in settings.bootstrap.split(",")],
    store=settings.store,
    table_standby_replicas=settings.standby_replicas,
    broker_credentials=settings.faust_broker_credentials(),  # SASL/TLS, as every other client
    datadir=str(settings.home / "faust"),
    web_enabled=False,                   # the HTTP API is FastAPI's (projections/api.py)
    topic_partitions=settings.partitions,
    topic_replication_factor=1,
    topic_allow_declare=True,            # Faust declares only its own changelog topics
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=0.5,
    broker_session_timeout=30,           # a crashed or frozen worker's partitions move on after 30 s
    broker_heartbeat_interval=3,          # /api/v1/sync waits on committed offsets
    producer_linger_ms=10,               # DESIGN.md §11: default producer settings cost ~28%
    producer_max_batch_size=256 * 1024,
    producer_acks=-1,
    producer_max_request_size=REFERENCE_MAX_BYTES + 64 * 1024,  # the reference table's changelog
    # tables (changelogs) use the default json serializers; hub topics are raw Avro bytes (raw_topic)
)


def raw_topic(*names: str):
    return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


deadletter = raw_topic("hub.deadletter")
facts_by_enterprise = raw_topic("hub.facts-by-enterprise")
facts_by_agency = raw_topic("hub.facts-by-agency")

# a GlobalTable: every worker holds every reference set, whichever worker read the topic
reference_table = app.GlobalTable("reference", default=None, partitions=1, key_type=str, value_type=None,
                                  extra_topic_configs={"max.message.bytes": str(REFERENCE_MAX_BYTES)})


def store_options() -> dict | None:
    """RocksDB sizes per table partition. Faust opens one RocksDB per table and partition (3 x
    partitions here, more with standbys) with a 2 GiB block cache and 3 x 64 MiB memtables
    each: unbounded on a worker holding a city's enterprises. These bound it (bench/RESULTS.md (e))."""
    if not settings.store.startswith("rocksdb"):
        return None
    mib = 1024 * 1024
    return {"block_cache_size": settings.rocksdb_block_cache_mib * mib,
            "write_buffer_size": settings.rocksdb_write_buffer_mib * mib,
            "max_write_buffer_number": 2}


class Staged:
    """A key space's Faust table seen through the batch (一批) of records being handled.

    A record's new state goes here at once (the next record of the key reads it back) and
    reaches the table — its store and its changelog — in `flush`, at the end of the batch,
    after the broker has acknowledged every lead, trigger and tick marker the batch emitted.
    So the changelog never says "emitted" for an output the broker does not hold (a crash
    would then lose the lead: tests/faults/test_crash.py), and the agent waits for the broker
    once per batch instead of once per record with outputs (bench/RESULTS.md (d)). The batch's
    offsets are acknowledged to Faust only after `flush` (Stream.take_events), so a commit
    never covers a record whose state is not written. A key written several times in a batch
    goes to the changelog once."""

    def __init__(self, table):
        self.table = table
        self.dirty: dict[str, tuple[object, dict]] = {}  # key -> (event whose record wrote it, state)
        self.sent: list = []  # delivery futures of the outputs the batch emitted

    def get(self, key, default=None):
        hit = self.dirty.get(key)
        return hit[1] if hit is not None else self.table.get(key, default)

    def __getitem__(self, key):
        hit = self.dirty.get(key)
        return hit[1] if hit is not None else self.table[key]

    def __setitem__(self, key, value) -> None:
        self.dirty[key] = (current_event(), value)

    def items(self):
        for key, value in self.table.items():
            if key not in self.dirty:
                yield key, value
        for key, (_, value) in list(self.dirty.items()):
            yield key, value

    def discard(self) -> None:
        self.dirty.clear()
        self.sent.clear()

    async def flush(self) -> None:
        """Outputs acknowledged, then the states that record them. Faust takes a write's
        changelog partition from the current event: each key is written as its own record."""
        await durably(self.sent)
        self.sent = []
        dirty, self.dirty = self.dirty, {}
        for key, (event, value) in dirty.items():
            token = _current_event.set(weakref.ref(event))
            try:
                self.table[key] = value
            finally:
                _current_event.reset(token)


TABLES = {
    space.name: Staged(app.Table(f"{space.name}-state", default=dict, partitions=settings.partitions,
                                 key_type=str, options=store_options()))
    for space in (ENTERPRISE, CASE, AGENCY)
}
BATCH_MAX = 256       # records per batch (one acknowledgement wait, one commit point)
BATCH_WITHIN = 0.02   # seconds a batch waits for more records: the latency a quiet stream pays, and
                      # an idle worker wakes every BATCH_WITHIN per agent (6.6 % of a core at 5 ms)

_config_cache: tuple[tuple, RuleConfig] | None = None
# kind -> {"version", "items", "offset"}: the sets on the reference topics when this worker
# started (reference_at_start); None until read
_sets_at_start: dict | None = None
_sets_reading: asyncio.Future | None = None


def current_reference() -> dict[str, dict]:
    """Per kind, the newer of the set read at start-up and the reference table's (a table entry
    without an offset was written by an older worker: the set read at start-up is as new)."""
    sets = dict(_sets_at_start or {})
    for kind, value in reference_table.items():
        if value and value.get("offset", -1) >= sets.get(kind, {}).get("offset", -1):
            sets[kind] = value
    return sets


def current_config() -> RuleConfig:
    global _config_cache
    sets = current_reference()
    versions = tuple(sorted((k, v.get("version"), v.get("offset")) for k, v in sets.items()))
    if _config_cache is None or _config_cache[0] != versions:
        reference = {k: v.get("items", []) for k, v in sets.items()}
        _config_cache = (versions, RuleConfig(thresholds=THRESHOLDS, reference=reference))
    return _config_cache[1]


_batch_config: contextvars.ContextVar[RuleConfig | None] = contextvars.ContextVar("zhongshu_batch_config", default=None)


def batch_config() -> RuleConfig:
    """current_config(), read once per batch of an agent (handle_batch) rather than per record:
    comparing the reference sets' versions walks the reference table. A set the reference agent
    writes meanwhile applies from the next batch, as it applied from some next record before —
    the reference agent reads its topics side by side with the facts either way."""
    config = _batch_config.get()
    if config is None:
        config = current_config()
        _batch_config.set(config)
    return config


async def reference_at_start() -> None:
    """Read the reference sets (参考数据) on the log before this worker's first rule runs.

    The reference agent fills the reference table as it reads the reference topics, side by side
    with the facts: a worker starting on an empty table (a new deployment, a replay under a new
    app id) would otherwise judge its first facts without officers, plans or agency names, and
    a replay would not rebuild the same leads. Each reference topic has one partition and each
    record replaces its whole set, so the last good record of each topic is the set; a poison
    record is passed over here (the reference agent parks it). Read once per process by its
    own consumer — not through Faust's, whose fetch may be held up behind the very agents
    waiting here. Read from where the worker group's reference agent goes on (the beginning for a
    new group): what lies before is in the reference table already, restored from its
    changelog. Should the broker not answer, the worker goes on after a loud error with what
    the reference table holds (the reference agent fills it soon after)."""
    global _sets_at_start, _sets_reading
    if _sets_at_start is not None:
        return
    if _sets_reading is None:
        _sets_reading = asyncio.ensure_future(_read_reference_sets())
    try:
        sets = await asyncio.shield(_sets_reading)
    except Exception as exc:
        log.error("reading the reference sets at start-up failed (%r); the rules start with the reference "
                  "table as it is", exc)
        sets = {}
    _sets_at_start = sets


async def _read_reference_sets(timeout: float = 60.0) -> dict:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    # the worker group's own id: its committed offsets say where the reference agent goes on
    # from (what lies before is in the reference table, restored from its changelog)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=settings.app_id,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=REFERENCE_MAX_BYTES + 65536,
                                fetch_max_bytes=REFERENCE_MAX_BYTES + 65536, **settings.aiokafka_client_kwargs())
    await asyncio.wait_for(consumer.start(), timeout)
    try:
        tps = [TopicPartition(topic, 0) for topic in REFERENCE_TOPICS]
        consumer.assign(tps)
        ends = await asyncio.wait_for(consumer.end_offsets(tps), timeout)
        starts = {tp: await asyncio.wait_for(consumer.committed(tp), timeout) or 0 for tp in tps}
        for tp in tps:
            consumer.seek(tp, starts[tp])
        sets: dict[str, dict] = {}
        left = {tp for tp in tps if starts[tp] < ends[tp]}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while left:
            if loop.time() > deadline:
                raise TimeoutError(f"reference topics not read to their end in {timeout:.0f} s: "
                                   f"{sorted(tp.topic for tp in left)}")
            got = await consumer.getmany(*left, timeout_ms=500)
            for tp, records in got.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    try:
                        _, ref = codec.decode(record.value)
                        sets[ref["kind"]] = {"version": ref["version"], "items": json.loads(ref["items_json"]),
                                             "offset": record.offset}
                    except (DecodeError, KeyError, ValueError):
                        pass
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
        log.info("reference sets on the log at start-up: %s",
                 ", ".join(f"{k} v{v['version']} ({len(v['items'])})" for k, v in sorted(sets.items())) or "none")
        return sets
    finally:
        await consumer.stop()


async def dead_letter(msg, reason: str, stage: str) -> None:
    log.error("dead-letter %s/%s/%s: %s", msg.topic, msg.partition, msg.offset, reason)
    value = codec.encode("DeadLetter", {
        "topic": msg.topic, "partition": msg.partition, "offset": msg.offset, "key": msg.key,
        "original": msg.value or b"", "reason": reason[:2000], "stage": stage,
        "at": datetime.now(timezone.utc).isoformat(),
    })
    await deadletter.send(key=msg.key, value=value)


def _fact(msg, value: dict) -> Fact:
    headers = header_dict(msg.headers or [])
    kind = KIND_OF_TOPIC[msg.topic]
    if "zs_origin" in headers:  # forwarded by the case worker: evidence points at the original record
        topic, partition, offset = headers["zs_origin"].rsplit("/", 2)
        ts = float(headers["zs_origin_ts"]) if headers.get("zs_origin_ts") else None  # the original's, not the forward's
        return Fact(kind=kind, value=value, topic=topic, partition=int(partition), offset=int(offset),
                    ce_id=headers.get("ce_id", ""), case=json.loads(headers["zs_case"]) if headers.get("zs_case") else None,
                    ts=ts)
    return Fact(kind=kind, value=value, topic=msg.topic, partition=msg.partition, offset=msg.offset,
                ce_id=headers.get("ce_id", ""), ts=msg.timestamp)


async def emit(outputs, source_msg) -> list:
    """Send the outputs; returns their delivery futures (see `durably`)."""
    sent = []
    for lead in outputs.leads:
        sent.append(await produce("supervision.leads", lead["lead_id"].encode(), codec.encode("Lead", lead),
                                  cloudevent_headers(ce_id=lead["lead_id"] + "@" + str(source_msg.offset),
                                                     source="/zhongshu/streams", type=CE_TYPES["supervision.leads"],
                                                     time=lead["detected_at"], subject=lead["lead_id"])))
    for trig in outputs.triggers:
        sent.append(await produce("credit.repair-triggers", trig["uscc"].encode(), codec.encode("CreditTrigger", trig),
                                  cloudevent_headers(ce_id=trig["trigger_id"], source="/zhongshu/streams",
                                                     type=CE_TYPES["credit.repair-triggers"],
                                                     time=trig["detected_at"], subject=trig["uscc"])))
    return sent


async def produce(topic: str, key: bytes, value: bytes, headers: list) -> asyncio.Future:
    """One record of the worker's own output (leads, triggers, forwarded case facts) handed
    straight to the app's producer; returns aiokafka's delivery future. Faust's `Topic.send`
    would wrap it in a FutureMessage, run the sensors and chain a done-callback: at 1,000
    inspections/s that was 7.8 % of the worker, half of it aiokafka's own send
    (bench/RESULTS.md, session 8). Same producer, same partitioner (by key), same ordering."""
    return await app.producer.send(topic, key, value, None, None, headers)


async def durably(sent: list) -> None:
    """Wait until the broker has acknowledged `sent`. Called (Staged.flush) before the table
    writes that record those outputs as emitted: a write goes to the changelog through another
    producer queue and partition, so without the wait a crash can leave the state saying
    "emitted" (restored from the changelog on restart) while the lead itself never reached the
    broker — the redelivered input then finds its delivery id seen and the lead is lost
    (tests/faults/test_crash.py)."""
    if not sent:
        return
    _send_now()
    waited = 0.0
    while True:
        _, pending = await asyncio.wait(sent, timeout=10.0)
        if not pending:
            break
        waited += 10.0  # never given up on: the state must not run ahead of its outputs
        log.warning("%d output(s) not yet acknowledged by the broker after %.0f s; still waiting",
                    len(pending), waited)
    for fut in sent:
        fut.result()  # a delivery that failed raises here, before the state is written


def _send_now() -> None:
    """Let nothing linger in the producer while an agent waits for acknowledgements: the batch's
    last outputs would otherwise sit out `producer_linger_ms` before they are even sent (with
    one wait per record, the worker fell behind at 100 records/s: bench/RESULTS.md (d)). What
    aiokafka's own transactional flush does, without its wait: close the open batches (later
    records start new ones) and wake the sender. aiokafka internals, guarded: if they are not
    there the records simply linger as before."""
    producer = getattr(app.producer, "_producer", None)
    accumulator = getattr(producer, "_message_accumulator", None)
    try:
        for batches in accumulator._batches.values():
            for batch in batches:
                batch._builder.close()
        if not accumulator._waiter_future.done():
            accumulator._waiter_future.set_result(None)
    except AttributeError:
        pass


RECORD_OF_TOPIC = {**TOPIC_SCHEMAS, "hub.facts-by-enterprise": "CaseEvent", "hub.facts-by-agency": "CaseEvent"}
TICKS_KEY = "__ticks__{}"  # table key holding the ticks of one partition not yet applied


def _is_tick_key(key: str) -> bool:
    return key.startswith("__ticks__")


class TickGate:
    """Apply a tick only once this key space has read its input partitions up to the tick's
    append time (or to their end). Faust reads topics side by side, not in time order: on a
    replay the small hub.clock would otherwise run far ahead of the events it followed, and
    deadlines would fire on facts not yet read.

    Keys are co-partitioned, so the tick on hub.clock partition p judges only keys whose facts
    arrive on partition p of the space's topics: only those partitions gate it, and it is
    released while handling a partition-p message, so table writes stay in changelog
    partition p. Pending ticks live in the table: a crash before release loses none."""

    def __init__(self, space: KeySpace):
        self.space = space
        self.read: dict = {}  # TP -> (offset, Faust timestamp in seconds) of the last event handled

    def saw(self, msg) -> None:
        self.read[msg.tp] = (msg.offset, msg.timestamp)

    def ready(self, partition: int, ts: int) -> bool:
        consumer = app.consumer
        for tp in _assigned(self.space, partition):
            last = self.read.get(tp)
            if last is not None and last[1] >= ts:
                continue
            highwater = consumer.highwater(tp)
            if highwater is None:  # one broker answers every partition in one fetch: rare, transient
                continue
            # Faust pitfall: there is no public "processed offset"; committed is the safe lower bound
            done = last[0] + 1 if last is not None else (consumer._committed_offset.get(tp) or 0)
            if done < highwater:
                return False
        return True


_ASSIGNED: dict[tuple[str, int], list] = {}  # (space, partition) -> its assigned input TPs


def _assigned(space: KeySpace, partition: int) -> list:
    """The assigned partitions of the space's topics numbered `partition`; cached until the
    next rebalance (the consumer builds its assignment set anew on every call)."""
    got = _ASSIGNED.get((space.name, partition))
    if got is None:
        got = [tp for tp in app.consumer.assignment() if tp.partition == partition and tp.topic in space.topics]
        if got:  # never cache "nothing assigned yet"
            _ASSIGNED[(space.name, partition)] = got
    return got


GATES = {space.name: TickGate(space) for space in (ENTERPRISE, CASE, AGENCY)}


class DueIndex:
    """The keys of one key space that wait for a deadline, per table partition, earliest first,
    so that a tick visits the keys that are due instead of every key of the table (a sweep of
    the whole table per tick and partition costs O(keys) whatever is due, and with rocksdb://
    reads and decodes every value).

    In memory and derived from the table: built from the table's own contents the first time a
    partition's tick needs it, kept current on every write this worker makes, and dropped on a
    rebalance (another worker may have written the partition meanwhile). A heap entry whose
    deadline no longer matches the key's is stale and skipped."""

    def __init__(self, space: KeySpace):
        self.space = space
        self.due: dict[int, dict[str, float]] = {}
        self.heap: dict[int, list[tuple[float, str]]] = {}

    def forget(self) -> None:
        self.due.clear()
        self.heap.clear()

    def note(self, partition: int, key: str, state: dict) -> None:
        book = self.due.get(partition)
        if book is None:  # not built yet: the build reads the table
            return
        at = earliest_due(state)
        if at is None:
            book.pop(key, None)
            return
        ts = at.timestamp()
        if book.get(key) != ts:
            book[key] = ts
            heapq.heappush(self.heap[partition], (ts, key))

    def _build(self, partition: int) -> None:
        book: dict[str, float] = {}
        for key, state in TABLES[self.space.name].items():
            if _is_tick_key(key) or not isinstance(state, dict) or state.get("_p") != partition:
                continue
            at = earliest_due(state)
            if at is not None:
                book[key] = at.timestamp()
        heap = [(ts, key) for key, ts in book.items()]
        heapq.heapify(heap)
        self.due[partition], self.heap[partition] = book, heap

    def pop_due(self, partition: int, at: datetime) -> list[str]:
        """The keys with a deadline at or before `at`, in key order (deterministic output order)."""
        if partition not in self.due:
            self._build(partition)
        book, heap, limit, keys = self.due[partition], self.heap[partition], at.timestamp(), set()
        while heap and heap[0][0] <= limit:
            ts, key = heapq.heappop(heap)
            if book.get(key) == ts:
                del book[key]
                keys.add(key)
        return sorted(keys)


DUE = {space.name: DueIndex(space) for space in (ENTERPRISE, CASE, AGENCY)}


@app.on_partitions_revoked.connect
async def _forget_due_indexes(app, revoked, **kwargs) -> None:
    for index in DUE.values():
        index.forget()
    _ASSIGNED.clear()


@app.on_partitions_assigned.connect
async def _forget_assignment(app, assigned, **kwargs) -> None:
    _ASSIGNED.clear()


async def handle(space: KeySpace, event) -> None:
    """Decode → rules → outputs → table: the whole body of every key-space agent."""
    await reference_at_start()
    msg = event.message
    if msg.topic == "hub.clock":
        await receive_tick(space, msg)
    elif msg.topic in FORWARD_TOPICS and _header(msg, "zs_tick"):
        receive_marker(space, msg)
        GATES[space.name].saw(msg)
    else:
        await handle_fact(space, msg)
        GATES[space.name].saw(msg)
    await release_ticks(space, msg)


async def receive_tick(space: KeySpace, msg) -> None:
    try:
        _, tick = codec.decode(msg.value)
        at = parse_time(tick["at"]).isoformat()
    except (DecodeError, KeyError, ValueError) as exc:
        await dead_letter(msg, f"bad clock tick: {exc}", f"{space.name}-agent")
        return
    table = TABLES[space.name]
    key = TICKS_KEY.format(msg.partition)
    held = table.get(key) or {}
    table[key] = {"_p": msg.partition, "pending": [*held.get("pending", []), [msg.timestamp, at]]}


async def release_ticks(space: KeySpace, msg) -> None:
    table = TABLES[space.name]
    key = TICKS_KEY.format(msg.partition)
    held = table.get(key)
    if not held or not held.get("pending"):
        return
    pending = list(held["pending"])
    gate = GATES[space.name]
    while pending and gate.ready(msg.partition, pending[0][0]):
        ts, at = pending.pop(0)
        await apply_tick(space, msg.partition, parse_time(at), msg, ts)
        if space is CASE:  # the markers on the broker before the pending list that drops the tick
            table.sent += await send_markers(msg.partition, ts, at)
    if len(pending) != len(held["pending"]):
        table[key] = {**held, "pending": pending}


FORWARD_TOPICS = ("hub.facts-by-enterprise", "hub.facts-by-agency")


def _header(msg, name: str) -> str | None:
    for k, v in msg.headers or ():
        if k == name:
            return v.decode() if isinstance(v, bytes) else v
    return None


async def send_markers(case_partition: int, ts: int, at: str) -> list:
    """The case space has applied tick `at` on its partition and forwarded every case fact read
    before it. A marker after those facts on every partition of the forward topics tells the
    enterprise and agency spaces so: they apply the tick once every case partition has marked it
    (a watermark carried in the log, so it holds across processes and on replay)."""
    value = codec.encode("ClockTick", {"tick_id": f"mark-{at}-{case_partition}", "at": at, "partition": case_partition})
    headers = [("zs_tick", at.encode()), ("zs_tick_ts", str(ts).encode()), ("zs_from", str(case_partition).encode())]
    sent = []
    for topic in (facts_by_enterprise, facts_by_agency):
        for p in range(settings.partitions):
            sent.append(await topic.send(key=b"__tick__", value=value, partition=p, headers=headers))
    return sent


def receive_marker(space: KeySpace, msg) -> None:
    table = TABLES[space.name]
    key = TICKS_KEY.format(msg.partition)
    held = dict(table.get(key) or {"_p": msg.partition, "pending": []})
    at, ts, origin = _header(msg, "zs_tick"), float(_header(msg, "zs_tick_ts")), int(_header(msg, "zs_from"))
    marks = {k: list(v) for k, v in (held.get("marks") or {}).items()}
    done = set(held.get("done") or [])
    if at in done:
        return  # a marker re-sent on a replay: that tick was applied here already
    got = sorted(set(marks.get(at, [])) | {origin})
    if len(got) >= settings.partitions:
        marks.pop(at, None)
        done = sorted(done | {at})[-64:]
        held["pending"] = [*held.get("pending", []), [ts, at]]
    else:
        marks[at] = got
    held.update({"_p": msg.partition, "marks": marks, "done": sorted(done)})
    table[key] = held


async def apply_tick(space: KeySpace, partition: int, at, msg, ts: float | None = None) -> None:
    """Tick `at` (appended to hub.clock at `ts` seconds) on the due keys of one partition."""
    table = TABLES[space.name]
    index = DUE[space.name]
    config = batch_config()
    failures: dict[str, str] = {}
    writes = []
    for key in index.pop_due(partition, at):
        state = table.get(key)
        if not state:
            continue
        try:
            new_state, outputs = dispatch(space, state, Tick(at, ts), key, config)
        except Exception as exc:  # e.g. CalendarYearNotCovered: loud, but the other keys go on
            failures.setdefault(type(exc).__name__, f"{key}: {exc}")
            index.note(partition, key, state)  # still due: the next tick tries again
            continue
        if new_state != state:
            writes.append((key, new_state))
        index.note(partition, key, new_state)
        table.sent += await emit(outputs, msg)  # on the broker before the states (Staged.flush)
    for key, new_state in writes:
        table[key] = new_state
    for name, example in failures.items():
        log.error("tick %s on %s: %s (%s)", at.isoformat(), space.name, name, example)
        await dead_letter(msg, f"tick {at.isoformat()} failed for some {space.name} keys: {name}: {example}",
                          f"{space.name}-tick")


async def handle_fact(space: KeySpace, msg) -> None:
    table = TABLES[space.name]
    try:
        name, value = codec.decode(msg.value)
        if name != RECORD_OF_TOPIC[msg.topic]:
            raise DecodeError(f"record {name} on topic {msg.topic}, expected {RECORD_OF_TOPIC[msg.topic]}")
    except DecodeError as exc:
        await dead_letter(msg, str(exc), f"{space.name}-agent")
        return
    if msg.topic in INGRESS_TOPICS:  # a producer may have written straight to Kafka, past intake
        problems = check_decoded(name, value)
        if problems:
            await dead_letter(msg, "invalid record: " + "; ".join(str(p) for p in problems), f"{space.name}-agent")
            return
    key = (msg.key or b"").decode()
    if not key or _is_tick_key(key):
        await dead_letter(msg, f"record key {key!r} is not a subject id", f"{space.name}-agent")
        return
    stored = state = table[key] or {}
    fact = _fact(msg, value)
    if space is CASE and msg.topic == "enforcement.cases":
        state = _remember_filing(state, value)
        fact = Fact(**{**fact.__dict__, "case": state.get("_filed")})
    try:
        new_state, outputs = dispatch(space, state, fact, key, batch_config())
    except Exception as exc:  # a rule must never stop the worker: the record is parked, not lost
        log.exception("rule failure on %s/%s/%s", msg.topic, msg.partition, msg.offset)
        await dead_letter(msg, f"rule error: {exc!r}", f"{space.name}-agent")
        return
    new_state["_p"] = msg.partition
    table.sent += await emit(outputs, msg)  # on the broker before the state (Staged.flush)
    if outputs.leads or outputs.triggers or new_state != (stored or {"_p": msg.partition}):
        table[key] = new_state
        DUE[space.name].note(msg.partition, key, new_state)
    # else nothing changed (a 咨询 work order no rule takes, a duplicate): no changelog record, and
    # no empty state kept for a subject no rule follows
    if space is CASE and msg.topic == "enforcement.cases":
        await forward_case_fact(msg, fact)


def _remember_filing(state: dict, value: dict) -> dict:
    if value.get("event") != "filed":
        return state
    filed = {k: value.get(k) for k in ("case_id", "agency_code", "party", "matter_code", "region_code", "filed_at")}
    return {**state, "_filed": filed}


async def forward_case_fact(msg, fact: Fact) -> None:
    """Case facts re-keyed for the enterprise and agency key spaces (no Faust group_by hop), each
    to the spaces with a rule that takes it (keyspaces.takes)."""
    filed = fact.case
    if not filed:
        log.warning("case %s: %s before its filing; not forwarded", fact.value.get("case_id"), fact.value.get("event"))
        return
    case = json.dumps(filed, ensure_ascii=False, default=str)
    headers = list(msg.headers or []) + [
        ("zs_origin", f"{msg.topic}/{msg.partition}/{msg.offset}".encode()),
        ("zs_case", case.encode()),
        ("zs_origin_ts", repr(float(msg.timestamp)).encode()),  # the case record's own append time (repr round-trips)
    ]
    received = replace(fact, case=json.loads(case))  # the fact as the receiving space builds it (_fact)
    uscc = (filed.get("party") or {}).get("uscc") or (filed.get("party") or {}).get("id_token")
    if uscc and takes(ENTERPRISE, received):
        await produce("hub.facts-by-enterprise", uscc.encode(), msg.value, headers)
    if filed.get("agency_code") and takes(AGENCY, received):
        await produce("hub.facts-by-agency", filed["agency_code"].encode(), msg.value, headers)


def _space_agent(space: KeySpace):
    space.load()

    async def agent(stream):
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN):
            await handle_batch(space, events)

    agent.__name__ = f"{space.name}_agent"
    agent.__qualname__ = agent.__name__
    topics = (*space.topics, "hub.clock") if space is CASE else space.topics
    return app.agent(raw_topic(*topics), name=f"zhongshu.{space.name}")(agent)


async def handle_batch(space: KeySpace, events) -> None:
    """Handle a batch of records, then flush its states (Staged). Faust acknowledges the batch's
    offsets only after this returns. Should an output of the batch not be delivered, the batch's
    states are dropped and its records handled again one at a time, so the record whose output
    fails is parked on the dead-letter topic as before and the others go on (their outputs are
    sent again: deterministic ids, idempotent consumers)."""
    table = TABLES[space.name]
    token = _batch_config.set(None)  # the configuration is read afresh for each batch
    try:
        await _handle_batch(space, events, table)
    finally:
        _batch_config.reset(token)


async def _handle_batch(space: KeySpace, events, table: Staged) -> None:
    for event in events:
        await _handle_one(space, event)
    try:
        await table.flush()
        return
    except Exception as exc:  # a delivery failed: nothing of the batch was written
        log.warning("%s: an output of a batch of %d was not delivered (%r); handling it one record at a time",
                    space.name, len(events), exc)
        _drop_batch(space)
    for event in events:
        await _handle_one(space, event)
        try:
            await table.flush()
        except Exception as exc:
            _drop_batch(space)
            await dead_letter(event.message, f"output not delivered: {exc!r}", f"{space.name}-agent")


def _drop_batch(space: KeySpace) -> None:
    TABLES[space.name].discard()
    DUE[space.name].forget()  # it noted the dropped states: rebuilt from the table when needed


async def _handle_one(space: KeySpace, event) -> None:
    token = _current_event.set(weakref.ref(event))  # take_events hands over events, not a current one
    try:
        await handle(space, event)
    except Exception as exc:  # never let one record crash the agent: park it and go on
        log.exception("unexpected failure on %s/%s/%s", event.message.topic, event.message.partition,
                      event.message.offset)
        await dead_letter(event.message, f"worker error: {exc!r}", f"{space.name}-agent")
    finally:
        _current_event.reset(token)


enterprise_agent = _space_agent(ENTERPRISE)
case_agent = _space_agent(CASE)
agency_agent = _space_agent(AGENCY)


@app.agent(raw_topic(*REFERENCE_TOPICS), name="zhongshu.reference")
async def reference_agent(stream):
    """Reference data (参考数据): each message replaces its whole set."""
    async for event in stream.events():
        msg = event.message
        try:
            _, ref = codec.decode(msg.value)
            reference_table[ref["kind"]] = {"version": ref["version"], "items": json.loads(ref["items_json"]),
                                            "offset": msg.offset}
        except (DecodeError, KeyError, ValueError) as exc:
            await dead_letter(msg, f"bad reference set: {exc}", "reference-agent")
