"""Clock ticks (时钟): time enters the hub only as recorded ticks on hub.clock."""
from __future__ import annotations

from datetime import datetime

from schemas.codec import CE_TYPES, cloudevent_headers


def validate_tick_time(at: str) -> str:
    try:
        when = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ValueError(f"at {at!r}: expected an RFC 3339 time with explicit UTC offset, e.g. 2026-05-01T09:00:00+08:00")
    return str(at)


def tick_records(codec, at: str, partitions) -> list[tuple[int, bytes, bytes, list]]:
    """One tick per partition, so every worker's partitions see it; ids are deterministic."""
    out = []
    for p in sorted(partitions):
        tick_id = f"tick-{at}-{p}"
        value = codec.encode("ClockTick", {"tick_id": tick_id, "at": at, "partition": p})
        headers = cloudevent_headers(ce_id=tick_id, source="/zhongshu/clock", type=CE_TYPES["hub.clock"], time=at)
        out.append((p, str(p).encode(), value, headers))
    return out


def send_tick(bootstrap: str, codec, at: str, client_kwargs: dict | None = None) -> int:
    """Blocking variant for the CLI and the wall-clock ticker (kafka-python)."""
    from kafka import KafkaProducer

    at = validate_tick_time(at)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **(client_kwargs or {}))
    try:
        parts = producer.partitions_for("hub.clock")
        for p, key, value, headers in tick_records(codec, at, parts):
            producer.send("hub.clock", key=key, value=value, partition=p, headers=headers)
        producer.flush()
        return len(parts)
    finally:
        producer.close()
