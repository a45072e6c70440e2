"""The projector's combining rules, on SQLite and without Kafka: the result depends on each
partition's order only — not on batch boundaries, not on the order of different topics."""
from __future__ import annotations

import random
from collections import namedtuple
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from projections.db import make_engine
from projections.models import Base, Case, CreditState, Lead, LeadHistory, PROJECTED_TABLES, WorkOrder
from projections.projector import CASES, COALESCE, KEEP, Latest, MAX, REPLACE, SUM, Projector, Spec, fold_actions
from schemas.codec import Codec, cloudevent_headers

Rec = namedtuple("Rec", "topic partition offset value headers")
CODEC = Codec()
SCHEMA = {"supervision.leads": "Lead", "supervision.lead-actions": "LeadAction", "enforcement.cases": "CaseEvent",
          "credit.events": "CreditEvent", "hotline.workorders": "WorkOrder"}
UTC = timezone.utc
U1 = "91330203MA2AXXXX0P"   # valid 统一社会信用代码 (the projector skips records the workers would reject)
A1 = "11330200MB0000000U"
TOKEN = "tk_" + "0" * 32


class Log:
    """An in-memory log: appends records per (topic, partition) with increasing offsets."""

    def __init__(self):
        self.next = {}
        self.records = []

    def append(self, topic: str, value: dict, partition: int = 0) -> None:
        off = self.next.get((topic, partition), 0)
        self.next[(topic, partition)] = off + 1
        self.records.append(Rec(topic, partition, off, CODEC.encode(SCHEMA[topic], value),
                                cloudevent_headers(ce_id=f"{topic}-{partition}-{off}", source="/t", type="t",
                                                   time="2026-01-01T00:00:00+08:00")))


def lead(lead_id: str, **over) -> dict:
    rec = {"lead_id": lead_id, "rule_code": "INSP_NO_CODE", "rule_name": "未亮码检查", "severity": "中",
           "subject": {"type": "agency", "id": "A1", "name": None}, "agency_code": "A1", "region_code": "330203",
           "detected_at": "2026-05-06T09:30:00+08:00", "evidence": [], "explanation": "e", "due_at": None,
           "status": "待认领"}
    rec.update(over)
    return rec


def action(lead_id: str, kind: str, version: int, **over) -> dict:
    rec = {"action_id": f"LA-{lead_id}-{version}", "lead_id": lead_id, "action": kind, "actor": "staff-1",
           "at": (datetime(2026, 5, 7, tzinfo=UTC) + timedelta(hours=version)).isoformat(), "version": version,
           "note": None, "outcome": None}
    rec.update(over)
    return rec


def case(case_id: str, event: str, **fields) -> dict:
    return {"source_event_id": f"{case_id}-{event}-{len(fields)}", "case_id": case_id, "event": event, **fields}


def credit(uscc: str, sid: str, kind: str, at: str, **fields) -> dict:
    return {"source_event_id": sid, "uscc": uscc, "kind": kind, "at": at, **fields}


def a_log() -> Log:
    log = Log()
    log.append("supervision.lead-actions", action("L1", "claimed", 1))
    log.append("supervision.lead-actions", action("L1", "resolved", 2, outcome="已整改"))
    log.append("enforcement.cases", case("C1", "filed", agency_code=A1, region_code="330203",
                                         filed_at="2026-02-01T09:00:00+08:00", matter_code="M1", source_refs=[],
                                         party={"type": "法人及非法人组织", "uscc": U1, "name": "某公司"}))
    log.append("enforcement.cases", case("C1", "decided", decision_no="D1", decided_at="2026-03-02T10:00:00+08:00",
                                         procedure="普通", penalty_types=["罚款"], fine_amount=Decimal("5000.00")))
    log.append("enforcement.cases", case("C1", "extended", days=30, approved_at="2026-04-01T10:00:00+08:00"))
    log.append("enforcement.cases", case("C1", "extended", days=15, approved_at="2026-05-01T10:00:00+08:00"))
    log.append("credit.events", credit(U1, "s1", "risk_class_changed", "2026-04-01T00:00:00+08:00", risk_class="C"))
    log.append("credit.events", credit(U1, "s2", "risk_class_changed", "2026-03-01T00:00:00+08:00", risk_class="B"))
    log.append("credit.events", credit(U1, "s3", "repair_applied", "2026-06-01T00:00:00+08:00", decision_no="D1"))
    log.append("supervision.leads", lead("L1"), partition=1)
    log.append("supervision.leads", lead("L1", explanation="更新后的说明"), partition=1)
    log.append("supervision.leads", lead("L2", region_code="330212"), partition=2)
    log.append("supervision.lead-actions", action("L2", "claimed", 1), partition=2)
    return log


def project(tmp_path, name: str, batches) -> dict:
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    p = Projector(engine, "unused:9092")
    for batch in batches:
        p.apply(batch)
    out = {}
    with engine.connect() as c:
        for t in PROJECTED_TABLES:
            table = Base.metadata.tables[t]
            cols = [col for col in table.columns if (t, col.name) != ("leads", "change_seq")]
            out[t] = sorted((tuple(r) for r in c.execute(select(*cols))), key=repr)
    engine.dispose()
    return out


def test_batch_boundaries_do_not_change_the_result(tmp_path):
    records = a_log().records
    whole = project(tmp_path, "whole.db", [records])
    singles = project(tmp_path, "singles.db", [[r] for r in records])
    pairs = project(tmp_path, "pairs.db", [records[i:i + 2] for i in range(0, len(records), 2)])
    assert whole == singles == pairs


def test_topic_interleaving_does_not_change_the_result(tmp_path):
    """Partitions keep their order; how topics interleave (rebuild vs live) does not matter:
    here actions are read before the lead they act on."""
    records = a_log().records
    by_partition = {}
    for r in records:
        by_partition.setdefault((r.topic, r.partition), []).append(r)
    expected = project(tmp_path, "in-order.db", [[r] for r in records])
    rng = random.Random(6)
    for attempt in range(3):
        queues = {k: list(v) for k, v in by_partition.items()}
        shuffled = []
        while queues:
            k = rng.choice(sorted(queues))
            shuffled.append(queues[k].pop(0))
            if not queues[k]:
                del queues[k]
        assert project(tmp_path, f"shuffled-{attempt}.db", [[r] for r in shuffled]) == expected


def test_lead_status_is_folded_from_actions_that_came_first(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fold.db'}")
    p = Projector(engine, "unused:9092")
    log = a_log()
    actions = [r for r in log.records if r.topic == "supervision.lead-actions"]
    leads = [r for r in log.records if r.topic == "supervision.leads"]
    p.apply(actions)
    with engine.connect() as c:
        assert c.execute(select(Lead)).first() is None
        assert len(c.execute(select(LeadHistory)).all()) == 3  # parked until their leads arrive
    p.apply(leads)
    with engine.connect() as c:
        rows = {r.lead_id: r for r in c.execute(select(Lead))}
    assert (rows["L1"].status, rows["L1"].version, rows["L1"].outcome) == ("已办结", 3, "已整改")
    assert rows["L1"].explanation == "更新后的说明"  # the rule's update of the finding, status untouched
    assert (rows["L2"].status, rows["L2"].version, rows["L2"].assignee) == ("处理中", 2, "staff-1")
    engine.dispose()


def test_cases_fold_their_lifecycle_and_credit_state_follows_event_time(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    Projector(engine, "unused:9092").apply(a_log().records)
    with engine.connect() as c:
        row = c.execute(select(Case).where(Case.case_id == "C1")).one()
        st = c.execute(select(CreditState)).one()
    assert (row.party_uscc, row.decision_no, row.fine_amount, row.extended_days, row.events) == \
        (U1, "D1", Decimal("5000.00"), 45, 4)
    assert row.penalty_types == ["罚款"] and row.source_refs == []
    assert (st.risk_class, st.events) == ("C", 3)  # 04-01 is later than 03-01, though it came first
    engine.dispose()


def test_redelivered_records_are_skipped_by_their_stored_offsets(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    p = Projector(engine, "unused:9092")
    log = Log()
    order = {"source_event_id": "w1", "order_id": "GD1", "received_at": "2026-05-06T09:30:00+08:00",
             "channel": "电话", "category": "投诉", "topic": "噪音", "content": "内容",
             "subject": {"name": "某公司", "uscc": None}, "region_code": "330203",
             "complainant": {"name_token": TOKEN, "phone_token": TOKEN}, "status": "受理"}
    log.append("hotline.workorders", order)
    log.append("hotline.workorders", {**order, "source_event_id": "w2", "status": "办结"})
    p.apply(log.records)
    p.apply(log.records)
    p.apply(log.records[1:])
    with engine.connect() as c:
        row = c.execute(select(WorkOrder.events, WorkOrder.status)).one()
    assert tuple(row) == (2, "办结")
    engine.dispose()


@pytest.mark.parametrize("policy, rows, expected", [
    (REPLACE, [1, None], None),
    (COALESCE, [1, None], 1),
    (COALESCE, [1, 2], 2),
    (SUM, [1, 2, None], 3),
    (MAX, [3, None, 2], 3),
    (KEEP, [1, 2], 1),
])
def test_python_merge_and_sql_upsert_agree(tmp_path, policy, rows, expected):
    """The same rows through Spec.merge (inside a batch) and through ON CONFLICT (across
    batches) give the same value."""
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine

    md = MetaData()
    table = Table("t", md, Column("k", Integer, primary_key=True), Column("v", Integer))

    class Model:
        __table__ = table

    spec = Spec(Model, v=policy)
    merged = None
    for v in rows:
        row = spec.row(k=1, v=v)
        merged = row if merged is None else spec.merge(merged, row)
    assert merged["v"] == expected
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    md.create_all(engine)
    with engine.begin() as c:
        for v in rows:
            c.execute(spec.upsert("sqlite"), [spec.row(k=1, v=v)])
        assert c.execute(select(table.c.v)).scalar() == expected


def test_latest_follows_the_newest_time_not_the_last_arrival():
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

    table = Table("s", MetaData(), Column("k", Integer, primary_key=True), Column("cls", String),
                  Column("at", DateTime))

    class Model:
        __table__ = table

    spec = Spec(Model, cls=Latest("at"), at=Latest("at"))
    new = spec.row(k=1, cls="C", at=datetime(2026, 4, 1))
    old = spec.row(k=1, cls="B", at=datetime(2026, 3, 1))
    none = spec.row(k=1, cls=None, at=None)
    assert spec.merge(spec.merge(new, old), none)["cls"] == "C"
    assert spec.merge(old, new)["cls"] == "C"


def test_fold_actions_is_independent_of_arrival_order():
    acts = [
        {"action_id": "a", "action": "claimed", "actor": "x", "at": datetime(2026, 5, 1, tzinfo=UTC), "version": 2},
        {"action_id": "b", "action": "resolved", "actor": "x", "at": datetime(2026, 5, 2, tzinfo=UTC), "version": 3,
         "outcome": "已整改"},
        {"action_id": "c", "action": "reopened", "actor": "y", "at": datetime(2026, 5, 3, tzinfo=UTC), "version": 4,
         "note": "复核"},
    ]
    for order in (acts, acts[::-1], [acts[1], acts[2], acts[0]]):
        st = fold_actions(order)
        assert (st["status"], st["version"], st["assignee"], st["outcome"], st["note"]) == \
            ("待认领", 4, None, None, "复核")
    assert fold_actions(acts[:2])["outcome"] == "已整改" and fold_actions(acts[:2])["assignee"] == "x"
    assert fold_actions([])["status"] == "待认领" and fold_actions([])["version"] == 1


def test_cases_spec_fills_only_what_an_event_carries():
    filed = CASES.row(case_id="C", region_code="330203", events=1)
    decided = CASES.row(case_id="C", decision_no="D", fine_amount=Decimal("1"), events=1)
    merged = CASES.merge(filed, decided)
    assert (merged["region_code"], merged["decision_no"], merged["events"], merged["extended_days"]) == \
        ("330203", "D", 2, 0)


def test_records_the_workers_would_dead_letter_are_not_projected(tmp_path):
    """A record written straight to an ingress topic with a bad check character is parked by
    the workers (connectors.validation.check_decoded); the projector passes over it too."""
    engine = make_engine(f"sqlite:///{tmp_path / 'dl.db'}")
    log = Log()
    log.append("credit.events", credit("91330203MA2AXXXX0Q", "bad", "risk_class_changed",
                                       "2026-04-01T00:00:00+08:00", risk_class="C"))
    log.append("credit.events", credit(U1, "good", "risk_class_changed", "2026-04-01T00:00:00+08:00", risk_class="C"))
    Projector(engine, "unused:9092").apply(log.records)
    with engine.connect() as c:
        assert [r.uscc for r in c.execute(select(CreditState))] == [U1]
    engine.dispose()


def test_refold_repairs_a_lead_whose_actions_were_folded_elsewhere(tmp_path):
    """A parallel rebuild may write a lead and its actions from different processes; the final
    refold gives every lead the status its whole history says."""
    from sqlalchemy.orm import Session

    from projections.projector import refold_leads

    engine = make_engine(f"sqlite:///{tmp_path / 'refold.db'}")
    p = Projector(engine, "unused:9092")
    log = a_log()
    p.apply([r for r in log.records if r.topic == "supervision.leads"])
    with engine.begin() as c:  # history arrives without a fold, as from another process
        c.execute(LeadHistory.__table__.insert(), [
            {"action_id": "X1", "lead_id": "L2", "action": "claimed", "actor": "a", "version": 2,
             "at": datetime(2026, 5, 8, tzinfo=UTC)}])
    with Session(engine) as s, s.begin():
        assert refold_leads(s) == 1
    with engine.connect() as c:
        row = c.execute(select(Lead.status, Lead.version, Lead.assignee).where(Lead.lead_id == "L2")).one()
    assert tuple(row) == ("处理中", 2, "a")
    engine.dispose()
