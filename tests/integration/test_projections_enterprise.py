"""The enterprise file (一企一档), its timeline, and the credit-trigger list."""
from __future__ import annotations

import pytest

from .test_projections_support import (
    case_decided, case_event, case_filed, client, inspection, lead, new_agency, new_uscc, post, produce, trigger,
    work_order,
)

pytestmark = pytest.mark.integration


def test_enterprise_file_and_timeline_hold_every_event_in_time_order(hub):
    agency, uscc = new_agency(), new_uscc()
    enforcement, credit = client(hub, "enforcement"), client(hub, "credit")
    order = work_order(uscc, received_at="2026-01-10T09:00:00+08:00")
    posted = {}
    posted["workorder"] = post(client(hub, "hotline"), "hotline/workorders", order).json()["accepted"][0]
    insp = inspection(agency, uscc, started_at="2026-01-20T10:00:00+08:00")
    posted["inspection"] = post(enforcement, "enforcement/inspections", insp).json()["accepted"][0]
    case_id = f"AJ-{uscc[-8:]}"
    decided = case_decided(case_id, "2026-02-10T10:00:00+08:00", "8000.00")
    post(enforcement, "enforcement/cases", [
        case_filed(case_id, agency, uscc, filed_at="2026-02-01T09:00:00+08:00"), decided,
        case_event(case_id, "published", published_at="2026-02-12T10:00:00+08:00", channel="信用中国", masked=True),
        case_event(case_id, "fulfilled", at="2026-02-20T10:00:00+08:00")])
    # the later risk class arrives first: the state follows event time, not arrival
    post(credit, "credit/events", [
        {"source_event_id": f"cr-{uscc}-b", "uscc": uscc, "kind": "risk_class_changed", "risk_class": "B",
         "at": "2026-03-01T00:00:00+08:00"},
        {"source_event_id": f"cr-{uscc}-c", "uscc": uscc, "kind": "risk_class_changed", "risk_class": "C",
         "at": "2026-01-01T00:00:00+08:00"},
        {"source_event_id": f"cr-{uscc}-ps", "uscc": uscc, "kind": "publicity_started",
         "decision_no": decided["decision_no"], "at": "2026-02-12T10:00:00+08:00"},
        {"source_event_id": f"cr-{uscc}-ra", "uscc": uscc, "kind": "repair_applied",
         "decision_no": decided["decision_no"], "at": "2026-05-12T10:00:00+08:00"}])
    post(client(hub, "justice"), "justice/transfers", {"source_event_id": f"xf-{case_id}", "case_id": case_id,
                                                       "kind": "report_made", "at": "2026-02-11T09:00:00+08:00"})
    about = lead(subject={"type": "enterprise", "id": uscc, "name": "宁波某某建材有限公司"}, agency_code=agency,
                 rule_code="INSP_DUPLICATE", rule_name="重复检查", detected_at="2026-01-21T00:00:00+08:00")
    produce(hub.bootstrap, "supervision.leads", [about])
    trig = trigger(uscc, decided["decision_no"], detected_at="2026-05-11T00:00:00+08:00")
    produce(hub.bootstrap, "credit.repair-triggers", [trig])
    hub.sync()

    staff = client(hub, region="330203")
    r = staff.get(f"/api/v1/enterprises/{uscc}")
    assert r.status_code == 200, r.text
    f = r.json()
    assert (f["uscc"], f["name"], f["region_code"]) == (uscc, "宁波某某建材有限公司", "330203")
    assert [i["inspection_id"] for i in f["inspections"]] == [insp["inspection_id"]]
    [case] = f["cases"]
    assert (case["case_id"], case["decision_no"], case["fine_amount"], case["stage"]) == \
        (case_id, decided["decision_no"], "8000.00", "已履行")
    assert case["published_at"].startswith("2026-02-12") and case["publication_channel"] == "信用中国"
    assert [c["order_id"] for c in f["complaints"]] == [order["order_id"]]
    assert "李四" not in r.text and "13805740001" not in r.text
    assert (f["credit"]["risk_class"], f["credit"]["risk_class_at"][:10]) == ("B", "2026-02-28")  # UTC of 03-01 +08
    [repair] = f["credit"]["repairs"]
    assert (repair["decision_no"], repair["status"]) == (decided["decision_no"], "已申请修复")
    assert trig["trigger_id"] in [t["trigger_id"] for t in f["credit_triggers"]]  # (the rules may add their own)
    assert about["lead_id"] in {l["lead_id"] for l in f["open_leads"]}

    tl = staff.get(f"/api/v1/enterprises/{uscc}/timeline").json()
    kinds = [i["kind"] for i in tl["items"]]
    assert kinds[:3] == ["credit.risk_class_changed", "workorder", "inspection"]
    assert kinds.index("case.filed") < kinds.index("case.decided") < kinds.index("transfer.report_made") \
        < kinds.index("case.published") < kinds.index("case.fulfilled") < kinds.index("trigger.CR_REPAIR_ELIGIBLE")
    assert "lead.raised" in kinds
    ats = [i["at"] for i in tl["items"]]
    assert ats == sorted(ats)
    wo = next(i for i in tl["items"] if i["kind"] == "workorder")
    assert (wo["topic"], wo["partition"], wo["offset"], wo["ce_id"]) == (
        "hotline.workorders", posted["workorder"]["partition"], posted["workorder"]["offset"], order["source_event_id"])
    ins = next(i for i in tl["items"] if i["kind"] == "inspection")
    assert (ins["offset"], ins["action_code"]) == (posted["inspection"]["offset"], insp["action_code"])
    decided_item = next(i for i in tl["items"] if i["kind"] == "case.decided")
    assert "8,000.00 元" in decided_item["summary"] and decided["decision_no"] in decided_item["summary"]
    assert all(i["summary"] for i in tl["items"])
    assert staff.get(f"/api/v1/enterprises/{new_uscc()}").status_code == 404


def test_credit_triggers_list_filters_by_uscc_and_kind_and_respects_region(hub):
    agency, uscc = new_agency(), new_uscc()
    case_id = f"AJ-{uscc[-8:]}"
    decided = case_decided(case_id, "2026-02-10T10:00:00+08:00", "8000.00")
    post(client(hub, "enforcement"), "enforcement/cases", [case_filed(case_id, agency, uscc), decided])
    eligible = trigger(uscc, decided["decision_no"])
    expired = trigger(uscc, decided["decision_no"], code="CR_PUBLICITY_EXPIRED", detected_at="2027-02-11T00:00:00+08:00")
    produce(hub.bootstrap, "credit.repair-triggers", [eligible, expired])
    hub.sync()

    credit = client(hub, "credit")
    r = credit.get("/api/v1/credit/triggers", params={"uscc": uscc})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    ours = [t for t in items if t["trigger_id"] in (eligible["trigger_id"], expired["trigger_id"])]
    assert [t["trigger_id"] for t in ours] == [expired["trigger_id"], eligible["trigger_id"]]  # newest first
    assert ours[1]["reasons"] == eligible["reasons"] and ours[1]["region_code"] == "330203"
    assert [t["detected_at"] for t in items] == sorted((t["detected_at"] for t in items), reverse=True)
    only = credit.get("/api/v1/credit/triggers", params={"uscc": uscc, "kind": "CR_PUBLICITY_EXPIRED"}).json()
    assert expired["trigger_id"] in [t["trigger_id"] for t in only["items"]]
    assert {t["code"] for t in only["items"]} == {"CR_PUBLICITY_EXPIRED"} and only["next_page"] is None
    page = credit.get("/api/v1/credit/triggers", params={"uscc": uscc, "page_size": 1}).json()
    assert len(page["items"]) == 1 and page["next_page"] == 2
    assert client(hub, "supervisor", "330212").get("/api/v1/credit/triggers",
                                                   params={"uscc": uscc}).json()["items"] == []
    assert client(hub, "credit", "330203").get("/api/v1/credit/triggers",
                                               params={"uscc": uscc}).json()["items"] != []
    assert client(hub, "hotline").get("/api/v1/credit/triggers").status_code == 403
