"""Indicator arithmetic on a small data set posted through the intake API, against numbers
worked out by hand (the agency is fresh, so nothing else counts)."""
from __future__ import annotations

import pytest

from .test_projections_support import (
    case_decided, case_event, case_filed, client, inspection, lead, new_agency, new_uscc, post, produce,
)

pytestmark = pytest.mark.integration


def by_code(body: dict) -> dict:
    return {i["code"]: i for i in body["indicators"]}


def test_indicators_match_hand_counted_numbers(hub):
    agency, other_agency, uscc = new_agency(), new_agency(), new_uscc()
    a2, a3 = new_agency(), new_agency()
    enforcement = client(hub, "enforcement")
    post(enforcement, "enforcement/inspections", [
        # I1: 双随机, credit rule applied, 亮码, not joint
        inspection(agency, uscc, started_at="2026-01-01T00:00:00+08:00"),
        # I2: 双随机 without credit rule, no action code, joint with two partners
        inspection(agency, uscc, credit_rule_applied=False, action_code=None, joint_agency_codes=[a2, a3],
                   started_at="2026-04-02T10:00:00+08:00"),
        # I3: planned (not random), 亮码, joint with one partner
        inspection(agency, uscc, trigger="计划", random=False, credit_rule_applied=False, joint_agency_codes=[a2],
                   started_at="2026-06-15T10:00:00+08:00"),
        # I4: on a complaint, 亮码, the last evening of the period (China time)
        inspection(agency, uscc, trigger="投诉举报", random=False, credit_rule_applied=False, plan_id=None,
                   started_at="2026-12-31T23:30:00+08:00"),
        # outside the period: one hour before it starts, and just after it ends
        inspection(agency, uscc, started_at="2025-12-31T23:00:00+08:00"),
        inspection(agency, uscc, started_at="2027-01-01T00:00:00+08:00"),
    ])
    cases = []
    for n, (decided_at, fine, published_at) in enumerate([
        ("2026-09-30T10:00:00+08:00", "5000.00", "2026-10-15T16:00:00+08:00"),  # 7th WD after 9-30 is 10-15
        ("2026-09-30T11:00:00+08:00", "1234.56", "2026-10-16T09:00:00+08:00"),  # 8th WD: late
        ("2026-03-02T10:00:00+08:00", None, "2026-03-11T10:00:00+08:00"),       # 警告 only; 7th WD: on time
        ("2026-03-03T10:00:00+08:00", "300.00", None),                          # not published
        ("2025-12-20T10:00:00+08:00", "99999.00", "2025-12-22T10:00:00+08:00"),  # decided before the period
    ]):
        case_id = f"AJ-{uscc[-6:]}-{n}-{agency[-4:]}"
        events = [case_filed(case_id, agency, uscc, filed_at="2025-12-01T09:00:00+08:00"),
                  case_decided(case_id, decided_at, fine)]
        if published_at:
            events.append(case_event(case_id, "published", published_at=published_at, channel="信用中国",
                                     masked=True))
        cases.append(events)
    for events in cases:
        post(enforcement, "enforcement/cases", events)
    produce(hub.bootstrap, "supervision.leads", [
        lead(agency_code=other_agency, detected_at="2026-02-01T10:00:00+08:00"),
        lead(agency_code=other_agency, detected_at="2026-08-01T10:00:00+08:00"),
        lead(agency_code=other_agency, rule_code="PEN_DISCRETION", rule_name="裁量越档",
             detected_at="2026-08-02T10:00:00+08:00"),
        lead(agency_code=other_agency, detected_at="2025-08-01T10:00:00+08:00"),  # before the period
    ])
    hub.sync()
    staff = client(hub)
    r = staff.get("/api/v1/indicators", params={"agency_code": agency, "from": "2026-01-01", "to": "2026-12-31"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"], body["agency_code"], body["region_code"]) == \
        ("2026-01-01", "2026-12-31", agency, None)
    got = by_code(body)
    expect = {  # code: (numerator, denominator, value)
        "inspections": (4, None, 4),
        "random_share": (2, 4, 0.5),
        "joint_share": (2, 4, 0.5),
        "action_code_share": (3, 4, 0.75),
        "credit_rule_share": (1, 2, 0.5),
        "publication_timeliness": (2, 3, 0.6667),
        "decisions": (4, None, 4),
        "fines": ("6534.56", None, "6534.56"),          # 5000.00 + 1234.56 + 300.00
        "visits_saved": (3, None, 3),                    # (3 − 1) + (2 − 1)
    }
    for code, (num, den, value) in expect.items():
        assert (got[code]["numerator"], got[code]["denominator"], got[code]["value"]) == (num, den, value), code
    for item in body["indicators"]:
        assert item["name"] and "分子" in item["definition"] and "公式" in item["definition"], item

    leads = by_code(staff.get("/api/v1/indicators", params={"agency_code": other_agency, "from": "2026-01-01",
                                                           "to": "2026-12-31"}).json())
    assert leads["leads_by_rule"]["value"] == 3
    assert {b["rule_code"]: b["count"] for b in leads["leads_by_rule"]["breakdown"]} == \
        {"INSP_NO_CODE": 2, "PEN_DISCRETION": 1}
    assert leads["inspections"]["value"] == 0 and leads["random_share"]["value"] is None

    # a shorter period and a region filter narrow the same records
    q3 = by_code(staff.get("/api/v1/indicators", params={"agency_code": agency, "region_code": "330200",
                                                        "from": "2026-04-01", "to": "2026-06-30"}).json())
    assert (q3["inspections"]["value"], q3["joint_share"]["numerator"], q3["visits_saved"]["value"]) == (2, 2, 3)
    none = by_code(staff.get("/api/v1/indicators", params={"agency_code": agency, "region_code": "330212",
                                                          "from": "2026-01-01", "to": "2026-12-31"}).json())
    assert none["inspections"]["value"] == 0 and none["fines"]["value"] == "0.00"
    assert staff.get("/api/v1/indicators", params={"from": "2026-02-01", "to": "2026-01-01"}).status_code == 422


def test_indicator_definitions_are_in_the_openapi_description(hub):
    spec = hub.admin.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/indicators"]["get"]
    for code in ("inspections", "random_share", "joint_share", "action_code_share", "credit_rule_share",
                 "publication_timeliness", "leads_by_rule", "fines", "visits_saved"):
        assert f"`{code}`" in op["description"]
    names = {p["name"] for p in op["parameters"]}
    assert {"region_code", "agency_code", "from", "to"} <= names
    body = spec["paths"]["/api/v1/leads/{lead_id}/claim"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/LeadActionIn")
    assert "409" in spec["paths"]["/api/v1/leads/{lead_id}/resolve"]["post"]["responses"]
