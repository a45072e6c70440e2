"""The write-behind state cache of streams/app.py: reads see the newest state at once, the
table (store + changelog) gets a state only after every output emitted before it is on the
broker, and a state written again during that wait stays for the next flush."""
from __future__ import annotations

import asyncio
import weakref
from types import SimpleNamespace

import pytest
from faust.streams import _current_event, current_event

from streams import app as worker
from streams import faustfix


class FakeTable(dict):
    """Records each write with the partition Faust would take from the current event, and what
    the broker had acknowledged at that moment."""

    def __init__(self, acked: list):
        super().__init__()
        self.acked, self.writes = acked, []

    def __missing__(self, key):
        return {}

    def __setitem__(self, key, value):
        self.writes.append((key, current_event().message.partition, value, list(self.acked)))
        super().__setitem__(key, value)


class Event:
    __slots__ = ("message", "__weakref__")

    def __init__(self, partition):
        self.message = SimpleNamespace(topic="hotline.workorders", partition=partition)


def handling(partition: int):
    """The agent's context while it handles a record of `partition`."""
    event = Event(partition)
    token = _current_event.set(weakref.ref(event))
    return event, token


@pytest.fixture
def cache(monkeypatch):
    acked: list = []
    table = FakeTable(acked)
    cache = worker.StateCache(worker.ENTERPRISE, table)
    monkeypatch.setattr(worker, "TABLES", {"enterprise": cache})
    monkeypatch.setattr(worker, "UNACKED", [])
    return cache, table, acked


def test_reads_see_a_write_at_once_but_the_table_only_after_the_flush(cache):
    cache, table, _ = cache
    event, token = handling(2)
    try:
        cache["E1"] = {"n": 1}
    finally:
        _current_event.reset(token)
    assert cache["E1"] == {"n": 1} and cache.get("E1") == {"n": 1}
    assert "E1" not in table and table.writes == []
    assert dict(cache.items()) == {"E1": {"n": 1}}
    assert cache["nobody"] == {}  # the table's default, as before

    asyncio.run(worker.flush_state())
    assert table.writes == [("E1", 2, {"n": 1}, [])]  # the partition of the record that wrote it
    assert cache.dirty == {}
    assert cache["E1"] == {"n": 1}


def test_the_state_reaches_the_table_only_after_its_outputs_are_acknowledged(cache):
    cache, table, acked = cache

    async def scenario():
        loop = asyncio.get_running_loop()
        lead = loop.create_future()
        event, token = handling(0)
        try:
            worker.UNACKED.append(lead)
            cache["E1"] = {"_emitted": ["lead-1"]}
        finally:
            _current_event.reset(token)
        flushing = asyncio.ensure_future(worker.flush_state())
        await asyncio.sleep(0.05)
        assert table.writes == []  # the broker has not acknowledged the lead: no state yet
        acked.append("lead-1")
        lead.set_result(None)
        await flushing

    asyncio.run(scenario())
    assert table.writes == [("E1", 0, {"_emitted": ["lead-1"]}, ["lead-1"])]


def test_a_failed_delivery_keeps_the_state_out_of_the_table(cache):
    cache, table, _ = cache

    async def scenario():
        lead = asyncio.get_running_loop().create_future()
        lead.set_exception(RuntimeError("broker refused the lead"))
        event, token = handling(1)
        try:
            worker.UNACKED.append(lead)
            cache["E1"] = {"_emitted": ["lead-1"]}
        finally:
            _current_event.reset(token)
        with pytest.raises(RuntimeError, match="refused"):
            await worker.flush_state()  # the commit that runs it fails: offsets stay uncommitted

    asyncio.run(scenario())
    assert table.writes == []


def test_a_state_written_again_during_the_wait_stays_for_the_next_flush(cache):
    cache, table, _ = cache

    async def scenario():
        lead = asyncio.get_running_loop().create_future()
        event, token = handling(3)
        try:
            worker.UNACKED.append(lead)
            cache["E1"] = {"n": 1}
        finally:
            _current_event.reset(token)
        flushing = asyncio.ensure_future(worker.flush_state())
        await asyncio.sleep(0.01)
        event, token = handling(3)
        try:
            cache["E1"] = {"n": 2}  # the next record of the key, while the flush waits
        finally:
            _current_event.reset(token)
        lead.set_result(None)
        await flushing
        assert [w[2] for w in table.writes] == [{"n": 1}]
        assert cache["E1"] == {"n": 2} and "E1" in cache.dirty
        await worker.flush_state()

    asyncio.run(scenario())
    assert [w[2] for w in table.writes] == [{"n": 1}, {"n": 2}]
    assert cache.dirty == {}


def test_every_offset_commit_runs_the_flush_first():
    faustfix.install()
    assert worker.flush_state in faustfix.BEFORE_COMMIT
    calls = []

    async def hook():
        calls.append("flush")

    async def upstream(self, offsets, start_new_transaction=True):
        calls.append(("commit", dict(offsets)))
        return True

    saved, faustfix.BEFORE_COMMIT[:] = list(faustfix.BEFORE_COMMIT), [hook]
    original, faustfix.UPSTREAM_COMMIT_OFFSETS = faustfix.UPSTREAM_COMMIT_OFFSETS, upstream
    try:
        assert asyncio.run(faustfix._commit_offsets(object(), {"tp": 7})) is True
    finally:
        faustfix.BEFORE_COMMIT[:] = saved
        faustfix.UPSTREAM_COMMIT_OFFSETS = original
    assert calls == ["flush", ("commit", {"tp": 7})]
