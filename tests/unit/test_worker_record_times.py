"""The worker's plumbing of record append times (no broker): a forwarded case fact keeps its case
record's timestamp (header zs_origin_ts), and a released tick reaches the rules with its own."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

from streams import app as worker
from streams.keyspaces import AGENCY, Outputs
from streams.rules.base import Tick, parse_time


def msg(topic, *, timestamp, headers=(), partition=3, offset=41):
    return SimpleNamespace(topic=topic, partition=partition, offset=offset, timestamp=timestamp,
                           headers=list(headers), key=b"k", value=b"v")


def test_a_forwarded_fact_carries_the_case_records_append_time(monkeypatch):
    sent = []

    async def capture(**kwargs):
        sent.append(kwargs)

    monkeypatch.setattr(worker.facts_by_agency, "send", capture)
    monkeypatch.setattr(worker.facts_by_enterprise, "send", capture)
    original = msg("enforcement.cases", timestamp=1767225600.123, headers=[("ce_id", b"ce-1")])
    filing = {"case_id": "AJ-1", "agency_code": "AGY", "party": {"uscc": "ENT"}}
    fact = worker.Fact(kind="case", value={"event": "decided"}, case=filing)
    asyncio.run(worker.forward_case_fact(original, fact))
    assert [s["key"] for s in sent] == [b"ENT", b"AGY"]
    forwarded = msg("hub.facts-by-agency", timestamp=1767225699.5, headers=sent[1]["headers"], partition=0, offset=7)
    got = worker._fact(forwarded, {"event": "decided"})
    assert got.ts == 1767225600.123  # the case record's, exactly; not the forward's
    assert (got.topic, got.partition, got.offset, got.ce_id) == ("enforcement.cases", 3, 41, "ce-1")
    assert "ts" not in got.evidence("x")
    direct = worker._fact(msg("enforcement.cases", timestamp=1767225600.5), {"event": "decided"})
    assert direct.ts == 1767225600.5


def test_a_released_tick_reaches_the_rules_with_its_append_time(monkeypatch):
    seen = []

    class Index:
        def pop_due(self, partition, at):
            return ["AGY"]

        def note(self, partition, key, state):
            pass

    async def nothing(*args, **kwargs):
        return []

    def dispatch(space, state, item, key, config):
        seen.append(item)
        return state, Outputs()

    table = worker.Staged({"AGY": {"agency": {"_due": "1970-01-01T00:00:00+00:00"}},
                           worker.TICKS_KEY.format(0): {"_p": 0, "pending": [[1767225600.25, "2026-01-01T08:00:00+08:00"]]}})
    monkeypatch.setitem(worker.TABLES, AGENCY.name, table)
    monkeypatch.setitem(worker.DUE, AGENCY.name, Index())
    monkeypatch.setitem(worker.GATES, AGENCY.name, SimpleNamespace(ready=lambda partition, ts: True))
    monkeypatch.setattr(worker, "dispatch", dispatch)
    monkeypatch.setattr(worker, "current_config", lambda: None)
    monkeypatch.setattr(worker, "emit", nothing)
    asyncio.run(worker.release_ticks(AGENCY, msg("hub.facts-by-agency", timestamp=0.0, partition=0)))
    assert seen == [Tick(parse_time("2026-01-01T08:00:00+08:00"), 1767225600.25)]
    assert table[worker.TICKS_KEY.format(0)]["pending"] == []
