"""`zhongshu projections rebuild`: replaying the log from offset zero into fresh tables and
swapping them in gives, row by row, the database the live projector built."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from projections.db import make_engine
from projections.models import ApiKey, IntakeLedger, Lead, LeadClaim

from .test_projections_support import (
    assert_same_tables, case_decided, case_event, case_filed, client, inspection, lead, lead_action, new_agency,
    new_uscc, post, produce, snapshot, trigger, work_order,
)

pytestmark = pytest.mark.integration


def test_rebuild_reproduces_every_projected_table_row_by_row(hub):
    admin = hub.admin
    enforcement, hotline, credit = client(hub, "enforcement"), client(hub, "hotline"), client(hub, "credit")
    staff = client(hub, "supervisor")
    agency, uscc = new_agency(), new_uscc()

    order = work_order(uscc)
    post(hotline, "hotline/workorders", order)
    post(hotline, "hotline/workorders", {**order, "source_event_id": order["source_event_id"] + "-2",
                                         "status": "办理", "occurred_at": "2026-05-07T09:00:00+08:00"})
    post(enforcement, "enforcement/inspections", [
        inspection(agency, uscc), inspection(agency, uscc, action_code=None, joint_agency_codes=[new_agency()])])
    case_id = f"AJ-{uscc[-6:]}-{time.time_ns()}"
    decided = case_decided(case_id, "2026-03-02T10:00:00+08:00")
    post(enforcement, "enforcement/cases", [
        case_filed(case_id, agency, uscc), decided,
        case_event(case_id, "published", published_at="2026-03-20T10:00:00+08:00", channel="信用中国", masked=True),
        case_event(case_id, "fulfilled", at="2026-03-25T10:00:00+08:00")])
    post(credit, "credit/events", [
        {"source_event_id": f"cr-{uscc}-1", "uscc": uscc, "kind": "risk_class_changed", "risk_class": "C",
         "at": "2026-04-01T00:00:00+08:00"},
        {"source_event_id": f"cr-{uscc}-2", "uscc": uscc, "kind": "risk_class_changed", "risk_class": "B",
         "at": "2026-03-01T00:00:00+08:00"},
        {"source_event_id": f"cr-{uscc}-3", "uscc": uscc, "kind": "repair_applied",
         "decision_no": decided["decision_no"], "at": "2026-06-21T00:00:00+08:00"}])
    post(client(hub, "justice"), "justice/transfers", {"source_event_id": f"xf-{case_id}", "case_id": case_id,
                                                       "kind": "report_made", "at": "2026-03-03T09:00:00+08:00"})
    produce(hub.bootstrap, "credit.repair-triggers", [trigger(uscc, decided["decision_no"])])

    # a lead worked through the API, and one whose action reaches the log before the lead does
    worked = lead(agency_code=agency)
    orphan = lead(agency_code=agency, rule_code="PEN_DISCRETION", rule_name="裁量越档")
    produce(hub.bootstrap, "supervision.leads", [worked])
    produce(hub.bootstrap, "supervision.lead-actions", [lead_action(orphan["lead_id"], "claimed", 1)])
    hub.sync()
    assert staff.post(f"/api/v1/leads/{worked['lead_id']}/claim", json={"version": 1}).status_code == 202
    assert staff.post(f"/api/v1/leads/{worked['lead_id']}/resolve",
                      json={"version": 2, "outcome": "已责令改正"}).status_code == 202
    produce(hub.bootstrap, "supervision.leads", [orphan])
    hub.sync()

    got = staff.get(f"/api/v1/leads/{orphan['lead_id']}").json()
    assert (got["status"], got["version"]) == ("处理中", 2), "the early action is folded in when the lead arrives"
    live = snapshot(hub.db_url)
    assert live["inspections"] and live["cases"] and live["timeline"] and live["credit_repairs"]

    out = hub.cli("projections", "rebuild", "--no-progress")
    assert "swapped them in" in out.stdout, out.stdout + out.stderr
    hub.sync()
    rebuilt = snapshot(hub.db_url)
    assert_same_tables(live, rebuilt)

    # what is not derived from the log survived: keys, the intake ledger, the action guard
    assert admin.get("/api/v1/leads", params={"page_size": 1}).status_code == 200
    assert hotline.post("/api/v1/intake/hotline/workorders", json=order).status_code == 200  # still a duplicate
    engine = make_engine(hub.db_url)
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(ApiKey)).scalar() >= 5
        assert c.execute(select(func.count()).select_from(IntakeLedger)).scalar() >= 10
        assert c.execute(select(LeadClaim.version).where(LeadClaim.lead_id == worked["lead_id"])).scalar() == 3
        # the SSE cursor moved past the old numbers, so a stream re-announces rebuilt leads
        assert c.execute(select(func.min(Lead.change_seq))).scalar() > 0
    engine.dispose()
    # and the hub keeps projecting into the swapped-in tables
    later = lead(agency_code=agency)
    produce(hub.bootstrap, "supervision.leads", [later])
    hub.sync()
    assert staff.get(f"/api/v1/leads/{later['lead_id']}").status_code == 200
    assert staff.get(f"/api/v1/leads/{worked['lead_id']}").json()["status"] == "已办结"


def test_rebuild_of_the_embedded_sqlite_database_matches_the_live_one(tmp_path, kafka_bootstrap):
    """The embedded default: the projector writes a SQLite file; a rebuild builds a new file
    beside it and swaps its rows in, keeping the keys, while the live projector keeps running."""
    import threading

    from sqlalchemy.orm import Session

    from projections.auth import create_key
    from projections.cli import rebuild
    from projections.projector import Projector, end_offsets
    from streams.topics import create_topics
    from zhongshu.config import Settings

    create_topics(kafka_bootstrap, 4)
    produce(kafka_bootstrap, "supervision.leads", [lead(), lead(grade="A", rule_code="HOT_ENFORCEMENT_COMPLAINT",
                                                            rule_name="执法投诉印证")])
    url = f"sqlite:///{tmp_path / 'zhongshu.db'}"
    engine = make_engine(url)
    live = Projector(engine, kafka_bootstrap)
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    with Session(engine) as s, s.begin():
        create_key(s, "admin")
    try:
        _wait_caught_up(live, kafka_bootstrap)
        before = snapshot(url)
        assert before["leads"]

        result = rebuild(Settings(home=tmp_path, broker=kafka_bootstrap, database_url=url), progress=False)
        assert result["events"] >= len(before["timeline"]) + len(before["leads"])
        _wait_caught_up(live, kafka_bootstrap)
        assert_same_tables(before, snapshot(url))
        with engine.connect() as c:
            assert c.execute(select(func.count()).select_from(ApiKey)).scalar() == 1
        assert not (tmp_path / "zhongshu.db.rebuild").exists()

        # the live projector noticed the swap (its offsets changed under it) and carries on
        fresh = lead()
        produce(kafka_bootstrap, "supervision.leads", [fresh])
        _wait_caught_up(live, kafka_bootstrap)
        with engine.connect() as c:
            assert c.execute(select(Lead.lead_id).where(Lead.lead_id == fresh["lead_id"])).scalar() == fresh["lead_id"]
    finally:
        live.stopping.set()
        thread.join(10)
        engine.dispose()


def _wait_caught_up(projector, bootstrap: str, timeout: float = 60) -> None:
    from projections.projector import end_offsets, load_offsets

    ends = {k: end for k, (_, end) in end_offsets(bootstrap).items() if end > 0}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stored = load_offsets(projector.Session)
        if all(stored.get(k, 0) >= end for k, end in ends.items()):
            return
        time.sleep(0.2)
    raise AssertionError("the projector did not catch up")


# ---------------------------------------------------------------- the rebuild's own load paths (PostgreSQL)

def _intake_messages(uscc: str, agency: str) -> tuple[list[tuple], list[tuple]]:
    """Records as intake appends them (validated, tokenised, keyed, with its CloudEvents
    headers), as (topic, key, value, headers): work orders with a status change, inspections,
    case lifecycles and credit events whose rows recur across batches; and apart, four more
    credit events of the enterprise, to be spread over the partitions."""
    from connectors.intake import SOURCES, record_key, record_time
    from connectors.privacy import Tokeniser
    from connectors.validation import validate_record
    from schemas.codec import CE_TYPES, TOPIC_SCHEMAS, Codec, cloudevent_headers

    codec, tokenise = Codec(), Tokeniser(b"rebuild-test-secret")
    topics = {"workorder": "hotline.workorders", "inspection": "enforcement.inspections",
              "case": "enforcement.cases", "credit": "credit.events"}
    records = []
    for n in range(6):
        order = work_order(uscc)
        records += [("workorder", order), ("workorder", {**order, "source_event_id": order["source_event_id"] + "-2",
                                                         "status": "办理", "occurred_at": "2026-05-07T09:00:00+08:00"})]
        records.append(("inspection", inspection(agency, uscc)))
        case_id = f"AJ-{uscc[-6:]}-{n}-{time.time_ns()}"
        decided = case_decided(case_id, "2026-03-02T10:00:00+08:00")
        records += [("case", case_filed(case_id, agency, uscc)), ("case", decided),
                    ("case", case_event(case_id, "published", published_at="2026-03-20T10:00:00+08:00",
                                        channel="信用中国", masked=True)),
                    ("case", case_event(case_id, "fulfilled", at="2026-03-25T10:00:00+08:00"))]
        records += [("credit", {"source_event_id": f"cr-{uscc}-{n}-{k}", "uscc": uscc, "kind": "risk_class_changed",
                                "risk_class": "ABCD"[(n + k) % 4], "at": f"2026-0{k + 1}-0{n + 1}T00:00:00+08:00"})
                    for k in range(2)]
    spread = [("credit", {"source_event_id": f"cr-{uscc}-spread-{p}", "uscc": uscc, "kind": "risk_class_changed",
                          "risk_class": "ABCD"[p], "at": f"2026-04-1{p}T00:00:00+08:00"}) for p in range(4)]
    out = []
    for kind, rec in records + spread:
        rec = validate_record(kind, rec, tokenise=tokenise)
        source = next(s for k, t, s in SOURCES.values() if t == topics[kind])
        key = record_key(kind, rec)
        out.append((topics[kind], key.encode(), codec.encode(TOPIC_SCHEMAS[topics[kind]], rec),
                    cloudevent_headers(ce_id=rec["source_event_id"], source=f"/zhongshu/intake/{source}",
                                       type=CE_TYPES[topics[kind]], time=record_time(kind, rec), subject=key)))
    return out[:-len(spread)], out[-len(spread):]


def test_parallel_rebuild_on_postgres_matches_the_live_projector_with_duplicates_and_moved_keys(
        tmp_path, kafka_bootstrap, pg_url, monkeypatch):
    """The rebuild COPYs rows whose keys it has not written straight into the fresh tables and
    upserts the others; small batches make rows recur across batches, every record is in the
    log twice (a redelivery), and credit events of one enterprise land on every partition, so
    both replay processes write its credit_states row. Both rebuilds — in parallel, and in one process with a
    key bitmap so small that nearly every key collides — give the live projector's tables,
    and the complainant stays a token."""
    from kafka import KafkaProducer

    from projections.cli import rebuild
    from projections.projector import FreshKeys, Projector
    from streams.topics import create_topics
    from zhongshu.config import Settings

    create_topics(kafka_bootstrap, 4)
    uscc, agency = new_uscc(), new_agency()
    messages, spread = _intake_messages(uscc, agency)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for topic, key, value, headers in messages + messages[::-1]:  # each record twice, far apart
        producer.send(topic, key=key, value=value, headers=headers)
    for partition, (topic, key, value, headers) in enumerate(spread):
        producer.send(topic, key=key, value=value, headers=headers, partition=partition)
    producer.flush()
    producer.close()

    engine = make_engine(pg_url)
    live = Projector(engine, kafka_bootstrap)
    live.run(once=True)
    engine.dispose()
    before = snapshot(pg_url)
    mine = [r for r in before["workorders"] if uscc in r]
    assert len(mine) == 6 and before["cases"]
    assert [r for r in before["credit_states"] if r[0] == uscc]
    assert not any("13805740001" in repr(r) or "李四" in repr(r) for r in mine), "complainant only as a token"

    settings = Settings(home=tmp_path, broker=kafka_bootstrap, database_url=pg_url)
    result = rebuild(settings, batch_size=7, progress=False, workers=2)
    assert result["workers"] == 2
    assert_same_tables(before, snapshot(pg_url))

    monkeypatch.setattr(FreshKeys, "BITS", 64)
    rebuild(settings, batch_size=5, progress=False, workers=1)
    assert_same_tables(before, snapshot(pg_url))


def test_the_bulk_load_keeps_the_indexes_it_reads_through_and_gets_the_rest_before_the_swap(pg_url):
    """A PostgreSQL rebuild loads without secondary indexes, except those the projector reads
    through while loading (schema.LOAD_INDEXES): without the lead_history(lead_id) index each
    batch's staff-action lookup scans every row loaded so far, quadratic on a long lead log."""
    from sqlalchemy import inspect

    from projections.models import PROJECTED_TABLES
    from projections.schema import LOAD_INDEXES, drop_rebuild, ensure_schema, finish_rebuild, rebuild_target

    engine = make_engine(pg_url)
    ensure_schema(engine)
    target, namespace = rebuild_target(engine)
    try:
        def indexes() -> set[str]:
            insp = inspect(engine)
            return {ix["name"] for t in PROJECTED_TABLES for ix in insp.get_indexes(t, schema=namespace)}

        live = {ix["name"] for t in PROJECTED_TABLES for ix in inspect(engine).get_indexes(t)}
        during = indexes()
        assert set(LOAD_INDEXES) <= during, "the load reads through these"
        assert during == set(LOAD_INDEXES), "every other secondary index waits for the end of the load"
        finish_rebuild(engine, target, namespace)
        assert indexes() == live, "before the swap the rebuilt tables have every index of the live ones"
    finally:
        drop_rebuild(engine, target, namespace)
        engine.dispose()
