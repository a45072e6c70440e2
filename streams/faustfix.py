"""Two corrections to Faust's at-least-once guarantee (faust-streaming 0.15.3).

1. Changelog records must be on the broker before the offsets they cover are committed.

Before Faust commits consumer offsets it flushes the producer (upstream PR #273), so that every
table write (changelog record) of the processed records is on the broker first. But the flush
of Faust's own producer buffer — where `table[key] = value` queues its changelog record —
gives up as soon as one message takes longer than 0.1 s to hand over (`flush_atmost` returns
on a timeout), and does not see the record its sender task has already taken off the queue
but not yet handed to aiokafka. The offsets are then committed with changelog records still
in the process. A `kill -9` at that moment leaves a committed input whose state change is
lost: on restart the table is recovered without it and the record is not read again. Our
crash test saw exactly that (tests/faults/test_crash.py: the first of two inspections
forgotten, so no INSP_DUPLICATE lead), most often on a loaded machine.

`install()` makes the buffer's full flush wait until the queue is empty and no record is
between the queue and aiokafka; aiokafka's own flush (called next by Faust) then waits for
the broker's acknowledgements. A flush that takes long is logged, never abandoned: a commit
that waits is slow, a commit that does not wait loses state.

2. Records the consumer skipped must not be committed as processed. When the fetch delivers
offset o on a partition whose last delivered offset was r < o - 1, Faust takes r+1..o-1 for a
gap in the log (compaction, transaction markers) and counts them as acknowledged, so the next
commit passes them. Around a rebalance Faust can also drop fetched records itself (its
getmany stops on a paused flow or a new generation after aiokafka has moved on); the next
fetch then "jumps" and the gap logic commits records no agent ever saw. The crash test caught
it: after a restart the worker committed offset 88 of enforcement.inspections/0 having
processed 16, and 71 inspections were never correlated; in another run a single record at the
head of a partition was passed over (upstream's head check is off by one: it compares the
first acknowledged offset with the committed offset as if that were the last one processed). For the hub's own append-only topics
(`strict_topics`: intake and forward topics, never compacted, never written in transactions)
a jump, or a hole between the committed offset and the first acknowledged one, is checked against the log: if records exist in the skipped range they are not marked
processed, and the worker stops gracefully so that `zhongshu up` restarts it from its committed
offset (nothing lost; the records already handled again are absorbed by idempotency).
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

from faust.transport.consumer import Consumer
from faust.transport.producer import ProducerBuffer

log = logging.getLogger("zhongshu.streams")

UPSTREAM_FLUSH = ProducerBuffer.flush
UPSTREAM_SEND_PENDING = ProducerBuffer._send_pending
UPSTREAM_ADD_GAP = Consumer._add_gap
UPSTREAM_NEW_OFFSET = Consumer._new_offset

_strict_topics: frozenset[str] = frozenset()
_client: dict = {}


async def _send_pending(self, fut) -> None:
    # the sender task took `fut` off the queue synchronously just before this call: count it
    # as in flight until aiokafka holds it
    self._zs_in_flight = getattr(self, "_zs_in_flight", 0) + 1
    try:
        await UPSTREAM_SEND_PENDING(self, fut)
    finally:
        self._zs_in_flight -= 1
        self.message_sent.set()


async def flush(self) -> None:
    """Wait until every queued changelog record has been handed to aiokafka."""
    started, warned = time.monotonic(), 0.0
    while self.size or getattr(self, "_zs_in_flight", 0):
        self.message_sent.clear()
        try:
            await asyncio.wait_for(self.message_sent.wait(), timeout=1.0)
        except asyncio.TimeoutError:
            if self.state != "running":  # stopping: the sender task is gone, nothing will drain
                raise RuntimeError(f"Cannot flush: producer buffer {self.state} with {self.size} queued")
            waited = time.monotonic() - started
            if waited - warned >= 10:
                warned = waited
                log.warning("producer buffer flush still waiting after %.0f s (%d queued, %d in flight)",
                            waited, self.size, getattr(self, "_zs_in_flight", 0))


async def first_offset_from(tp, offset: int) -> int | None:
    """The lowest offset at or after `offset` that holds a record (None: none within 10 s)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=_client["bootstrap"], enable_auto_commit=False,
                                auto_offset_reset="earliest", **_client.get("kwargs", {}))
    await consumer.start()
    try:
        part = TopicPartition(tp.topic, tp.partition)
        consumer.assign([part])
        consumer.seek(part, offset)
        batch = await consumer.getmany(part, timeout_ms=10_000, max_records=1)
        records = batch.get(part) or []
        return records[0].offset if records else None
    finally:
        await consumer.stop()


def restart_worker() -> None:
    """Stop gracefully (leave the group, commit what was really processed); `zhongshu up`
    starts a new worker, which resumes from the committed offset."""
    os.kill(os.getpid(), signal.SIGTERM)


async def _add_gap(self, tp, offset_from: int, offset_to: int) -> None:
    if tp.topic not in _strict_topics:
        return await UPSTREAM_ADD_GAP(self, tp, offset_from, offset_to)
    try:
        first = await first_offset_from(tp, offset_from)
    except Exception as exc:  # cannot tell: treating records as processed is the one wrong answer
        log.error("fetch jumped on %s/%d from %d to %d and the log could not be checked (%r)",
                  tp.topic, tp.partition, offset_from - 1, offset_to, exc)
        first = offset_from
    if first is None or first >= offset_to:  # a real gap: nothing to process in between
        return await UPSTREAM_ADD_GAP(self, tp, offset_from, offset_to)
    log.error("fetch skipped records %d..%d of %s/%d (Faust dropped a fetched batch); they are not "
              "marked processed and the worker restarts from its committed offset",
              offset_from, offset_to - 1, tp.topic, tp.partition)
    if not getattr(self, "_zs_restarting", False):
        self._zs_restarting = True
        restart_worker()


def _new_offset(self, tp):
    """Upstream commits past a hole at the head of a partition: it takes the committed offset
    (the next record to read) for the last one processed, and a fresh process has no read
    offset to see a jump from. On strict topics a head hole holds the commit until the log says
    whether records exist there."""
    if tp.topic in _strict_topics:
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        if acked and committed is not None:
            head = min(acked)
            if head > committed and not self._gap[tp].overlaps_point(committed):
                checks = self.__dict__.setdefault("_zs_head_checks", set())
                if (tp, committed, head) not in checks:
                    checks.add((tp, committed, head))
                    asyncio.ensure_future(_verify_head(self, tp, committed, head))
                return None
    return UPSTREAM_NEW_OFFSET(self, tp)


async def _verify_head(self, tp, committed: int, head: int) -> None:
    try:
        first = await first_offset_from(tp, committed)
    except Exception as exc:
        log.error("records %d..%d of %s/%d not delivered and the log could not be checked (%r)",
                  committed, head - 1, tp.topic, tp.partition, exc)
        first = committed
    if first is None or first >= head:  # nothing there (retention, a real gap): commit may pass
        self._gap[tp].addi(committed, head)
        self._gap[tp].merge_overlaps()
        return
    log.error("records %d..%d of %s/%d were never delivered to an agent (Faust dropped them); they "
              "are not marked processed and the worker restarts from its committed offset",
              committed, head - 1, tp.topic, tp.partition)
    if not getattr(self, "_zs_restarting", False):
        self._zs_restarting = True
        restart_worker()


def fetch_sizes(min_bytes: int, max_wait_ms: int) -> None:
    """Fetch settings of the worker's consumer, which Faust does not expose: it builds its
    aiokafka consumer with fetch_max_wait_ms=1500 and aiokafka's fetch_min_bytes=1, so a fetch
    answers at the first byte. With records trickling in, every few records are then a fetch
    of their own, and a batch (take_events: one acknowledgement wait, one produce request)
    of their own. Set on the consumer Faust builds, before it starts (aiokafka hands them to its
    fetcher in start())."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    upstream = getattr(AIOKafkaConsumerThread, "_zs_upstream_create", None) or AIOKafkaConsumerThread._create_worker_consumer

    def create(self, transport):
        consumer = upstream(self, transport)
        if hasattr(consumer, "_fetch_min_bytes") and hasattr(consumer, "_fetch_max_wait_ms"):
            consumer._fetch_min_bytes, consumer._fetch_max_wait_ms = int(min_bytes), int(max_wait_ms)
        else:  # aiokafka internals moved: Faust's settings stay, and it is said
            log.warning("cannot set the worker consumer's fetch sizes (aiokafka changed); using Faust's")
        return consumer

    AIOKafkaConsumerThread._zs_upstream_create = upstream
    AIOKafkaConsumerThread._create_worker_consumer = create


def install(strict_topics=(), bootstrap: str | None = None, client_kwargs: dict | None = None) -> None:
    global _strict_topics
    ProducerBuffer._send_pending = _send_pending
    ProducerBuffer.flush = flush
    _strict_topics = frozenset(strict_topics)
    _client.update(bootstrap=bootstrap, kwargs=dict(client_kwargs or {}))
    Consumer._add_gap = _add_gap
    Consumer._new_offset = _new_offset
