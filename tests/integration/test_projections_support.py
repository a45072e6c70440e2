"""Builders and helpers shared by the projection tests (no tests here).

Topics are shared by every test of a session, so every id is unique per test; agencies and
enterprises are fresh USCCs, so counts filtered by them are exact.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

import httpx
from sqlalchemy import select

from connectors.uscc import make_uscc
from projections.db import make_engine
from projections.models import PROJECTED_TABLES, Base
from schemas.codec import CE_TYPES, Codec, cloudevent_headers

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uid(n: int = 10) -> str:
    return uuid.uuid4().hex[:n]


def new_uscc(prefix: str = "91330203MA2") -> str:
    """A fresh, valid 统一社会信用代码 (17 characters + check character)."""
    tail = "".join(_ALPHABET[b % 31] for b in uuid.uuid4().bytes[: 17 - len(prefix)])
    return make_uscc(prefix + tail)


def new_agency() -> str:
    return new_uscc("11330200MB")


def client(hub, role: str = "supervisor", region: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key(role, region)}"}, timeout=60)


# ---------------------------------------------------------------- intake records

def work_order(uscc: str, order_id: str | None = None, region_code: str = "330203", **over) -> dict:
    order_id = order_id or f"GD{uid(12)}"
    rec = {
        "source_event_id": f"12345-{order_id}-{uid(4)}", "order_id": order_id,
        "received_at": "2026-05-06T09:30:00+08:00", "channel": "电话", "category": "投诉", "topic": "噪音扰民",
        "content": "来电人反映该企业夜间施工噪音扰民。", "subject": {"name": "宁波某某建材有限公司", "uscc": uscc},
        "region_code": region_code, "complainant": {"name": "李四", "phone": "13805740001"}, "status": "受理",
    }
    rec.update(over)
    return rec


def inspection(agency: str, uscc: str, region_code: str = "330203", **over) -> dict:
    iid = f"JC{uid(12)}"
    rec = {
        "source_event_id": f"insp-{iid}", "inspection_id": iid, "action_code": f"AC{uid(12)}",
        "agency_code": agency, "joint_agency_codes": [], "officer_cert_nos": [f"ZF{uid(8)}", f"ZF{uid(8)}"],
        "target": {"uscc": uscc, "name": "宁波某某建材有限公司"}, "region_code": region_code,
        "started_at": "2026-05-06T10:00:00+08:00", "trigger": "双随机", "plan_id": f"P{uid(6)}", "random": True,
        "credit_rule_applied": True, "items": ["消防安全"], "result": "未发现问题",
    }
    rec.update(over)
    return rec


def case_filed(case_id: str, agency: str, uscc: str, region_code: str = "330203",
               filed_at: str = "2026-02-02T09:00:00+08:00") -> dict:
    return {"source_event_id": f"{case_id}-filed", "case_id": case_id, "event": "filed", "agency_code": agency,
            "party": {"type": "法人及非法人组织", "uscc": uscc, "name": "宁波某某建材有限公司"},
            "matter_code": f"M{uid(6)}", "region_code": region_code, "filed_at": filed_at, "source_refs": []}


def case_decided(case_id: str, decided_at: str, fine: str | None = "5000.00", **over) -> dict:
    rec = {"source_event_id": f"{case_id}-decided", "case_id": case_id, "event": "decided",
           "decision_no": f"甬罚〔2026〕{uid(6)}号", "decided_at": decided_at, "procedure": "普通",
           "penalty_types": ["罚款"] if fine is not None else ["警告"], "circumstance_level": "一般",
           "violation_type": "未按规定设置消防设施", "legal_basis": "《消防法》第六十条",
           "first_violation": False, "corrected": False, "major": False, "hearing_held": False, "complex": False}
    if fine is not None:
        rec["fine_amount"] = fine
    rec.update(over)
    return rec


def case_event(case_id: str, event: str, **fields) -> dict:
    return {"source_event_id": f"{case_id}-{event}-{uid(4)}", "case_id": case_id, "event": event, **fields}


def post(c: httpx.Client, route: str, records) -> httpx.Response:
    r = c.post(f"/api/v1/intake/{route}", json=records)
    assert r.status_code == 202, r.text
    return r


# ---------------------------------------------------------------- derived records straight onto Kafka

def lead(*, rule_code: str = "INSP_NO_CODE", rule_name: str = "未亮码检查", region_code: str | None = "330203",
         agency_code: str | None = None, subject: dict | None = None, detected_at: str = "2026-05-06T10:00:00+08:00",
         grade: str | None = None, evidence: list | None = None, **over) -> dict:
    rec = {
        "lead_id": f"LD-test-{uid(16)}", "rule_code": rule_code, "rule_name": rule_name, "severity": "中",
        "subject": subject or {"type": "agency", "id": agency_code or new_agency(), "name": "某执法机关"},
        "agency_code": agency_code, "region_code": region_code, "detected_at": detected_at,
        "evidence": evidence or [{"topic": "enforcement.inspections", "partition": 0, "offset": 0, "ce_id": "x",
                                  "action_code": None, "summary": "一次未亮码的检查"}],
        "explanation": "检查未出示行政行为码（国办发〔2024〕54号）。", "due_at": None, "status": "待认领",
        "grade": grade, "details_json": None,
    }
    rec.update(over)
    return rec


def lead_action(lead_id: str, action: str, version: int, at: str = "2026-05-07T09:00:00+08:00", **over) -> dict:
    rec = {"action_id": f"LA-test-{uid(16)}", "lead_id": lead_id, "action": action, "actor": "tester",
           "at": at, "version": version, "note": None, "outcome": None}
    rec.update(over)
    return rec


def trigger(uscc: str, decision_no: str, code: str = "CR_REPAIR_ELIGIBLE", **over) -> dict:
    rec = {"trigger_id": f"TR-test-{uid(16)}", "code": code, "uscc": uscc, "decision_no": decision_no,
           "tier": "一般", "decided_at": "2026-02-10T10:00:00+08:00", "min_until": "2026-05-10",
           "max_until": "2027-02-10", "eligible_from": "2026-05-11", "reasons": ["最短公示期已满", "已履行", "已整改"],
           "evidence": [], "detected_at": "2026-05-11T00:00:00+08:00"}
    rec.update(over)
    return rec


_SCHEMA = {"supervision.leads": "Lead", "supervision.lead-actions": "LeadAction",
           "credit.repair-triggers": "CreditTrigger"}


def produce(bootstrap: str, topic: str, records: list[dict], key_field: str | None = None) -> list:
    """Append records (as the stream workers would) and return their (partition, offset)."""
    from kafka import KafkaProducer

    codec = Codec()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    key_field = key_field or {"supervision.leads": "lead_id", "supervision.lead-actions": "lead_id",
                              "credit.repair-triggers": "uscc"}[topic]
    futures = []
    for rec in records:
        ce_id = rec.get("action_id") or rec.get("trigger_id") or rec["lead_id"]
        futures.append(producer.send(topic, key=rec[key_field].encode(), value=codec.encode(_SCHEMA[topic], rec),
                                     headers=cloudevent_headers(ce_id=ce_id, source="/tests", type=CE_TYPES[topic],
                                                                time=datetime.now(timezone.utc).isoformat())))
    producer.flush()
    out = [(f.get(30).partition, f.get(30).offset) for f in futures]
    producer.close()
    return out


# ---------------------------------------------------------------- comparing databases

def snapshot(db_url: str, tables=PROJECTED_TABLES, skip_columns=(("leads", "change_seq"),)) -> dict:
    """Every row of every projected table, as sorted tuples (leads.change_seq is projection-local)."""
    engine = make_engine(db_url)
    out = {}
    try:
        with engine.connect() as conn:
            for name in tables:
                table = Base.metadata.tables[name]
                cols = [c for c in table.columns if (name, c.name) not in skip_columns]
                rows = conn.execute(select(*cols)).all()
                out[name] = sorted((tuple(_plain(v) for v in r) for r in rows), key=repr)
    finally:
        engine.dispose()
    return out


def _plain(v):
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (dict, list)):
        import json
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    return v


def assert_same_tables(live: dict, rebuilt: dict) -> None:
    assert set(live) == set(rebuilt)
    for name in live:
        a, b = live[name], rebuilt[name]
        if a != b:
            only_live = [r for r in a if r not in b][:3]
            only_rebuilt = [r for r in b if r not in a][:3]
            raise AssertionError(f"table {name}: {len(a)} live rows vs {len(b)} rebuilt; "
                                 f"only live: {only_live}; only rebuilt: {only_rebuilt}")
