"""Hostile records written straight onto every ingress topic (past intake): each goes to
hub.deadletter with the reason, and the worker — the same process, not a restarted one —
goes on to the next valid record on the same partition, which reaches the projection."""
from __future__ import annotations

import hashlib
import os
import random

import pytest
from kafka import KafkaProducer
from sqlalchemy import create_engine, text

from connectors.privacy import Tokeniser
from connectors.uscc import make_uscc
from connectors.validation import validate_record
from schemas.codec import CE_TYPES, Codec, cloudevent_headers
from tests.faults.support import child_pid, read_topic, record, uid

from .conftest import as_role

pytestmark = pytest.mark.integration

CODEC = Codec()
BIG = 900 * 1024
RECORDS = {"hotline.workorders": "WorkOrder", "enforcement.inspections": "Inspection", "enforcement.cases": "CaseEvent",
           "credit.events": "CreditEvent", "justice.transfers": "TransferSignal"}
KINDS = {"hotline.workorders": "workorder", "enforcement.inspections": "inspection", "enforcement.cases": "case",
         "credit.events": "credit", "justice.transfers": "transfer"}


def checked(topic: str, rec: dict) -> dict:
    """A record as a producer past intake would have it: validated and tokenised."""
    return validate_record(KINDS[topic], rec, tokenise=Tokeniser(b"poison"))


def encode(topic: str, rec: dict) -> bytes:
    return CODEC.encode(RECORDS[topic], checked(topic, rec))


def valid_records(uscc: str, case_id: str) -> dict:
    """One valid record per ingress topic: (route, role, key, record, projected table, id column)."""
    agency = make_uscc("11330203" + uid(9))
    n = uid(8)
    return {
        "hotline.workorders": ("hotline/workorders", "hotline", uscc, {
            "source_event_id": f"poison-wo-{n}", "order_id": f"GD{n}", "received_at": "2026-05-06T09:30:00+08:00",
            "channel": "电话", "category": "投诉", "topic": "食品安全", "content": "反映食品问题。",
            "subject": {"name": "宁波市海曙区毒丸测试有限公司", "uscc": uscc}, "region_code": "330203",
            "complainant": {"name": "王五", "phone": "13805741111"}, "status": "受理"}, "workorders", "source_event_id"),
        "enforcement.inspections": ("enforcement/inspections", "enforcement", uscc, {
            "source_event_id": f"poison-insp-{n}", "inspection_id": f"JC-{n}", "action_code": f"XZJC-{n}",
            "agency_code": agency, "joint_agency_codes": [], "officer_cert_nos": ["浙执0001", "浙执0002"],
            "target": {"uscc": uscc, "name": "宁波市海曙区毒丸测试有限公司"}, "region_code": "330203",
            "started_at": "2026-05-04T09:30:00+08:00", "trigger": "投诉举报", "random": False,
            "credit_rule_applied": False, "items": ["食品经营许可"], "result": "未发现问题"}, "inspections",
            "source_event_id"),
        "enforcement.cases": ("enforcement/cases", "enforcement", case_id, {
            "source_event_id": f"poison-case-{n}", "case_id": case_id, "event": "filed", "agency_code": agency,
            "party": {"type": "法人及非法人组织", "uscc": uscc, "name": "宁波市海曙区毒丸测试有限公司"},
            "matter_code": "SC-FOOD-124", "region_code": "330203", "filed_at": "2026-05-07T10:00:00+08:00",
            "source_refs": []}, "cases", "case_id"),
        "credit.events": ("credit/events", "credit", uscc, {
            "source_event_id": f"poison-credit-{n}", "uscc": uscc, "kind": "risk_class_changed", "risk_class": "B",
            "at": "2026-05-08T10:00:00+08:00"}, "credit_events", "source_event_id"),
        "justice.transfers": ("justice/transfers", "justice", case_id, {
            "source_event_id": f"poison-xfer-{n}", "case_id": case_id, "kind": "report_made",
            "at": "2026-05-09T10:00:00+08:00"}, "transfers", "source_event_id"),
    }


def poisons(topic: str, record_name: str, valid_avro: bytes, other_avro: bytes) -> list[tuple[str, bytes | None]]:
    body = valid_avro[10:]
    return [
        ("random bytes", os.urandom(300)),
        ("empty value", b""),
        ("tombstone (no value)", None),
        ("unknown schema fingerprint", b"\xc3\x01" + os.urandom(8) + body),
        ("truncated body", valid_avro[: len(valid_avro) // 2]),
        ("another topic's record type", other_avro),
        ("garbage after a valid marker", b"\xc3\x01" + valid_avro[2:10] + bytes(random.randrange(256) for _ in range(64))),
    ]


def test_malformed_avro_on_every_ingress_topic_is_dead_lettered_and_the_next_record_processed(sec_hub):
    uscc, case_id = make_uscc("91330203MA" + uid(7)), f"甬海市监案〔2026〕{uid(6)}号"
    valid = valid_records(uscc, case_id)
    worker = child_pid(sec_hub.proc.pid, "zhongshu.cli worker")
    producer = KafkaProducer(bootstrap_servers=sec_hub.bootstrap, acks="all", max_request_size=2 * 1024 * 1024)
    sent: list[tuple[str, str, bytes | None]] = []
    topics = list(valid)
    for i, (topic, (_, _, key, rec, _, _)) in enumerate(valid.items()):
        name = RECORDS[topic]
        other = topics[(i + 1) % len(topics)]
        for what, value in poisons(topic, name, encode(topic, rec), encode(other, valid[other][3])):
            producer.send(topic, key=key.encode(), value=value, headers=cloudevent_headers(
                ce_id=f"poison-{uid(10)}", source="/hostile", type=CE_TYPES[topic], time="2026-05-01T00:00:00+08:00"))
            sent.append((topic, what, value))
    producer.flush()
    producer.close()
    # the next records on the same partitions, through intake
    for topic, (route, role, _, rec, _, _) in valid.items():
        r = as_role(sec_hub, role).post(f"/api/v1/intake/{route}", json=rec)
        assert r.status_code == 202, r.text
    sec_hub.sync(timeout=300)

    letters = [v for _, _, v, _, _ in read_topic(sec_hub.bootstrap, "hub.deadletter", decode=True) if v]
    by_original = {}
    for d in letters:
        by_original.setdefault((d["topic"], d["original"]), d)
    missing = []
    for topic, what, value in sent:
        d = by_original.get((topic, value or b""))
        if d is None:
            missing.append((topic, what))
        else:
            assert d["reason"].strip(), (topic, what)
    assert not missing, f"not dead-lettered: {missing}"
    assert child_pid(sec_hub.proc.pid, "zhongshu.cli worker") == worker, "the worker was restarted"
    engine = create_engine(sec_hub.db_url)
    try:
        with engine.connect() as conn:
            for topic, (_, _, _, rec, table, column) in valid.items():
                got = conn.execute(text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = :v'),
                                   {"v": rec[column]}).scalar_one()
                assert got == 1, f"the valid record after the poison on {topic} was not projected"
    finally:
        engine.dispose()
    record("poison_records", topics=len(valid), kinds=sorted({w for _, w, _ in sent}), records=len(sent),
           dead_lettered=len(sent) - len(missing), worker_restarts=0, valid_records_after_poison_projected=len(valid))


OVERSIZED = {"hotline.workorders": "content", "enforcement.inspections": "result", "enforcement.cases": "legal_basis",
             "credit.events": "decision_no", "justice.transfers": "organ"}


def test_oversized_records_written_past_intake_are_dead_lettered(sec_hub):
    uscc, case_id = make_uscc("91330203MA" + uid(7)), f"甬海市监案〔2026〕{uid(6)}号"
    producer = KafkaProducer(bootstrap_servers=sec_hub.bootstrap, acks="all", max_request_size=2 * 1024 * 1024)
    sent = []
    for topic, (_, _, key, rec, _, _) in valid_records(uscc, case_id).items():
        big = {**checked(topic, rec), OVERSIZED[topic]: "大" * (BIG // 3)}
        value = CODEC.encode(RECORDS[topic], big)
        assert len(value) > BIG - 1024
        producer.send(topic, key=key.encode(), value=value, headers=cloudevent_headers(
            ce_id=f"oversized-{uid(10)}", source="/hostile", type=CE_TYPES[topic], time="2026-05-01T00:00:00+08:00"))
        sent.append((topic, hashlib.sha256(value).hexdigest()))
    producer.flush()
    producer.close()
    sec_hub.sync(timeout=300)
    letters = {(v["topic"], hashlib.sha256(v["original"]).hexdigest())
               for _, _, v, _, _ in read_topic(sec_hub.bootstrap, "hub.deadletter", decode=True) if v}
    assert set(sent) <= letters
