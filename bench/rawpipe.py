"""The raw pipe (裸管道): aiokafka consume → Avro decode → encode → produce, nothing else.

The yardstick of DESIGN.md §11: the same records the worker reads (the ingress topics and
hub.clock), decoded and re-encoded with the hub's codec and appended to one output topic
with their keys and headers, offsets committed every 0.5 s (the worker's commit interval),
producer tuned as the worker's (linger 10 ms, 256 KiB batches, acks=all). Runs until its
consumer group has read every partition up to the end offsets it saw at start, then prints
one JSON line.

    python3 -m bench.rawpipe --broker HOST:PORT --group G [--out bench.raw-out]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time


async def run(broker: str, group: str, topics: list[str], out: str) -> dict:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition

    from schemas.codec import Codec

    codec = Codec()
    started = time.monotonic()
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=broker, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=2000)
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=10, max_batch_size=256 * 1024)
    await producer.start()
    await consumer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.05)
            await consumer.getmany(timeout_ms=50, max_records=1)  # joins the group; nothing read before seek
        tps = sorted(consumer.assignment())
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        for tp in tps:  # the first getmany above may have read a record: start every run at the beginning
            consumer.seek(tp, begins[tp])
        ready = time.monotonic()
        n = 0
        first = None
        last_commit = time.monotonic()
        while await _behind(consumer, tps, ends):
            batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            for tp, msgs in batch.items():
                for m in msgs:
                    if m.offset >= ends[tp]:
                        continue
                    name, value = codec.decode(m.value)
                    await producer.send(out, key=m.key, value=codec.encode(name, value), headers=list(m.headers))
                    n += 1
            if n and first is None:
                first = time.monotonic()
            if time.monotonic() - last_commit >= 0.5:
                await consumer.commit()
                last_commit = time.monotonic()
        await producer.flush()
        await consumer.commit()
        done = time.monotonic()
    finally:
        await consumer.stop()
        await producer.stop()
    return {"records": n, "seconds_total": round(done - started, 3), "seconds_from_ready": round(done - ready, 3),
            "seconds_from_first": round(done - (first or done), 3), "partitions": len(tps),
            "rate_from_ready": round(n / (done - ready)) if done > ready else None}


async def _behind(consumer, tps, ends) -> bool:
    for tp in tps:
        if await consumer.position(tp) < ends[tp]:
            return True
    return False


def main(argv=None) -> int:
    from streams.topics import INGRESS_TOPICS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--broker", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--out", default="bench.raw-out")
    p.add_argument("--topics", default=",".join((*INGRESS_TOPICS, "hub.clock")))
    a = p.parse_args(argv)
    result = asyncio.run(run(a.broker, a.group, a.topics.split(","), a.out))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
