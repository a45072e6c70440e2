"""Kafka plumbing shared by intake, clock, sync and readiness (aiokafka at the edges only)."""
from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition


def producer(bootstrap: str, client_kwargs: dict | None = None) -> AIOKafkaProducer:
    # acks=all + idempotence: an accepted intake record is durably in the log before we answer 202.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
        linger_ms=5, max_batch_size=256 * 1024, request_timeout_ms=15000,
        **(client_kwargs or {}),
    )


class LogPositions:
    """End offsets of topics and committed offsets of consumer groups."""

    def __init__(self, bootstrap: str, client_kwargs: dict | None = None):
        self.bootstrap = bootstrap
        self.kw = client_kwargs or {}
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._lock = asyncio.Lock()

    async def start(self):
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, **self.kw)
        await self._consumer.start()
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **self.kw)
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
