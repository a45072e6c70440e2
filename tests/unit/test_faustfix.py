"""Faust's producer-buffer flush, which runs before every offset commit, must not return while a
table's changelog record is still queued or on its way to aiokafka (streams/faustfix.py)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from faust.transport.producer import ProducerBuffer

from streams import faustfix


class SlowChannel:
    """Hands each record to 'aiokafka' only after `delay` seconds, as on a loaded machine."""

    def __init__(self, delay: float):
        self.delay, self.handed = delay, []

    async def publish_message(self, fut, wait=False):
        await asyncio.sleep(self.delay)
        self.handed.append(fut.name)


def _record(channel, name):
    return SimpleNamespace(name=name, message=SimpleNamespace(channel=channel))


async def _flushed_after(flush, delay: float, n: int) -> tuple[list, int]:
    buf = ProducerBuffer()
    buf.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    channel = SlowChannel(delay)
    await buf.start()
    try:
        for i in range(n):
            buf.put(_record(channel, i))
        await asyncio.sleep(0)  # the sender task takes the first record off the queue
        await flush(buf)
        handed = list(channel.handed)
        await asyncio.sleep(delay * (n + 1))  # let the rest drain before the buffer stops
        return handed, n
    finally:
        await buf.stop()


@pytest.fixture(autouse=True)
def _installed():
    faustfix.install()
    yield


def test_upstream_flush_returns_with_records_not_handed_over():
    """The control: without the fix a commit would go ahead with changelog records pending."""
    handed, n = asyncio.run(_flushed_after(faustfix.UPSTREAM_FLUSH, delay=0.25, n=3))
    assert len(handed) < n


def test_flush_waits_until_every_record_is_handed_to_the_producer():
    handed, n = asyncio.run(_flushed_after(ProducerBuffer.flush, delay=0.25, n=3))
    assert handed == list(range(n))


def test_flush_of_an_empty_buffer_returns_at_once():
    handed, n = asyncio.run(_flushed_after(ProducerBuffer.flush, delay=0.25, n=0))
    assert handed == []


class _Gaps:
    """The consumer state `_add_gap` touches: upstream records gaps in an interval tree."""

    def __init__(self):
        from collections import defaultdict

        from intervaltree import IntervalTree

        self._committed_offset = defaultdict(lambda: 10)
        self._gap = defaultdict(IntervalTree)


def _jump(monkeypatch, topic: str, first_existing):
    from faust.types import TP

    restarts, asked = [], []

    async def first_offset_from(tp, offset):
        asked.append((tp.topic, offset))
        return first_existing

    monkeypatch.setattr(faustfix, "first_offset_from", first_offset_from)
    monkeypatch.setattr(faustfix, "restart_worker", lambda: restarts.append(True))
    faustfix.install(strict_topics=("enforcement.inspections",), bootstrap="127.0.0.1:1")
    consumer = _Gaps()
    tp = TP(topic, 0)
    # the last delivered offset was 15, the fetch now delivers 87
    asyncio.run(faustfix._add_gap(consumer, tp, 16, 87))
    return sorted((iv.begin, iv.end) for iv in consumer._gap[tp]), restarts, asked


def test_a_jump_over_existing_records_is_not_counted_as_processed(monkeypatch):
    gaps, restarts, asked = _jump(monkeypatch, "enforcement.inspections", first_existing=16)
    assert gaps == [] and restarts == [True] and asked == [("enforcement.inspections", 16)]


def test_a_real_gap_in_a_strict_topic_is_filled_as_upstream(monkeypatch):
    gaps, restarts, _ = _jump(monkeypatch, "enforcement.inspections", first_existing=87)
    assert gaps == [(16, 88)] and restarts == []


def test_other_topics_keep_upstream_gap_handling_without_a_log_check(monkeypatch):
    gaps, restarts, asked = _jump(monkeypatch, "reference.holidays", first_existing=16)
    assert gaps == [(16, 88)] and restarts == [] and asked == []


class _Offsets(_Gaps):
    def __init__(self, committed, acked):
        super().__init__()
        self._committed_offset = {TP_INSP: committed}
        self._acked = {TP_INSP: list(acked)}
        self._acked_index = {TP_INSP: set(acked)}


from faust.types import TP  # noqa: E402

TP_INSP = TP("enforcement.inspections", 3)


def _head(monkeypatch, committed, acked, first_existing):
    restarts = []

    async def first_offset_from(tp, offset):
        return first_existing

    monkeypatch.setattr(faustfix, "first_offset_from", first_offset_from)
    monkeypatch.setattr(faustfix, "restart_worker", lambda: restarts.append(True))
    faustfix.install(strict_topics=("enforcement.inspections",), bootstrap="127.0.0.1:1")
    consumer = _Offsets(committed, acked)

    async def run():
        first = faustfix._new_offset(consumer, TP_INSP)
        await asyncio.sleep(0.01)  # the log check
        return first, faustfix._new_offset(consumer, TP_INSP)

    first, second = asyncio.run(run())
    return first, second, restarts


def test_a_record_missing_at_the_head_holds_the_commit_and_restarts(monkeypatch):
    # committed 17 = the next record to read; 17 was dropped, 18 and 19 were processed
    first, second, restarts = _head(monkeypatch, 17, [18, 19], first_existing=17)
    assert (first, second, restarts) == (None, None, [True])


def test_a_head_hole_with_no_records_in_the_log_lets_the_commit_pass(monkeypatch):
    first, second, restarts = _head(monkeypatch, 17, [18, 19], first_existing=18)
    assert (first, second, restarts) == (None, 20, [])


def test_a_contiguous_head_commits_as_upstream(monkeypatch):
    first, second, restarts = _head(monkeypatch, 17, [17, 18, 19], first_existing=17)
    assert (first, second, restarts) == (20, None, [])
