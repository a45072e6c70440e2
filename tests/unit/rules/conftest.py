"""Fact builders shared by the pure rule tests (no Kafka: facts carry fake log positions)."""
from __future__ import annotations

import itertools
import json

from streams.rules.base import Fact, RuleConfig, Tick, parse_time
from streams.rules.config import load_config

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(first17: str) -> str:
    """GB 32100-2015 check character appended (mod 31, weights 3^(i-1) mod 31)."""
    total = sum(_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return first17 + _ALPHABET[(31 - total % 31) % 31]


# 宁波市海曙区 (330203) agencies and enterprises
REGION = "330203"
AGY_SCJ = uscc("11330203MB0A12345")   # 海曙区市场监督管理局
AGY_ZHZF = uscc("11330203MB0B23456")  # 海曙区综合行政执法局
AGY_YJJ = uscc("11330203MB0C34567")   # 海曙区应急管理局
AGY_XFJ = uscc("11330203MB0D45678")   # 海曙区消防救援大队
ENT = uscc("91330203MA2GQ8KX1")       # 宁波甬江食品有限公司
ENT2 = uscc("91330203MA2H0TLC3")      # 宁波鼓楼贸易有限公司
ENT_NAME = "宁波甬江食品有限公司"
ENT2_NAME = "宁波鼓楼贸易有限公司"

AGENCIES = [
    {"agency_code": AGY_SCJ, "name": "海曙区市场监督管理局", "region_code": REGION, "domain": "市场监管"},
    {"agency_code": AGY_ZHZF, "name": "海曙区综合行政执法局", "region_code": REGION, "domain": "综合执法"},
    {"agency_code": AGY_YJJ, "name": "海曙区应急管理局", "region_code": REGION, "domain": "应急管理"},
    {"agency_code": AGY_XFJ, "name": "海曙区消防救援大队", "region_code": REGION, "domain": "消防"},
]

_offsets = itertools.count(1)


def t(day: str, clock: str = "10:00:00") -> str:
    """'2026-03-02' → '2026-03-02T10:00:00+08:00' (China time)."""
    return f"{day}T{clock}+08:00"


def fact(kind: str, value: dict, *, ce: str | None = None, case: dict | None = None,
         topic: str | None = None) -> Fact:
    offset = next(_offsets)
    return Fact(
        kind=kind, value=value,
        topic=topic or {
            "inspection": "enforcement.inspections", "case": "enforcement.cases",
            "workorder": "hotline.workorders", "credit": "credit.events",
            "transfer": "justice.transfers",
        }[kind],
        partition=0, offset=offset, ce_id=ce or f"ce-{kind}-{offset}", case=case,
    )


def inspection(iid: str, day: str, *, agency: str = AGY_SCJ, target: str = ENT,
               name: str = ENT_NAME, trigger: str = "双随机", joint=(), officers=("33020001", "33020002"),
               action_code: str | None = "AC", plan_id: str | None = "PLAN-2026-SCJ-01",
               risk_class: str | None = None, clock: str = "10:00:00", ce: str | None = None) -> Fact:
    return fact("inspection", {
        "inspection_id": iid,
        "action_code": None if action_code is None else f"{action_code}-{iid}",
        "agency_code": agency, "joint_agency_codes": list(joint),
        "officer_cert_nos": list(officers), "target": {"uscc": target, "name": name},
        "region_code": REGION, "started_at": t(day, clock), "trigger": trigger,
        "plan_id": plan_id, "random": trigger == "双随机", "credit_rule_applied": True,
        "risk_class": risk_class, "items": ["食品经营许可"], "result": "未发现问题",
    }, ce=ce)


FILING = {
    "agency_code": AGY_SCJ,
    "party": {"type": "法人及非法人组织", "uscc": ENT, "name": ENT_NAME},
    "matter_code": "330217001000", "region_code": REGION, "source_refs": [],
}


def filed(case_id: str, day: str, *, ce: str | None = None, **over) -> Fact:
    value = {"case_id": case_id, "event": "filed", **FILING, "filed_at": t(day), **over}
    return fact("case", value, ce=ce)


def filing_of(f: Fact) -> dict:
    return {k: v for k, v in f.value.items() if k not in ("event",)}


def case_event(case_id: str, event: str, *, filing: Fact | dict | None = None,
               ce: str | None = None, **fields) -> Fact:
    case = filing_of(filing) if isinstance(filing, Fact) else filing
    return fact("case", {"case_id": case_id, "event": event, **fields}, ce=ce, case=case)


def decided(case_id: str, day: str, *, filing: Fact | dict | None = None, ce: str | None = None,
            clock: str = "10:00:00", **over) -> Fact:
    value = {
        "decision_no": f"甬海市监罚〔2026〕{case_id[-3:]}号", "decided_at": t(day, clock),
        "procedure": "普通", "penalty_types": ["罚款"], "fine_amount": "5000.00",
        "confiscated_amount": "0", "amount_involved": {}, "circumstance_level": "一般",
        "violation_type": "食品安全", "legal_basis": "《中华人民共和国食品安全法》第一百二十四条",
        "first_violation": False, "corrected": False, "major": False, "hearing_held": False,
        "complex": False,
    }
    value.update(over)
    return case_event(case_id, "decided", filing=filing, ce=ce, **value)


def transfer(case_id: str, kind: str, at: str, *, ce: str | None = None) -> Fact:
    return fact("transfer", {"case_id": case_id, "kind": kind, "at": at, "organ": "宁波市公安局海曙分局"},
                ce=ce)


def workorder(order_id: str, day: str, *, category: str = "投诉", topic: str = "食品安全",
              target: str = ENT, name: str = ENT_NAME, about: str | None = None,
              complaint_type: str | None = None, clock: str = "09:30:00", ce: str | None = None,
              status: str = "受理") -> Fact:
    return fact("workorder", {
        "order_id": order_id, "received_at": t(day, clock), "channel": "电话",
        "category": category, "topic": topic, "content": "反映问题（测试）",
        "subject": {"name": name, "uscc": target, "address": "宁波市海曙区中山西路1号"},
        "region_code": REGION, "about_agency_code": about,
        "enforcement_complaint_type": complaint_type,
        "complainant": {"name": "tok-name", "phone": "tok-phone"}, "status": status,
    }, ce=ce)


def credit(uscc_: str, kind: str, at: str, **fields) -> Fact:
    return fact("credit", {"uscc": uscc_, "kind": kind, "at": at, **fields})


def tick(at: str) -> Tick:
    return Tick(at=parse_time(at))


def config(thresholds: dict | None = None, **reference) -> RuleConfig:
    cfg = load_config(reference={k.replace("_", "-"): v for k, v in reference.items()})
    for code, table in (thresholds or {}).items():
        cfg.thresholds.setdefault(code, {}).update(table)
    return cfg


def run(module, items, cfg, state: dict | None = None):
    """Feed items in order; return (final state, every output in order)."""
    state = state or {}
    outputs = []
    for item in items:
        state, out = module.evaluate(state, item, cfg)
        json.dumps(state)  # must stay JSON-serialisable
        outputs.extend(out)
    return state, outputs


def codes(outputs, code: str | None = None):
    return [o for o in outputs if code is None or o["rule_code"] == code]


def latest(outputs, code: str) -> dict:
    """The last version of each lead of `code`, by lead_id."""
    by_id = {}
    for o in outputs:
        if o["rule_code"] == code:
            by_id[o["lead_id"]] = o
    return by_id


HOLIDAYS_2027 = [{
    # illustrative 2027 table as an office would PUT it (not the official one)
    "year": 2027,
    "holidays": ["2027-01-01", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08",
                 "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"],
    "workdays": ["2027-02-13"],
}]
