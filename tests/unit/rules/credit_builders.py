"""Builders for the publicity / credit rule tests (facts as the worker hands them over)."""
from __future__ import annotations

import itertools
import json
from datetime import datetime

from streams.rules.base import Fact, Tick, parse_time
from streams.rules.config import load_config

ORG = {"type": "法人及非法人组织", "uscc": "91350100M000100Y4X", "name": "福州某某食品有限公司"}
SOLE = {"type": "个体工商户", "uscc": "92350100MA2Y0000X1", "name": "某某小吃店"}
PERSON = {"type": "自然人", "id_token": "tok-7f3a", "name": "张*"}

NO = "榕市监罚〔2026〕101号"
CASE = "CASE-2026-0101"
AGENCY = "11350100003639823Q"

_offsets = itertools.count(1)


def config(thresholds: dict | None = None, **reference):
    """rules.toml as shipped (optionally overridden per table) plus reference sets."""
    cfg = load_config(reference={k.replace("_", "-"): v for k, v in reference.items()})
    for table, values in (thresholds or {}).items():
        node = cfg.thresholds
        for part in table.split("."):
            node = node.setdefault(part, {})
        node.update(values)
    return cfg


def filing(party=ORG, case_id=CASE, agency_code=AGENCY):
    return {"case_id": case_id, "event": "filed", "agency_code": agency_code, "party": dict(party),
            "matter_code": "M-001", "region_code": "350102", "filed_at": "2026-01-05T09:00:00+08:00"}


def _fact(kind, value, ce_id=None, case=None, topic=None):
    off = next(_offsets)
    return Fact(kind=kind, value=value, topic=topic or ("enforcement.cases" if kind == "case" else "credit.events"),
                partition=0, offset=off, ce_id=ce_id or f"ce-{off}", case=case)


def decided(at, *, types=("罚款",), fine="50000", procedure="普通", no=NO, party=ORG, case_id=CASE,
            agency_code=AGENCY, duration_until=None, ce_id=None):
    value = {"case_id": case_id, "event": "decided", "decision_no": no, "decided_at": at,
             "procedure": procedure, "penalty_types": list(types), "fine_amount": fine}
    if duration_until:
        value["penalty_duration_until"] = duration_until
    return _fact("case", value, ce_id, filing(party, case_id, agency_code))


def case_event(event, at, *, no=None, party=ORG, case_id=CASE, ce_id=None, **fields):
    """A lifecycle event after `decided`, as forwarded: it names its case, not its decision
    (`no` adds a decision_no for the tests that want one)."""
    value = {"case_id": case_id, "event": event, **fields}
    if no:
        value["decision_no"] = no
    value["published_at" if event == "published" else "at"] = at
    return _fact("case", value, ce_id, filing(party, case_id))


def published(at, channel="部门网站", masked=True, **kw):
    return case_event("published", at, channel=channel, masked=masked, **kw)


def credit(kind, at, *, no=NO, uscc=ORG["uscc"], details=None, ce_id=None):
    value = {"uscc": uscc, "kind": kind, "decision_no": no, "at": at}
    if details is not None:
        value["details"] = details
    return _fact("credit", value, ce_id)


def tick(at: str | datetime) -> Tick:
    return Tick(at=parse_time(at))


def run(module, items, cfg=None, state=None):
    """Feed items in order as the worker would; returns (state, all outputs)."""
    cfg = cfg or config()
    outputs = []
    for item in items:
        if not isinstance(item, Tick) and module.key(item) is None:
            continue
        state, out = module.evaluate(state, item, cfg)
        json.dumps(state)  # the Faust table value must stay JSON
        outputs.extend(out)
    return state, outputs


def codes(outputs, code=None):
    got = [o.get("rule_code") or o.get("code") for o in outputs]
    return got if code is None else [c for c in got if c == code]


def only(outputs, code):
    found = [o for o in outputs if (o.get("rule_code") or o.get("code")) == code]
    assert len(found) == 1, f"expected one {code}, got {codes(outputs)}"
    return found[0]
