"""Kafka plumbing shared by intake, clock, sync and readiness (aiokafka at the edges only)."""
from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import TopicPartition

from streams.topics import REFERENCE_MAX_BYTES
from zhongshu.config import aiokafka_kwargs


def producer(bootstrap: str, client_kwargs: dict | None = None) -> AIOKafkaProducer:
    """`client_kwargs` as Settings.kafka_client_kwargs() gives them (kafka-python's names).

    acks=all + idempotence: an accepted intake record is durably in the log before we answer 202.
    aiokafka's idempotent producer never expires a batch — it retries until the broker takes it
    — so callers bound their wait themselves (IntakeService: `intake_send_timeout`)."""
    p = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
        linger_ms=5, max_batch_size=256 * 1024, request_timeout_ms=15000,
        max_request_size=REFERENCE_MAX_BYTES + 64 * 1024,  # a whole reference set is one record
        **aiokafka_kwargs(client_kwargs or {}),
    )
    # what a reader of the same log needs (IntakeService recovers in-doubt appends with it)
    p.zs_bootstrap, p.zs_client_kwargs = bootstrap, dict(client_kwargs or {})
    return p


def partition_for(key: bytes, partitions) -> int:
    """The partition Kafka's default partitioner (murmur2, as the Java client) picks for `key`."""
    parts = sorted(partitions)
    return DefaultPartitioner()(key, parts, parts)


async def find_ce_id(bootstrap: str, client_kwargs: dict | None, topic: str, partition: int, ce_id: str,
                     since_ms: int, timeout: float = 30.0) -> int | None:
    """The offset of the record with CloudEvents header ce_id = `ce_id` on one partition, looking
    at records whose timestamp is `since_ms` or later; None if there is none up to the log end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                request_timeout_ms=int(timeout * 1000), **aiokafka_kwargs(client_kwargs or {}))
    want = ce_id.encode()

    async def scan() -> int | None:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        found = (await consumer.offsets_for_times({tp: max(0, since_ms)})).get(tp)
        if found is None:
            return None
        end = (await consumer.end_offsets([tp]))[tp]
        consumer.seek(tp, found.offset)
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=2000)
            for msg in batch.get(tp, ()):
                if msg.offset >= end:
                    return None
                if any(k == "ce_id" and v == want for k, v in msg.headers or ()):
                    return msg.offset
        return None

    try:
        await asyncio.wait_for(consumer.start(), timeout)
        return await asyncio.wait_for(scan(), timeout)
    finally:
        await consumer.stop()


class LogPositions:
    """End offsets of topics and committed offsets of consumer groups."""

    def __init__(self, bootstrap: str, client_kwargs: dict | None = None):
        self.bootstrap = bootstrap
        self.kw = client_kwargs or {}
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._lock = asyncio.Lock()

    async def start(self):
        kw = aiokafka_kwargs(self.kw)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, **kw)
        await self._consumer.start()
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **kw)
        await self._admin.start()

    async def stop(self):
        if self._consumer:
            await self._consumer.stop()
        if self._admin:
            await self._admin.close()

    async def partitions(self, topics) -> list[TopicPartition]:
        out = []
        for t in topics:
            parts = self._consumer.partitions_for_topic(t)
            if parts is None:
                await self._consumer._client.force_metadata_update()
                parts = self._consumer.partitions_for_topic(t) or set()
            out.extend(TopicPartition(t, p) for p in sorted(parts))
        return out

    async def end_offsets(self, topics) -> dict[TopicPartition, int]:
        tps = await self.partitions(topics)
        if not tps:
            return {}
        async with self._lock:
            return await self._consumer.end_offsets(tps)

    async def beginning_offsets(self, tps) -> dict[TopicPartition, int]:
        async with self._lock:
            return await self._consumer.beginning_offsets(list(tps))

    async def group_offsets(self, group: str) -> dict[TopicPartition, int]:
        async with self._lock:
            got = await self._admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in got.items() if meta is not None and meta.offset >= 0}
