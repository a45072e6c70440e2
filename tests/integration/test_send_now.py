"""A record that waits for its outputs' acknowledgement must not also wait out the producer's
linger (streams/app.py `_send_now`): with it, a lingering send reaches the broker at once."""
from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer

from streams import app as worker

pytestmark = pytest.mark.integration

LINGER_S = 6.0


async def _acked_after(bootstrap: str, holder, send_now: bool) -> float:
    producer = holder._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=int(LINGER_S * 1000))
    await producer.start()
    try:
        topic = f"zs-send-now-{uuid.uuid4().hex[:8]}"
        await producer.send_and_wait(topic, b"creates the topic and its metadata first")
        started = time.monotonic()
        fut = await producer.send(topic, b"a lead the agent waits for")
        if send_now:
            worker._send_now()
        await asyncio.wait_for(fut, LINGER_S * 3)
        return time.monotonic() - started
    finally:
        await producer.stop()


def test_a_waited_for_output_is_sent_without_its_linger(kafka_bootstrap, monkeypatch):
    holder = SimpleNamespace(_producer=None)  # what `app.producer` is to _send_now: Faust's wrapper
    monkeypatch.setattr(type(worker.app), "producer", property(lambda self: holder), raising=False)
    assert asyncio.run(_acked_after(kafka_bootstrap, holder, send_now=False)) >= LINGER_S * 0.8  # the control
    assert asyncio.run(_acked_after(kafka_bootstrap, holder, send_now=True)) < LINGER_S / 2
