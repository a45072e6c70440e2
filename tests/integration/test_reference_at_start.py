"""A worker reads the reference sets (参考数据) on the log before its first rule runs
(streams/app.py `reference_at_start`), so a new deployment or a replay under a new app id does
not judge its first facts without officers, plans or agency names. On the real broker: the
last good set of each topic is read, a poison record after it is passed over, and a worker
group that has already read a topic (its reference table holds the set) reads nothing of it."""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import OffsetAndMetadata, TopicPartition

from schemas.codec import Codec
from streams import app as worker
from streams.topics import create_topics

pytestmark = pytest.mark.integration

codec = Codec()


def _set(kind: str, items: list) -> bytes:
    return codec.encode("ReferenceSet", {"kind": kind, "version": time.time_ns(), "set_at": "2026-11-22T00:00:00+00:00",
                                         "items_json": json.dumps(items, ensure_ascii=False)})


def _read(monkeypatch, bootstrap: str, app_id: str) -> dict:
    monkeypatch.setattr(worker.settings, "broker", bootstrap)
    monkeypatch.setattr(worker.settings, "app_id", app_id)
    assert worker.settings.bootstrap == bootstrap
    return asyncio.run(worker._read_reference_sets(timeout=60))


def test_the_last_good_set_of_each_topic_is_read_before_the_rules(kafka_bootstrap, monkeypatch):
    create_topics(kafka_bootstrap, 4)
    tag = uuid.uuid4().hex[:8]
    agencies_old = [{"agency_code": f"OLD-{tag}", "name": "旧机关"}]
    agencies = [{"agency_code": f"A-{tag}", "name": "海曙区市场监督管理局", "region_code": "330203"}]
    plans = [{"plan_id": f"JH-{tag}", "agency_code": f"A-{tag}", "year": 2026}]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=4 * 1024 * 1024)
    try:
        producer.send("reference.agencies", key=b"agencies", value=_set("agencies", agencies_old))
        producer.send("reference.agencies", key=b"agencies", value=_set("agencies", agencies))
        producer.send("reference.inspection-plans", key=b"inspection-plans", value=_set("inspection-plans", plans))
        producer.send("reference.inspection-plans", key=b"inspection-plans", value=b"\x00not avro at all")
        producer.flush()
    finally:
        producer.close()

    sets = _read(monkeypatch, kafka_bootstrap, f"zhongshu-refstart-{tag}")
    assert sets["agencies"]["items"] == agencies, "the newest set, not an older one"
    assert sets["inspection-plans"]["items"] == plans, "a poison record after the set does not hide it"

    # the rules of a worker whose reference table is still empty see those sets
    monkeypatch.setattr(worker, "reference_table", {})
    monkeypatch.setattr(worker, "_sets_at_start", sets)
    monkeypatch.setattr(worker, "_config_cache", None)
    config = worker.current_config()
    assert config.ref("agencies") == agencies and config.ref("inspection-plans") == plans
    # a newer set the reference agent wrote to the table wins over the one read at start-up
    newer = [{"agency_code": f"A-{tag}", "name": "海曙区综合行政执法局"}]
    worker.reference_table["agencies"] = {"version": 1, "items": newer, "offset": sets["agencies"]["offset"] + 1}
    assert worker.current_config().ref("agencies") == newer


def test_a_group_that_has_read_a_topic_reads_nothing_of_it_again(kafka_bootstrap, monkeypatch):
    create_topics(kafka_bootstrap, 4)
    tag = uuid.uuid4().hex[:8]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    try:
        producer.send("reference.fine-lines", key=b"fine-lines", value=_set("fine-lines", [{"x": tag}])).get(30)
    finally:
        producer.close()
    app_id = f"zhongshu-refstart-{tag}"
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=app_id, enable_auto_commit=False)
    try:
        tp = TopicPartition("reference.fine-lines", 0)
        end = consumer.end_offsets([tp])[tp]
        consumer.commit({tp: OffsetAndMetadata(end, "", -1)})  # as the reference agent commits
    finally:
        consumer.close()
    sets = _read(monkeypatch, kafka_bootstrap, app_id)
    assert "fine-lines" not in sets, "that set is in the group's reference table already"
    assert _read(monkeypatch, kafka_bootstrap, f"{app_id}-new")["fine-lines"]["items"] == [{"x": tag}]
