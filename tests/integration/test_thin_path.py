"""One thin path on real parts: intake → Kafka → Faust worker → projector → query API."""
from __future__ import annotations

import uuid

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from schemas.codec import Codec, header_dict

pytestmark = pytest.mark.integration


def work_order(order_id: str, uscc: str = "91330203MA2AXXXX0X", **over) -> dict:
    rec = {
        "source_event_id": f"12345-{order_id}",
        "order_id": order_id,
        "received_at": "2026-05-06T09:30:00+08:00",
        "channel": "电话",
        "category": "投诉",
        "topic": "执法检查",
        "content": "来电人反映某执法部门一个月内三次到店检查，影响正常经营。",
        "subject": {"name": "宁波市海曙区某某餐饮有限公司", "uscc": uscc, "address": "宁波市海曙区中山西路1号"},
        "region_code": "330203",
        "complainant": {"name": "张三", "phone": "13805740000"},
        "status": "受理",
    }
    rec.update(over)
    return rec


def valid_uscc() -> str:
    from connectors.uscc import make_uscc

    return make_uscc("91330203MA2A" + uuid.uuid4().hex[:5].upper().replace("I", "1").replace("O", "0"))


def test_work_order_travels_from_intake_to_projection(hub):
    admin = hub.admin
    hotline = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('hotline')}"})
    uscc = valid_uscc()
    order_id = f"GD{uuid.uuid4().hex[:12]}"

    r = hotline.post("/api/v1/intake/hotline/workorders", json=work_order(order_id, uscc))
    assert r.status_code == 202, r.text
    accepted = r.json()["accepted"]
    assert [a["ce_id"] for a in accepted] == [f"12345-{order_id}"]

    # the record is on the topic, Avro single-object encoded, with CloudEvents headers
    consumer = KafkaConsumer(bootstrap_servers=hub.bootstrap, enable_auto_commit=False)
    tp = TopicPartition("hotline.workorders", accepted[0]["partition"])
    consumer.assign([tp])
    consumer.seek(tp, accepted[0]["offset"])
    msg = next(iter(consumer.poll(timeout_ms=10000).values()))[0]
    consumer.close()
    assert msg.value[:2] == b"\xc3\x01"
    assert msg.key == uscc.encode()
    headers = header_dict(msg.headers)
    assert headers["ce_id"] == f"12345-{order_id}" and headers["ce_specversion"] == "1.0"
    name, value = Codec().decode(msg.value)
    assert name == "WorkOrder" and value["order_id"] == order_id
    assert "张三" not in repr(value) and "13805740000" not in repr(value)

    hub.sync()
    staff = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('supervisor')}"})
    r = staff.get(f"/api/v1/enterprises/{uscc}")
    assert r.status_code == 200, r.text
    complaints = r.json()["complaints"]
    assert [c["order_id"] for c in complaints] == [order_id]
    assert "张三" not in r.text and "13805740000" not in r.text


def test_repeated_source_event_id_appends_nothing(hub):
    hotline = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('hotline')}"})
    rec = work_order(f"GD{uuid.uuid4().hex[:12]}", valid_uscc())
    first = hotline.post("/api/v1/intake/hotline/workorders", json=rec)
    again = hotline.post("/api/v1/intake/hotline/workorders", json=rec)
    assert first.status_code == 202
    assert again.status_code == 200 and again.json()["accepted"] == []
    assert again.json()["duplicates"][0]["offset"] == first.json()["accepted"][0]["offset"]


def test_a_list_mixing_new_ids_an_old_id_and_a_repeat_appends_each_new_id_once_in_order(hub):
    """A list's new ids are claimed in one statement; an id appended before and an id repeated
    inside the list take the one-by-one path and answer as duplicates with their position."""
    hotline = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('hotline')}"})
    uscc = valid_uscc()  # one key: one partition, so the order on it is checkable
    old, a, b, c = (work_order(f"GD{uuid.uuid4().hex[:12]}", uscc) for _ in range(4))
    first = hotline.post("/api/v1/intake/hotline/workorders", json=old)
    assert first.status_code == 202, first.text
    r = hotline.post("/api/v1/intake/hotline/workorders", json=[a, old, b, a, c])
    assert r.status_code == 202, r.text
    body = r.json()
    accepted = body["accepted"]
    assert [x["ce_id"] for x in accepted] == [a["source_event_id"], b["source_event_id"], c["source_event_id"]]
    offsets = [x["offset"] for x in accepted]
    assert offsets == sorted(offsets) and len(set(x["partition"] for x in accepted)) == 1
    dups = {x["ce_id"]: x for x in body["duplicates"]}
    assert sorted(dups) == sorted([old["source_event_id"], a["source_event_id"]])
    assert dups[old["source_event_id"]]["offset"] == first.json()["accepted"][0]["offset"]
    assert dups[a["source_event_id"]]["offset"] == accepted[0]["offset"]

    # on the topic: each id exactly once
    consumer = KafkaConsumer(bootstrap_servers=hub.bootstrap, enable_auto_commit=False)
    tp = TopicPartition("hotline.workorders", accepted[0]["partition"])
    consumer.assign([tp])
    consumer.seek(tp, first.json()["accepted"][0]["offset"])
    seen = []
    for _ in range(20):
        for msg in consumer.poll(timeout_ms=1000).get(tp, []):
            seen.append(header_dict(msg.headers)["ce_id"])
        if len(seen) >= 4:
            break
    consumer.close()
    ours = {old["source_event_id"], a["source_event_id"], b["source_event_id"], c["source_event_id"]}
    assert [s for s in seen if s in ours] == [old["source_event_id"], a["source_event_id"], b["source_event_id"],
                                              c["source_event_id"]]

    # the whole list again: nothing appended, every answer a duplicate with its position
    again = hotline.post("/api/v1/intake/hotline/workorders", json=[a, old, b, a, c])
    assert again.status_code == 200 and again.json()["accepted"] == []
    assert len(again.json()["duplicates"]) == 5


def test_invalid_work_order_is_rejected_naming_field_value_and_expectation(hub):
    hotline = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('hotline')}"})
    bad = work_order(f"GD{uuid.uuid4().hex[:12]}", "91330203MA2AXXXX0Z", received_at="2026-05-06T09:30:00")
    good = work_order(f"GD{uuid.uuid4().hex[:12]}", valid_uscc())
    r = hotline.post("/api/v1/intake/hotline/workorders", json=[good, bad])
    assert r.status_code == 422, r.text
    fields = {p["field"]: p for p in r.json()["problems"]}
    assert "[1].received_at" in fields and fields["[1].received_at"]["value"] == "2026-05-06T09:30:00"
    assert "[1].subject.uscc" in fields
    # nothing of the list was appended: the good record is still new
    assert hotline.post("/api/v1/intake/hotline/workorders", json=good).status_code == 202


def test_every_call_but_health_needs_a_key(hub):
    anon = httpx.Client(base_url=hub.url)
    assert anon.get("/healthz").status_code == 200
    assert anon.get("/api/v1/leads").status_code == 401
    assert anon.post("/api/v1/intake/hotline/workorders", json={}).status_code == 401
    hotline = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('hotline')}"})
    assert hotline.get("/api/v1/leads").status_code == 403
    assert hotline.post("/api/v1/clock/ticks", json={"at": "2026-05-07T00:00:00+08:00"}).status_code == 403


def test_schemas_are_served_by_fingerprint(hub):
    admin = hub.admin
    items = admin.get("/api/v1/schemas").json()["items"]
    names = {i["name"] for i in items}
    assert {"WorkOrder", "Inspection", "CaseEvent", "CreditEvent", "TransferSignal", "Lead", "CreditTrigger"} <= names
    wo = next(i for i in items if i["name"] == "WorkOrder")
    got = admin.get(f"/api/v1/schemas/{wo['fingerprint']}")
    assert got.status_code == 200 and got.json()["name"] == "WorkOrder"
    assert admin.get("/api/v1/schemas/0000000000000000").status_code == 404
