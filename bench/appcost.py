"""The worker's own code without Faust and Kafka: CPU per record of streams/app.py's `handle`.

    python3 -m bench.appcost [--records 50000] [--workload synth|simple] [--enterprises N]
                             [--repeat 3] [--profile out.txt]

Imports streams.app as the worker does, swaps the Faust tables for dicts, the topics for
in-memory sinks, and the tick gate for "always ready" (the log is read in append order here),
then feeds the pre-encoded workload through `handle(space, event)` — decode, validation of
the decoded record, rules (`dispatch`), lead encoding, case-fact forwarding (the forwards are
fed back in, as the worker reads them from hub.facts-by-*), ticks swept over the table. What
the real worker spends beyond this per record is Faust, aiokafka and the table changelog.

Measured in process CPU time (time.process_time), so other tenants of a shared machine
disturb it little; the wall time is printed beside it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

from . import infra  # noqa: F401  (ZHONGSHU_BENCH_CODE: the code under test goes first on sys.path)
from . import workload as wlmod


class _Table(dict):
    """What handle() needs of a Faust table: get / [] with a dict default / items / setitem."""

    def __missing__(self, key):
        return {}


class _Event:
    """A Faust event as the agents see it (weak-referenceable: the worker makes it current)."""

    def __init__(self, message):
        self.message = message


class _Sink:
    def __init__(self, name: str, queue: list | None = None):
        self.name, self.queue, self.sent = name, queue, 0
        self.digests: set = set()

    async def send(self, key=None, value=None, headers=None, partition=None, **_):
        import hashlib

        self.sent += 1
        self.digests.add((key, hashlib.sha1(value).hexdigest()))
        if self.queue is not None:
            self.queue.append((self.name, key, value, headers, partition))
        done = asyncio.get_running_loop().create_future()  # as Faust: a delivery future
        done.set_result(None)
        return done


class _TP(tuple):
    @property
    def topic(self):
        return self[0]

    @property
    def partition(self):
        return self[1]


def _partition(key: bytes, partitions: int) -> int:
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


def setup(partitions: int):
    """Import streams.app with its I/O swapped out; returns (module, sinks, forward queue)."""
    import streams.app as app_mod

    staged = getattr(app_mod, "Staged", None)  # the batch stage in front of each table (since session 4)
    for name in list(app_mod.TABLES):
        app_mod.TABLES[name] = staged(_Table()) if staged else _Table()
    if hasattr(app_mod, "_sets_at_start"):
        app_mod._sets_at_start = {}  # no broker here: the reference sets are loaded into the table
    forwards: list = []
    sinks = {
        "leads_topic": _Sink("supervision.leads"), "triggers_topic": _Sink("credit.repair-triggers"),
        "deadletter": _Sink("hub.deadletter"),
        "facts_by_enterprise": _Sink("hub.facts-by-enterprise", forwards),
        "facts_by_agency": _Sink("hub.facts-by-agency", forwards),
    }
    for attr, sink in sinks.items():
        setattr(app_mod, attr, sink)
    if hasattr(app_mod, "produce"):  # outputs go straight to the producer (since session 8)
        by_topic = {sink.name: sink for sink in sinks.values()}

        async def produce(topic, key, value, headers):
            return await by_topic[topic].send(key=key, value=value, headers=headers)

        app_mod.produce = produce
    for gate in app_mod.GATES.values():
        gate.ready = lambda partition, ts: True
    if hasattr(app_mod, "settings"):
        app_mod.settings.partitions = partitions
    return app_mod, sinks, forwards


def messages(wl, partitions: int):
    """The workload as consumer records, partitioned as the default partitioner would."""
    offsets: dict = defaultdict(int)
    out = []
    for i, (topic, key, value, headers, partition) in enumerate(wl.messages):
        if topic.startswith("reference."):
            continue
        p = partition if partition is not None else _partition(key, partitions)
        tp = _TP((topic, p))
        out.append(SimpleNamespace(topic=topic, partition=p, offset=offsets[tp], key=key, value=value,
                                   headers=headers, timestamp=i, tp=tp))
        offsets[tp] += 1
    return out


def clock_readers(app_mod):
    """The key spaces whose agent reads hub.clock (all of them; or, since ticks reach the enterprise
    and agency spaces as markers behind the case facts, the case space alone)."""
    from streams.keyspaces import CASE, SPACES

    return (CASE,) if hasattr(app_mod, "send_markers") else SPACES


async def drive(app_mod, msgs, forwards, partitions: int) -> dict:
    from streams.keyspaces import SPACES

    by_topic = {t: s for s in SPACES for t in (*s.topics, )}
    ticked = clock_readers(app_mod)
    offsets: dict = defaultdict(int)
    handled = 0
    batched = getattr(app_mod, "handle_batch", None)

    async def handle(space, msg):
        if batched:  # a batch of one record: handled, then its states flushed
            await batched(space, [_Event(msg)])
        else:
            await app_mod.handle(space, SimpleNamespace(message=msg))

    for msg in msgs:
        spaces = ticked if msg.topic == "hub.clock" else (by_topic[msg.topic],)
        for space in spaces:
            await handle(space, msg)
            handled += 1
        while forwards:  # the case worker's forwards (and tick markers), read back by the other spaces
            topic, key, value, headers, partition = forwards.pop(0)
            p = partition if partition is not None else _partition(key, partitions)
            tp = _TP((topic, p))
            fwd = SimpleNamespace(topic=topic, partition=p, offset=offsets[tp], key=key, value=value,
                                  headers=headers, timestamp=msg.timestamp, tp=tp)
            offsets[tp] += 1
            await handle(by_topic[topic], fwd)
            handled += 1
    return {"handled": handled}


def load_reference(app_mod, wl) -> None:
    from schemas.codec import Codec

    codec = Codec()
    for topic, key, value, headers, _ in wlmod.reference_messages(wl.reference):
        _, ref = codec.decode(value)
        app_mod.reference_table[ref["kind"]] = {"version": ref["version"], "items": json.loads(ref["items_json"])}


def run_once(wl, partitions: int, profile: str | None = None, dump: str | None = None) -> dict:
    import importlib

    import streams.app as app_mod

    importlib.reload(app_mod)  # fresh tables and gates for every repeat
    app_mod, sinks, forwards = setup(partitions)
    app_mod.reference_table = {}
    load_reference(app_mod, wl)
    app_mod._config_cache = None
    msgs = messages(wl, partitions)
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    c0, w0 = time.process_time(), time.perf_counter()
    got = asyncio.run(drive(app_mod, msgs, forwards, partitions))
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    if profiler:
        profiler.stop()
        with open(profile, "w") as fh:
            fh.write(profiler.output_text(unicode=True, color=False, show_all=False))
    keys = {name: len(getattr(t, "table", t)) for name, t in app_mod.TABLES.items()}
    if dump:
        with open(dump, "w") as fh:
            for name in ("leads_topic", "triggers_topic", "deadletter"):
                for key, digest in sorted(sinks[name].digests):
                    fh.write(f"{name} {key!r} {digest}\n")
    return {"records": wl.records, "handled": got["handled"], "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
            "cpu_us_per_record": round(cpu / wl.records * 1e6, 1), "cpu_us_per_handled": round(cpu / got["handled"] * 1e6, 1),
            "leads": sinks["leads_topic"].sent, "triggers": sinks["triggers_topic"].sent,
            "deadletters": sinks["deadletter"].sent, "keys": keys}


def main(argv=None) -> int:
    from .infra import machine, median

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=50000)
    p.add_argument("--enterprises", type=int, default=20000)
    p.add_argument("--workload", choices=("synth", "simple"), default="synth")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--profile", help="write a pyinstrument text profile of the last repeat here")
    p.add_argument("--dump", help="write every distinct output (topic, key, SHA-1 of the value) here, sorted: "
                                  "two code versions that dump the same file raised the same leads and triggers")
    a = p.parse_args(argv)
    wl = (wlmod.synth(a.records, a.partitions) if a.workload == "synth"
          else wlmod.simple(a.enterprises, a.partitions, per_enterprise=a.records / a.enterprises))
    import streams

    print(f"machine: {machine()}\nworkload: {wl.describe()}\ncode: {Path(streams.__file__).parent.parent}", flush=True)
    runs = []
    for i in range(a.repeat):
        r = run_once(wl, a.partitions, a.profile if i == a.repeat - 1 else None, a.dump)
        runs.append(r)
        print(json.dumps(r), flush=True)
    print(f"median CPU µs/record {median([r['cpu_us_per_record'] for r in runs])}, "
          f"per handled message {median([r['cpu_us_per_handled'] for r in runs])} (load {machine()['load']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
