"""Rules on real parts: events through the intake API, ticks through the clock API, leads read
back through GET /api/v1/leads — as the acceptance scenarios drive `zhongshu up --clock manual`."""
from __future__ import annotations

import json
import uuid

import httpx
import pytest

from connectors.uscc import make_uscc
from streams.rules.base import parse_time
from tests.conftest import start_hub, stop_hub

pytestmark = pytest.mark.integration

REGION = "330203"


def uid(n=6) -> str:
    return uuid.uuid4().hex[:n].upper().replace("I", "1").replace("O", "0")


def ids():
    enterprise = make_uscc("91330203MA2A" + uid(5))
    agency = make_uscc("11330203" + uid(9))
    return enterprise, agency


def inspection(enterprise, agency, day: str, *, code=True, **over) -> dict:
    n = uid(8)
    rec = {
        "source_event_id": f"insp-{n}", "inspection_id": f"JC-{n}",
        "agency_code": agency, "joint_agency_codes": [], "officer_cert_nos": ["浙执0001", "浙执0002"],
        "target": {"uscc": enterprise, "name": "宁波市海曙区测试餐饮有限公司"}, "region_code": REGION,
        "started_at": f"{day}T09:30:00+08:00", "trigger": "双随机", "plan_id": "JH-2026-001", "random": True,
        "credit_rule_applied": True, "risk_class": "B", "items": ["食品经营许可"], "result": "未发现问题",
    }
    if code:
        rec["action_code"] = f"XZJC-{n}"
    rec.update(over)
    return rec


def case_events(enterprise, agency, case_id, decided_at: str, fine="50000.00") -> list[dict]:
    return [
        {"source_event_id": f"{case_id}-filed", "case_id": case_id, "event": "filed", "agency_code": agency,
         "party": {"type": "法人及非法人组织", "uscc": enterprise, "name": "宁波市海曙区测试餐饮有限公司"},
         "matter_code": "SC-FOOD-124", "region_code": REGION, "filed_at": "2026-09-01T10:00:00+08:00",
         "source_refs": []},
        {"source_event_id": f"{case_id}-decided", "case_id": case_id, "event": "decided",
         "decision_no": f"甬海市监罚〔2026〕{uid(4)}号", "decided_at": decided_at, "procedure": "普通",
         "penalty_types": ["罚款"], "fine_amount": fine, "circumstance_level": "一般",
         "violation_type": "生产经营不符合食品安全标准的食品", "legal_basis": "《中华人民共和国食品安全法》第一百二十四条",
         "first_violation": False, "corrected": True, "major": False, "hearing_held": False, "complex": False},
    ]


def reference(hub) -> None:
    admin = hub.admin
    for kind, items in {
        "officers": [{"cert_no": c, "agency_code": a, "valid_from": "2020-01-01", "valid_until": "2030-12-31"}
                     for c in ("浙执0001", "浙执0002") for a in hub.agencies],
        "inspection-plans": [{"plan_id": "JH-2026-001", "agency_code": a, "year": 2026} for a in hub.agencies],
    }.items():
        r = admin.put(f"/api/v1/reference/{kind}", json=items)
        assert r.status_code == 200, r.text


def leads(client, **params) -> list[dict]:
    r = client.get("/api/v1/leads", params={"page_size": 500, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.fixture
def scene(hub):
    enterprise, agency = ids()
    hub.agencies = [agency]
    reference(hub)
    hub.enforcement = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('enforcement')}"},
                                   timeout=60)
    hub.staff = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('supervisor')}"},
                             timeout=60)
    hub.sync()
    return hub, enterprise, agency


def post(client, path, records):
    r = client.post(path, json=records)
    assert r.status_code in (200, 202), r.text
    return r.json()


def test_duplicate_inspections_and_a_missing_code_raise_leads_with_evidence(scene):
    hub, enterprise, agency = scene
    first = inspection(enterprise, agency, "2026-05-04")
    second = inspection(enterprise, agency, "2026-05-20", code=False)
    post(hub.enforcement, "/api/v1/intake/enforcement/inspections", [first, second])
    hub.sync()

    dup = leads(hub.staff, rule_code="INSP_DUPLICATE", subject_id=enterprise)
    assert len(dup) == 1
    lead = dup[0]
    assert lead["rule_name"] == "重复检查" and lead["subject"]["type"] == "enterprise"
    assert sorted(e["ce_id"] for e in lead["evidence"]) == sorted([first["source_event_id"], second["source_event_id"]])
    assert all(e["topic"] == "enforcement.inspections" and e["offset"] >= 0 for e in lead["evidence"])
    assert "54号" in lead["explanation"]

    no_code = [l for l in leads(hub.staff, rule_code="INSP_NO_CODE", agency_code=agency)]
    assert len(no_code) == 1 and no_code[0]["evidence"][0]["ce_id"] == second["source_event_id"]

    # reference data reached the worker: registered plan and officers raise nothing, an unknown officer does
    assert leads(hub.staff, rule_code="INSP_NO_PLAN", agency_code=agency) == []
    assert leads(hub.staff, rule_code="INSP_UNCERTIFIED", agency_code=agency) == []
    stranger = inspection(enterprise, agency, "2026-07-01", officer_cert_nos=["浙执0001", "浙执9999"])
    post(hub.enforcement, "/api/v1/intake/enforcement/inspections", [stranger])
    hub.sync()
    uncertified = leads(hub.staff, rule_code="INSP_UNCERTIFIED", agency_code=agency)
    assert len(uncertified) == 1 and "浙执9999" in uncertified[0]["explanation"]

    # the same facts again (a re-sent batch) raise nothing new
    post(hub.enforcement, "/api/v1/intake/enforcement/inspections", [first, second])
    hub.sync()
    assert len(leads(hub.staff, rule_code="INSP_DUPLICATE", subject_id=enterprise)) == 1


def test_publication_deadline_counts_national_day_and_the_make_up_saturday(scene):
    """Decided 2026-09-29 → 7 working days → due 2026-10-14 (Oct 1–7 off, Oct 10 a workday)."""
    hub, enterprise, agency = scene
    case_id = f"甬海市监案〔2026〕{uid(6)}号"
    post(hub.enforcement, "/api/v1/intake/enforcement/cases", case_events(enterprise, agency, case_id,
                                                                         "2026-09-29T15:00:00+08:00"))
    hub.admin.post("/api/v1/clock/ticks", json={"at": "2026-10-14T23:00:00+08:00"}).raise_for_status()
    hub.sync()
    assert leads(hub.staff, rule_code="PEN_PUBLICITY_LATE", subject_id=case_id) == []
    assert not [l for l in leads(hub.staff, rule_code="PEN_PUBLICITY_LATE") if case_id in str(l)]

    hub.admin.post("/api/v1/clock/ticks", json={"at": "2026-10-15T00:00:01+08:00"}).raise_for_status()
    hub.sync()
    late = [l for l in leads(hub.staff, rule_code="PEN_PUBLICITY_LATE") if case_id in str(l)]
    assert len(late) == 1, late
    assert "2026-10-14" in late[0]["explanation"] and late[0]["rule_name"] == "公示超期"


def test_replaying_the_log_from_zero_rebuilds_the_same_leads(scene, tmp_path_factory, pg_server, kafka_bootstrap):
    hub, enterprise, agency = scene
    post(hub.enforcement, "/api/v1/intake/enforcement/inspections", [
        inspection(enterprise, agency, "2026-06-01"), inspection(enterprise, agency, "2026-06-15", code=False),
        inspection(enterprise, agency, "2026-06-28")])
    case_id = f"甬海市监案〔2026〕{uid(6)}号"
    post(hub.enforcement, "/api/v1/intake/enforcement/cases", case_events(enterprise, agency, case_id,
                                                                         "2026-07-01T15:00:00+08:00"))
    hub.admin.post("/api/v1/clock/ticks", json={"at": "2026-07-20T00:00:00+08:00"}).raise_for_status()
    hub.sync()

    def mine(client):
        found = leads(client, subject_id=enterprise) + [l for l in leads(client) if case_id in str(l)]
        return sorted((l["lead_id"], l["rule_code"], l["detected_at"], len(l["evidence"])) for l in found)

    live = mine(hub.staff)
    assert {code for _, code, _, _ in live} >= {"INSP_DUPLICATE", "PEN_PUBLICITY_LATE"}

    # a second hub: new consumer group and an empty database, same log, read from offset zero
    db = pg_server.create_database(f"replay_{uid(8).lower()}") if pg_server else None
    replay = start_hub(tmp_path_factory.mktemp("replay"), {
        "ZHONGSHU_BROKER": kafka_bootstrap, "ZHONGSHU_DATABASE_URL": db or hub.db_url,
        "ZHONGSHU_APP_ID": f"zhongshu-replay-{uid(8).lower()}", "ZHONGSHU_TOKEN_SECRET": "replay",
    })
    try:
        replay.sync(timeout=300)
        staff = httpx.Client(base_url=replay.url, headers={"Authorization": f"Bearer {replay.key('supervisor')}"},
                             timeout=60)
        assert mine(staff) == live
    finally:
        stop_hub(replay)


def test_repair_eligibility_is_announced_on_the_first_day_after_the_minimum_period(scene):
    """一般 tier under 令第36号: minimum 3 months from the decision (2026-04-10 → 2026-07-10)."""
    hub, enterprise, agency = scene
    case_id = f"甬海市监案〔2026〕{uid(6)}号"
    events = case_events(enterprise, agency, case_id, "2026-04-10T15:00:00+08:00")
    events[0]["filed_at"] = "2026-03-01T10:00:00+08:00"
    decision_no = events[1]["decision_no"]
    events += [
        {"source_event_id": f"{case_id}-pub", "case_id": case_id, "event": "published",
         "published_at": "2026-04-15T10:00:00+08:00", "channel": "信用中国", "masked": True},
        {"source_event_id": f"{case_id}-paid", "case_id": case_id, "event": "fulfilled", "at": "2026-04-20T10:00:00+08:00"},
        {"source_event_id": f"{case_id}-fixed", "case_id": case_id, "event": "rectified", "at": "2026-04-25T10:00:00+08:00"},
    ]
    post(hub.enforcement, "/api/v1/intake/enforcement/cases", events)
    credit = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('credit')}"}, timeout=60)

    def triggers():
        r = credit.get("/api/v1/credit/triggers", params={"uscc": enterprise, "kind": "CR_REPAIR_ELIGIBLE"})
        assert r.status_code == 200, r.text
        return [t for t in r.json()["items"] if t["decision_no"] == decision_no]

    hub.admin.post("/api/v1/clock/ticks", json={"at": "2026-07-10T23:00:00+08:00"}).raise_for_status()
    hub.sync()
    assert triggers() == []
    hub.admin.post("/api/v1/clock/ticks", json={"at": "2026-07-11T00:00:01+08:00"}).raise_for_status()
    hub.sync()
    got = triggers()
    assert len(got) == 1, got
    assert got[0]["code"] == "CR_REPAIR_ELIGIBLE" and "2026-07-10" in " ".join(got[0]["reasons"])
    # a second tick later changes nothing: one trigger per decision
    hub.admin.post("/api/v1/clock/ticks", json={"at": "2026-07-12T00:00:00+08:00"}).raise_for_status()
    hub.sync()
    assert len(triggers()) == 1


def test_a_tick_right_behind_the_events_does_not_overtake_them(scene):
    """Ticks posted straight after the facts (no sync between) are applied after those facts,
    even though the facts reach the enterprise space by a forward hop."""
    hub, enterprise, agency = scene
    cases = []
    for _ in range(5):
        case_id = f"甬海市监案〔2026〕{uid(6)}号"
        events = case_events(enterprise, agency, case_id, "2026-09-29T15:00:00+08:00")
        events.append({"source_event_id": f"{case_id}-pub", "case_id": case_id, "event": "published",
                       "published_at": "2026-10-14T10:00:00+08:00", "channel": "信用中国", "masked": True})
        cases.append(case_id)
        post(hub.enforcement, "/api/v1/intake/enforcement/cases", events)
    hub.admin.post("/api/v1/clock/ticks", json={"at": "2026-10-16T00:00:00+08:00"}).raise_for_status()
    hub.sync()
    late = [l for l in leads(hub.staff, rule_code="PEN_PUBLICITY_LATE") if any(c in str(l) for c in cases)]
    assert late == []


def test_a_fine_surge_is_judged_on_the_first_tick_after_the_month_not_on_a_later_decision(scene):
    """AGY_FINE_SURGE: decisions forwarded from several case partitions wait in the agency space
    for a tick; a decision dated in the next month does not complete the month, the tick does."""
    hub, enterprise, agency = scene
    months = ["2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]
    plan = [(f"{m}-15", "50000.00") for m in months] + [("2026-03-10", "150000.00"), ("2026-04-01", "100.00")]
    for day, fine in plan:
        case_id = f"甬海市监案〔2026〕{uid(6)}号"
        events = case_events(enterprise, agency, case_id, f"{day}T15:00:00+08:00", fine=fine)
        events[0]["filed_at"] = f"{day}T09:00:00+08:00"
        post(hub.enforcement, "/api/v1/intake/enforcement/cases", events)
    hub.admin.post("/api/v1/clock/ticks", json={"at": "2026-03-31T23:00:00+08:00"}).raise_for_status()
    hub.sync()
    assert leads(hub.staff, rule_code="AGY_FINE_SURGE", agency_code=agency) == []
    hub.admin.post("/api/v1/clock/ticks", json={"at": "2026-04-01T00:00:01+08:00"}).raise_for_status()
    hub.sync()
    [lead] = leads(hub.staff, rule_code="AGY_FINE_SURGE", agency_code=agency)
    assert parse_time(lead["detected_at"]) == parse_time("2026-03-31T23:59:59.999999+08:00"), lead["detected_at"]
    assert "罚没金额 150,000.00 元" in lead["explanation"] and "月均 50,000.00 元" in lead["explanation"]


def test_a_reference_set_larger_than_kafkas_1_mb_default_reaches_the_worker(scene):
    """A city's officers list passes Kafka's 1 MB message default: the PUT, the reference topic,
    the worker's reference changelog and every reader must take it (REFERENCE_MAX_BYTES)."""
    hub, enterprise, agency = scene
    filler = [{"cert_no": f"浙执F{i:06d}", "agency_code": agency, "valid_from": "2020-01-01",
               "valid_until": "2030-12-31"} for i in range(20000)]
    officers = filler + [{"cert_no": "浙执0003", "agency_code": agency, "valid_from": "2020-01-01",
                          "valid_until": "2030-12-31"}]
    body = json.dumps(officers, ensure_ascii=False).encode()
    assert len(body) > 1_500_000, len(body)  # well past the 1 MB default
    r = hub.admin.put("/api/v1/reference/officers", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["items"] == len(officers)
    hub.sync()
    # only the big set knows 浙执0003: with it the worker raises nothing for 0003, but does for 0001
    post(hub.enforcement, "/api/v1/intake/enforcement/inspections",
         [inspection(enterprise, agency, "2026-07-02", officer_cert_nos=["浙执0003", "浙执0001"])])
    hub.sync()
    uncertified = leads(hub.staff, rule_code="INSP_UNCERTIFIED", agency_code=agency)
    assert len(uncertified) == 1, uncertified
    assert "浙执0001" in uncertified[0]["explanation"] and "浙执0003" not in uncertified[0]["explanation"]
