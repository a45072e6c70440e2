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

    async def capture(topic, key, value, headers):
        sent.append({"topic": topic, "key": key, "value": value, "headers": headers})

    monkeypatch.setattr(worker, "produce", capture)
    original = msg("enforcement.cases", timestamp=1767225600.123, headers=[("ce_id", b"ce-1")])
    filing = {"case_id": "AJ-1", "agency_code": "AGY", "party": {"uscc": "ENT"}}
    fact = worker.Fact(kind="case", value={"event": "decided"}, case=filing)
    asyncio.run(worker.forward_case_fact(original, fact))
    assert [(s["topic"], s["key"]) for s in sent] == [("hub.facts-by-enterprise", b"ENT"), ("hub.facts-by-agency", b"AGY")]
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


def test_a_case_fact_is_forwarded_only_to_the_key_spaces_whose_rules_take_it(monkeypatch):
    sent = []

    async def capture(topic, key, value, headers):
        sent.append((topic.removeprefix("hub.facts-by-"), key))

    monkeypatch.setattr(worker, "produce", capture)
    filing = {"case_id": "AJ-1", "agency_code": "AGY", "party": {"uscc": "ENT"}, "filed_at": "2026-01-05T09:00:00+08:00"}

    def forwarded(event: str) -> list:
        sent.clear()
        original = msg("enforcement.cases", timestamp=1767225600.0, headers=[("ce_id", f"ce-{event}".encode())])
        value = {"event": event, "case_id": "AJ-1", **({"party": filing["party"]} if event == "filed" else {})}
        asyncio.run(worker.forward_case_fact(original, worker.Fact(kind="case", value=value, case=filing)))
        return sorted(sent)

    # AGY_FINE_SURGE keys decisions only; the enterprise rules (公示, 信用修复, 当事人) take the rest
    assert forwarded("decided") == [("agency", b"AGY"), ("enterprise", b"ENT")]
    assert forwarded("filed") == [("enterprise", b"ENT")]
    assert forwarded("published") == [("enterprise", b"ENT")]
    assert forwarded("legal_reviewed") == []  # no rule of either space takes it


def test_takes_agrees_with_dispatch_for_every_case_event(monkeypatch):
    """The case worker's routing (takes) and the receiving space's dispatch must never disagree:
    a fact forwarded that no rule takes costs a hop; one not forwarded that a rule takes is lost."""
    from streams.keyspaces import ENTERPRISE, SPACES, dispatch, takes
    from streams.rules.base import RuleConfig
    from streams.rules.config import load_thresholds

    ran = []
    for space in SPACES:
        space.load()
        for module in space.modules:
            monkeypatch.setattr(module, "evaluate", lambda state, item, cfg, name=module.__name__: (ran.append(name), (state, []))[1])
    config = RuleConfig(thresholds=load_thresholds(), reference={})
    filing = {"case_id": "AJ-1", "agency_code": "AGY", "party": {"uscc": "91350100M000100Y47"},
              "filed_at": "2026-01-05T09:00:00+08:00", "region_code": "350100", "matter_code": "M1"}
    events = ("filed", "legal_reviewed", "decided", "recorded", "published", "unpublished", "fulfilled",
              "rectified", "revoked", "suspended", "resumed", "extended")
    for space, key in ((ENTERPRISE, "91350100M000100Y47"), (AGENCY, "AGY")):
        for event in events:
            value = {"event": event, "case_id": "AJ-1", "decided_at": "2026-02-01T10:00:00+08:00",
                     "occurred_at": "2026-02-01T10:00:00+08:00", **({"party": filing["party"]} if event == "filed" else {})}
            fact = worker.Fact(kind="case", value=value, case=filing, topic="enforcement.cases", offset=1, ce_id=f"ce-{event}")
            ran.clear()
            dispatch(space, {}, fact, key, config)
            assert takes(space, fact) == bool(ran), (space.name, event, ran)


def test_the_rule_configuration_is_read_once_per_batch_and_afresh_for_the_next(monkeypatch):
    reads, seen = [], []

    def current_config():
        reads.append(object())
        return reads[-1]

    async def handle(space, event):
        seen.append((event, worker.batch_config(), worker.batch_config()))

    monkeypatch.setattr(worker, "current_config", current_config)
    monkeypatch.setattr(worker, "handle", handle)
    monkeypatch.setitem(worker.TABLES, AGENCY.name, worker.Staged({}))
    class Event:  # weak-referenceable, as Faust's events are (the worker makes each current)
        def __init__(self, message):
            self.message = message

    events = [Event(msg("hub.facts-by-agency", timestamp=0.0, offset=i)) for i in range(3)]
    asyncio.run(worker.handle_batch(AGENCY, events))
    assert len(reads) == 1 and {id(c) for _, a, b in seen for c in (a, b)} == {id(reads[0])}
    asyncio.run(worker.handle_batch(AGENCY, events[:1]))
    assert len(reads) == 2 and seen[-1][1] is reads[1], "a new batch reads the configuration again"
    assert worker._batch_config.get() is None, "nothing is kept outside a batch"
