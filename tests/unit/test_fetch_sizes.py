"""Fetch sizes of the hub's consumers (settings fetch_min_bytes / fetch_max_wait_ms): Faust builds
its worker consumer with a fetch that answers at the first byte and does not expose the setting,
so streams/faustfix.py sets it on the consumer Faust builds; the projector passes it to its own."""
from __future__ import annotations

import asyncio
import inspect

import faust
import pytest
from aiokafka import AIOKafkaConsumer

from streams import faustfix
from zhongshu.config import Settings


def test_the_worker_consumer_faust_builds_gets_the_fetch_sizes():
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    before = AIOKafkaConsumerThread._create_worker_consumer

    async def build():
        app = faust.App("t-fetch-sizes", broker="kafka://127.0.0.1:1")
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return consumer._fetch_min_bytes, consumer._fetch_max_wait_ms
        finally:
            await consumer.stop()

    try:  # (streams.app may have installed it already in this process: then `before` is ours)
        faustfix.fetch_sizes(12_345, 77)
        faustfix.fetch_sizes(23_456, 88)  # installed twice: the last call wins, nothing is wrapped twice
        assert asyncio.run(build()) == (23_456, 88)
        AIOKafkaConsumerThread._create_worker_consumer = AIOKafkaConsumerThread._zs_upstream_create
        assert asyncio.run(build()) == (1, 1500), "Faust's own: answer at the first byte, wait up to 1.5 s"
    finally:
        AIOKafkaConsumerThread._create_worker_consumer = before


def test_aiokafka_hands_those_attributes_to_its_fetcher():
    # what the override relies on: start() builds the Fetcher from these two attributes
    source = inspect.getsource(AIOKafkaConsumer.start)
    assert "fetch_min_bytes=self._fetch_min_bytes" in source
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in source


def test_defaults():
    assert (Settings().fetch_min_bytes, Settings().fetch_max_wait_ms) == (65536, 50)


@pytest.mark.integration
def test_the_projector_consumer_gets_the_fetch_sizes(kafka_bootstrap, tmp_path):
    from projections.db import make_engine
    from projections.projector import Projector

    projector = Projector(make_engine(f"sqlite:///{tmp_path / 'p.db'}"), kafka_bootstrap,
                          fetch_min_bytes=4321, fetch_max_wait_ms=66)
    consumer = projector._consumer()
    try:
        assert (consumer.config["fetch_min_bytes"], consumer.config["fetch_max_wait_ms"]) == (4321, 66)
    finally:
        consumer.close()
