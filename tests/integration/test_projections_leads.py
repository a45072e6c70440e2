"""The lead queue on real parts: staff actions as events, optimistic concurrency, legal
transitions, region scope (404, not 403), grade filter and the SSE stream."""
from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from .test_projections_support import client, inspection, lead, new_agency, new_uscc, post, produce

pytestmark = pytest.mark.integration


def _wait_for(fn, timeout: float = 60, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(every)
    raise AssertionError("condition not met in time")


def test_two_simultaneous_claims_at_the_same_version_append_exactly_one(hub):
    item = lead(agency_code=new_agency())
    produce(hub.bootstrap, "supervision.leads", [item])
    hub.sync()
    staff = [client(hub), client(hub)]
    barrier = threading.Barrier(2)
    answers = [None, None]

    def claim(i):
        barrier.wait()
        answers[i] = staff[i].post(f"/api/v1/leads/{item['lead_id']}/claim", json={"version": 1, "note": f"第{i}位"})

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [202, 409], [a.text for a in answers]
    won = next(a for a in answers if a.status_code == 202).json()
    lost = next(a for a in answers if a.status_code == 409).json()
    assert won["version"] == 2 and won["status"] == "处理中" and won["topic"] == "supervision.lead-actions"
    assert lost["current_version"] == 2 and "版本冲突" in lost["title"] and "version conflict" in lost["title"]

    hub.sync()
    got = staff[0].get(f"/api/v1/leads/{item['lead_id']}").json()
    assert (got["status"], got["version"]) == ("处理中", 2)
    assert [h["action"] for h in got["history"]] == ["raised", "claimed"]
    assert got["history"][1]["action_id"] == won["action_id"] and got["assignee"] == got["history"][1]["actor"]


def test_actions_follow_the_legal_transitions_and_name_missing_fields(hub):
    item = lead(agency_code=new_agency())
    produce(hub.bootstrap, "supervision.leads", [item])
    hub.sync()
    staff = client(hub)
    url = f"/api/v1/leads/{item['lead_id']}"

    r = staff.post(url + "/resolve", json={"version": 1, "outcome": "x"})
    assert r.status_code == 409 and "状态不允许" in r.json()["title"] and "illegal transition" in r.json()["title"]
    assert staff.post(url + "/reopen", json={"version": 1}).status_code == 409
    assert staff.post(url + "/claim", json={}).status_code == 422          # version is required
    assert staff.post(url + "/claim", json={"version": 1}).status_code == 202
    r = staff.post(url + "/claim", json={"version": 1})
    assert r.status_code == 409 and r.json()["current_version"] == 2       # stale version
    r = staff.post(url + "/claim", json={"version": 2})
    assert r.status_code == 409 and r.json()["status"] == "处理中"           # already being worked
    r = staff.post(url + "/resolve", json={"version": 2})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "outcome"
    r = staff.post(url + "/dismiss", json={"version": 2, "note": "  "})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "note"
    r = staff.post(url + "/resolve", json={"version": 2, "outcome": "已责令改正并约谈", "note": "现场核实"})
    assert r.status_code == 202 and r.json()["version"] == 3
    assert staff.post(url + "/claim", json={"version": 3}).status_code == 409
    assert staff.post(url + "/reopen", json={"version": 3, "note": "复核发现问题未整改"}).status_code == 202
    assert staff.post(url + "/claim", json={"version": 4}).status_code == 202
    assert staff.post(url + "/dismiss", json={"version": 5, "outcome": "不属于监督范围"}).status_code == 202
    assert staff.post(f"/api/v1/leads/LD-nope-{item['lead_id']}/claim", json={"version": 1}).status_code == 404
    r = staff.post(url + "/claim", content=b'{"version": NaN}', headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "version"]
    for path in ("/api/v1/leads", "/api/v1/credit/triggers"):
        assert staff.get(path, params={"page": 10**20}).status_code == 422

    hub.sync()
    got = staff.get(url).json()
    assert (got["status"], got["version"], got["outcome"]) == ("已驳回", 6, "不属于监督范围")
    assert [(h["action"], h["version"]) for h in got["history"]] == [
        ("raised", 1), ("claimed", 2), ("resolved", 3), ("reopened", 4), ("claimed", 5), ("dismissed", 6)]
    assert got["history"][2]["outcome"] == "已责令改正并约谈"


def test_region_scope_district_city_and_other_district(hub):
    agency = new_agency()
    here = lead(agency_code=agency, region_code="330203")
    there = lead(agency_code=agency, region_code="330212")
    produce(hub.bootstrap, "supervision.leads", [here, there])
    uscc_here, uscc_there = new_uscc(), new_uscc()
    enforcement = client(hub, "enforcement")
    post(enforcement, "enforcement/inspections", [inspection(agency, uscc_here, region_code="330203"),
                                                  inspection(agency, uscc_there, region_code="330212")])
    hub.sync()
    district, city, other = client(hub, region="330203"), client(hub, region="330200"), client(hub, region="330212")

    def listed(c):
        return {i["lead_id"] for i in c.get("/api/v1/leads", params={"agency_code": agency}).json()["items"]}

    assert listed(district) == {here["lead_id"]}
    assert listed(city) == {here["lead_id"], there["lead_id"]}
    assert listed(other) == {there["lead_id"]}
    assert other.get(f"/api/v1/leads/{here['lead_id']}").status_code == 404
    assert city.get(f"/api/v1/leads/{here['lead_id']}").status_code == 200
    assert other.post(f"/api/v1/leads/{here['lead_id']}/claim", json={"version": 1}).status_code == 404
    assert listed(client(hub, region="330100")) == set()  # another city

    assert district.get(f"/api/v1/enterprises/{uscc_here}").status_code == 200
    assert other.get(f"/api/v1/enterprises/{uscc_here}").status_code == 404
    assert other.get(f"/api/v1/enterprises/{uscc_here}/timeline").status_code == 404
    assert city.get(f"/api/v1/enterprises/{uscc_there}").status_code == 200
    assert district.get("/api/v1/indicators", params={"region_code": "330212"}).status_code == 404
    assert district.get("/api/v1/indicators", params={"region_code": "330200"}).status_code == 404
    ind = district.get("/api/v1/indicators", params={"agency_code": agency, "from": "2026-01-01",
                                                     "to": "2026-12-31"}).json()
    assert ind["region_code"] == "330203"
    assert next(i for i in ind["indicators"] if i["code"] == "inspections")["value"] == 1
    ind = city.get("/api/v1/indicators", params={"agency_code": agency, "from": "2026-01-01",
                                                 "to": "2026-12-31"}).json()
    assert next(i for i in ind["indicators"] if i["code"] == "inspections")["value"] == 2
    assert client(hub, "hotline").get("/api/v1/leads").status_code == 403


def test_grade_is_shown_and_filters_the_list(hub):
    agency = new_agency()
    a = lead(agency_code=agency, grade="A", rule_code="HOT_ENFORCEMENT_COMPLAINT", rule_name="执法投诉印证",
             subject={"type": "agency", "id": agency, "name": "某局"})
    c = lead(agency_code=agency, grade="C", rule_code="HOT_ENFORCEMENT_COMPLAINT", rule_name="执法投诉印证",
             subject={"type": "agency", "id": agency, "name": "某局"})
    produce(hub.bootstrap, "supervision.leads", [a, c])
    hub.sync()
    staff = client(hub)
    items = staff.get("/api/v1/leads", params={"agency_code": agency, "grade": "A"}).json()["items"]
    assert [(i["lead_id"], i["grade"]) for i in items] == [(a["lead_id"], "A")]
    assert staff.get("/api/v1/leads", params={"grade": "Z"}).status_code == 422
    page = staff.get("/api/v1/leads", params={"agency_code": agency, "page_size": 1}).json()
    assert len(page["items"]) == 1 and page["next_page"] == 2
    assert staff.get("/api/v1/leads", params={"page_size": 501}).status_code == 422


def test_a_real_rule_raises_a_lead_into_the_queue(hub):
    """INSP_NO_CODE (未亮码检查): an inspection without action_code, through the stream worker."""
    agency = new_agency()
    post(client(hub, "enforcement"), "enforcement/inspections", inspection(agency, new_uscc(), action_code=None))
    staff = client(hub)

    def raised():
        hub.sync()
        return staff.get("/api/v1/leads", params={"agency_code": agency, "rule_code": "INSP_NO_CODE"}).json()["items"]

    items = _wait_for(raised)
    assert items[0]["status"] == "待认领" and items[0]["version"] == 1 and items[0]["evidence"]


def test_stream_sends_new_and_changed_leads_and_resumes_from_last_event_id(hub):
    key = hub.key("supervisor", "330203")
    headers = {"Authorization": f"Bearer {key}"}
    item = lead(agency_code=new_agency(), region_code="330203")
    elsewhere = lead(agency_code=new_agency(), region_code="330212")
    received: list[tuple[str, dict]] = []
    ready = threading.Event()

    def listen(extra_headers: dict, into: list, stop_when):
        with httpx.Client(base_url=hub.url, timeout=httpx.Timeout(60, read=60)) as c:
            with c.stream("GET", "/api/v1/leads/stream", headers={**headers, **extra_headers},
                          params={"poll": 0.2}) as r:
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
                ready.set()
                event_id, data = None, None
                for line in r.iter_lines():
                    if line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("data:"):
                        data = json.loads(line[5:].strip())
                    elif line == "" and data is not None:
                        into.append((event_id, data))
                        data = None
                        if stop_when(into):
                            return

    t = threading.Thread(target=listen, args=({}, received,
                                              lambda got: any(d["lead_id"] == item["lead_id"] and d["status"] == "处理中"
                                                              for _, d in got)), daemon=True)
    t.start()
    assert ready.wait(30)
    time.sleep(1)  # the stream starts from "now": give it a first poll
    produce(hub.bootstrap, "supervision.leads", [elsewhere, item])
    hub.sync()
    staff = client(hub, region="330203")
    assert staff.post(f"/api/v1/leads/{item['lead_id']}/claim", json={"version": 1}).status_code == 202
    hub.sync()
    t.join(60)
    assert not t.is_alive(), f"stream did not deliver the lead; got {received}"
    ours = [(i, d) for i, d in received if d["lead_id"] == item["lead_id"]]
    assert [d["status"] for _, d in ours] == ["待认领", "处理中"]
    assert all(d["lead_id"] != elsewhere["lead_id"] for _, d in received), "region scope applies to the stream"

    # resume: everything after the first event id is sent again
    first_id = ours[0][0]
    again: list = []
    ready.clear()
    t2 = threading.Thread(target=listen, args=({"Last-Event-ID": first_id}, again,
                                               lambda got: any(d["lead_id"] == item["lead_id"] for _, d in got)),
                          daemon=True)
    t2.start()
    t2.join(60)
    assert [d["status"] for _, d in again if d["lead_id"] == item["lead_id"]] == ["处理中"]
    assert all(int(i) > int(first_id) for i, _ in again)
