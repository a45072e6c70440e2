"""The worker's batch stage (streams/app.py `Staged`): states reach the table only after the
batch's outputs are acknowledged, each under its own record's partition, and a failed delivery
writes nothing. The table is a dict standing in for Faust's (a real Faust table needs a running
worker; tests/faults/test_crash.py is the real-broker proof of the same property)."""
from __future__ import annotations

import asyncio
import weakref
from types import SimpleNamespace

import pytest
from faust.streams import _current_event, current_event

from streams import app as worker


class RecordingTable(dict):
    """Records which event was current at each write, as Faust takes the changelog partition from it."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.writes: list[tuple[str, int]] = []

    def __setitem__(self, key, value):
        self.writes.append((key, current_event().message.partition))
        super().__setitem__(key, value)


class Event:
    def __init__(self, partition):
        self.message = SimpleNamespace(partition=partition, topic="t", offset=0)


def _as_current(event, fn):
    token = _current_event.set(weakref.ref(event))
    try:
        return fn()
    finally:
        _current_event.reset(token)


def test_reads_see_the_batch_and_the_table_only_after_the_flush():
    async def go():
        table = RecordingTable(old={"n": 1})
        staged = worker.Staged(table)
        e0, e1 = Event(0), Event(1)
        loop = asyncio.get_running_loop()
        ack = loop.create_future()
        staged.sent.append(ack)
        _as_current(e0, lambda: staged.__setitem__("a", {"n": 1}))
        _as_current(e1, lambda: staged.__setitem__("b", {"n": 2}))
        _as_current(e0, lambda: staged.__setitem__("a", {"n": 3}))  # written twice: once to the table
        assert staged["a"] == {"n": 3} and staged.get("b") == {"n": 2} and staged["old"] == {"n": 1}
        assert dict(staged.items()) == {"old": {"n": 1}, "a": {"n": 3}, "b": {"n": 2}}
        flushing = asyncio.ensure_future(staged.flush())
        await asyncio.sleep(0.05)
        assert not flushing.done() and table.writes == [], "nothing is written before the outputs are acknowledged"
        ack.set_result(None)
        await flushing
        assert table == {"old": {"n": 1}, "a": {"n": 3}, "b": {"n": 2}}
        assert sorted(table.writes) == [("a", 0), ("b", 1)], "each key under its own record's partition"
        assert staged.dirty == {} and staged.sent == []

    asyncio.run(go())


def test_a_failed_delivery_writes_nothing():
    async def go():
        table = RecordingTable()
        staged = worker.Staged(table)
        failed = asyncio.get_running_loop().create_future()
        failed.set_exception(RuntimeError("broker said no"))
        staged.sent.append(failed)
        _as_current(Event(2), lambda: staged.__setitem__("a", {"emitted": ["L1"]}))
        with pytest.raises(RuntimeError, match="broker said no"):
            await staged.flush()
        assert table == {} and table.writes == []
        staged.discard()
        assert staged.get("a") is None and staged.sent == []

    asyncio.run(go())


class MissingIsEmpty(RecordingTable):
    def __missing__(self, key):  # Faust's Table with default=dict
        return {}


def test_a_record_that_changes_no_state_writes_nothing(monkeypatch):
    """A 咨询 work order no rule takes, or a redelivered complaint, leaves the table and its
    changelog alone: no record, and no empty state kept for a subject no rule follows."""
    from schemas.codec import Codec
    from streams.keyspaces import ENTERPRISE
    from tests.unit.test_codec import RECORDS

    ENTERPRISE.load()
    codec = Codec()
    table = MissingIsEmpty()
    staged = worker.Staged(table)
    monkeypatch.setitem(worker.TABLES, ENTERPRISE.name, staged)
    monkeypatch.setattr(worker, "emit", lambda outputs, msg: asyncio.sleep(0, result=[]))
    uscc = RECORDS["WorkOrder"]["subject"]["uscc"]

    def record(offset: int, **over):
        value = codec.encode("WorkOrder", {**RECORDS["WorkOrder"], **over})
        return SimpleNamespace(topic="hotline.workorders", partition=2, offset=offset, key=uscc.encode(), value=value,
                               headers=[("ce_id", f"ce-{offset}".encode())], timestamp=1777600000.0 + offset,
                               tp=("hotline.workorders", 2))

    def handle(msg):
        async def go():
            event = Event(msg.partition)
            event.message = msg
            token = _current_event.set(weakref.ref(event))
            try:
                await worker.handle_fact(ENTERPRISE, msg)
            finally:
                _current_event.reset(token)
            await staged.flush()
        asyncio.run(go())

    handle(record(1, category="咨询", order_id="GD-ASK"))
    assert table == {} and table.writes == [], "a 咨询 work order is no rule's input"
    complaint = record(2)
    handle(complaint)
    assert list(table) == [uscc] and table.writes == [(uscc, 2)]
    kept = table[uscc]
    handle(complaint)  # redelivered after a crash: seen already
    assert table.writes == [(uscc, 2)] and table[uscc] == kept
    # a state an older worker wrote without its partition gets it with the next record: the
    # tick index (DueIndex) finds a key's deadlines by that partition
    dict.__setitem__(table, uscc, {k: v for k, v in kept.items() if k != "_p"})
    table.writes.clear()
    handle(record(3, category="咨询", order_id="GD-ASK-2"))
    assert table.writes == [(uscc, 2)] and table[uscc] == kept
