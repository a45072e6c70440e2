"""The log check behind streams/faustfix.py, on the real broker: which offset really holds the
next record decides whether a fetch jump is a hole to refuse or a gap to pass."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from faust.types import TP
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from streams import faustfix

pytestmark = pytest.mark.integration


def test_first_offset_from_reads_the_log(kafka_bootstrap):
    topic = f"faustfix-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for i in range(5):
        producer.send(topic, key=b"k", value=str(i).encode(), partition=0)
    producer.flush()
    producer.close()
    faustfix.install(bootstrap=kafka_bootstrap)
    tp = TP(topic, 0)
    assert asyncio.run(faustfix.first_offset_from(tp, 2)) == 2  # records exist: a jump over them is a hole
    assert asyncio.run(faustfix.first_offset_from(tp, 0)) == 0
    assert asyncio.run(faustfix.first_offset_from(tp, 5)) is None  # past the end: nothing to process
