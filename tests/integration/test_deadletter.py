"""Poison messages on ingress topics go to hub.deadletter and the worker keeps going."""
from __future__ import annotations

import uuid

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas.codec import Codec

from .test_thin_path import valid_uscc, work_order

pytestmark = pytest.mark.integration


def deadletters(bootstrap: str) -> list[dict]:
    codec = Codec()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tps = [TopicPartition("hub.deadletter", p) for p in sorted(consumer.partitions_for_topic("hub.deadletter"))]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    out = []
    while batch := consumer.poll(timeout_ms=2000):
        for msgs in batch.values():
            out.extend(codec.decode(m.value)[1] for m in msgs)
    consumer.close()
    return out


def test_undecodable_and_invalid_records_are_dead_lettered_and_processing_goes_on(hub):
    codec = Codec()
    uscc = valid_uscc()
    producer = KafkaProducer(bootstrap_servers=hub.bootstrap)
    garbage = b"not avro at all " + uuid.uuid4().hex.encode()
    producer.send("hotline.workorders", key=uscc.encode(), value=garbage)
    # decodes fine, but a straight-to-Kafka producer skipped intake: naive time, bad check character
    bad_id = f"GD{uuid.uuid4().hex[:10]}"
    bad = {**work_order(bad_id, "91330203MA2AXXXX0Z", received_at="2026-05-06T09:30:00"),
           "complainant": {"name_token": "tk_" + "0" * 32, "phone_token": "tk_" + "1" * 32}}
    producer.send("hotline.workorders", key=uscc.encode(), value=codec.encode("WorkOrder", bad))
    producer.flush()
    producer.close()

    hotline = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('hotline')}"})
    good_id = f"GD{uuid.uuid4().hex[:10]}"
    assert hotline.post("/api/v1/intake/hotline/workorders", json=work_order(good_id, uscc)).status_code == 202
    hub.sync()

    letters = deadletters(hub.bootstrap)
    mine = [d for d in letters if d["original"] == garbage]
    assert len(mine) >= 1 and "marker" in mine[0]["reason"].lower() or "decode" in mine[0]["reason"].lower()
    invalid = [d for d in letters if bad_id.encode() in d["original"]]
    assert invalid and "received_at" in invalid[0]["reason"] and "subject.uscc" in invalid[0]["reason"]
    staff = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('supervisor')}"})
    file = staff.get(f"/api/v1/enterprises/{uscc}").json()
    assert good_id in [c["order_id"] for c in file["complaints"]]
