"""A projector that dies in the middle of a batch leaves nothing behind: no rows, no offsets;
running the batch again gives exactly the rows one clean pass gives (no event counted twice),
whatever the batch size."""
from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from sqlalchemy import func, select

from projections import projector as projector_module
from projections.db import make_engine
from projections.models import PROJECTED_TABLES, Base, ProjectorOffset, WorkOrder
from projections.projector import PROJECTED_TOPICS, Projector
from projections.schema import ensure_schema
from schemas.codec import CE_TYPES, Codec, cloudevent_headers
from streams.topics import create_topics

from .test_projections_support import (
    assert_same_tables, case_decided, case_filed, inspection, lead, lead_action, new_agency, new_uscc, produce,
    snapshot, uid, work_order,
)

pytestmark = pytest.mark.integration


def _append_ingress(bootstrap: str, topic: str, records: list[dict], key) -> None:
    codec = Codec()
    schema = {"hotline.workorders": "WorkOrder", "enforcement.inspections": "Inspection",
              "enforcement.cases": "CaseEvent"}[topic]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for rec in records:
        producer.send(topic, key=key(rec).encode(), value=codec.encode(schema, rec),
                      headers=cloudevent_headers(ce_id=rec["source_event_id"], source="/tests", type=CE_TYPES[topic],
                                                 time="2026-05-06T10:00:00+08:00"))
    producer.flush()
    producer.close()


def _normalised(rec: dict) -> dict:
    """What intake would have produced: complainant as tokens, amounts as Decimal."""
    from decimal import Decimal

    out = dict(rec)
    if "complainant" in out:
        out["complainant"] = {"name_token": "tk_" + uid(32), "phone_token": "tk_" + uid(32)}
    if out.get("fine_amount") is not None:
        out["fine_amount"] = Decimal(out["fine_amount"])
    return out


def _all_records(bootstrap: str) -> list:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    tps = [TopicPartition(t, p) for t in PROJECTED_TOPICS for p in sorted(consumer.partitions_for_topic(t) or ())]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    records = []
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        for tp, msgs in consumer.poll(timeout_ms=1000).items():
            records.extend(m for m in msgs if m.offset < ends[tp])
    consumer.close()
    return sorted(records, key=lambda m: (m.topic, m.partition, m.offset))


def _counts(engine) -> dict:
    with engine.connect() as c:
        return {t: c.execute(select(func.count()).select_from(Base.metadata.tables[t])).scalar()
                for t in PROJECTED_TABLES}


def test_a_crash_inside_a_batch_commits_nothing_and_a_rerun_counts_exactly(kafka_bootstrap, pg_url, monkeypatch,
                                                                            tmp_path):
    create_topics(kafka_bootstrap, 4)
    agency, uscc = new_agency(), new_uscc()
    order = _normalised(work_order(uscc))
    second = {**order, "source_event_id": order["source_event_id"] + "-2", "status": "办结"}
    _append_ingress(kafka_bootstrap, "hotline.workorders", [order, second], key=lambda r: r["subject"]["uscc"])
    _append_ingress(kafka_bootstrap, "enforcement.inspections",
                    [{**inspection(agency, uscc), "occurred_at": None, "risk_class": None, "rectification_due": None}
                     for _ in range(3)], key=lambda r: r["target"]["uscc"])
    case_id = f"AJ-crash-{uid(8)}"
    _append_ingress(kafka_bootstrap, "enforcement.cases",
                    [_normalised(case_filed(case_id, agency, uscc)),
                     _normalised(case_decided(case_id, "2026-03-02T10:00:00+08:00"))], key=lambda r: r["case_id"])
    raised = lead(agency_code=agency)
    produce(kafka_bootstrap, "supervision.leads", [raised])
    produce(kafka_bootstrap, "supervision.lead-actions", [lead_action(raised["lead_id"], "claimed", 1)])
    records = _all_records(kafka_bootstrap)
    assert len(records) >= 9

    engine = make_engine(pg_url)
    ensure_schema(engine)
    projector = Projector(engine, kafka_bootstrap, migrate=False)

    # die after the work orders, inspections and cases of the batch were written, inside the transaction
    real_write = projector_module.LEADS.write
    calls = []

    def dying_write(s, rows):
        calls.append(len(rows))
        raise RuntimeError("simulated crash in the middle of a batch")

    monkeypatch.setattr(projector_module.LEADS, "write", dying_write)
    with pytest.raises(RuntimeError, match="simulated crash"):
        projector.apply(records)
    assert calls, "the crash happened after earlier tables of the batch had been written"
    assert _counts(engine) == {t: 0 for t in PROJECTED_TABLES}, "nothing of the batch was committed"

    # a crash in a handler (half-way through decoding the batch) leaves nothing either
    monkeypatch.setattr(projector_module.LEADS, "write", real_write)
    seen = []

    def dying_handler(s, v, msg):
        seen.append(msg.offset)
        if len(seen) == 2:
            raise RuntimeError("handler crash")
        return projector_module.project_inspection(s, v, msg)

    monkeypatch.setitem(projector_module.HANDLERS, "enforcement.inspections", dying_handler)
    with pytest.raises(RuntimeError, match="handler crash"):
        projector.apply(records)
    assert _counts(engine)["inspections"] == 0 and _counts(engine)["projector_offsets"] == 0
    monkeypatch.setitem(projector_module.HANDLERS, "enforcement.inspections", projector_module.project_inspection)

    # the restart: the same batch again, then once more (a redelivery) — nothing is counted twice
    projector.apply(records)
    projector.apply(records)
    with engine.connect() as c:
        row = c.execute(select(WorkOrder.events, WorkOrder.status).where(WorkOrder.order_id == order["order_id"])).one()
        assert tuple(row) == (2, "办结")
        stored = {(r.topic, r.partition): r.next_offset for r in c.execute(select(ProjectorOffset))}
    last = {}
    for m in records:
        last[(m.topic, m.partition)] = m.offset + 1
    assert stored == last

    # one clean pass in batches of 3 builds the same tables row by row
    other_url = f"sqlite:///{tmp_path / 'clean.db'}"
    clean = Projector(make_engine(other_url), kafka_bootstrap)
    for i in range(0, len(records), 3):
        clean.apply(records[i:i + 3])
    assert_same_tables(snapshot(pg_url), snapshot(other_url))
    engine.dispose()
