"""Benchmark workloads: valid intake records, encoded and keyed exactly as intake does.

Two sources:

* ``synth`` — the project's realistic generator (zhongshu/synth.py: work orders, inspections,
  case lifecycles, credit events, transfer signals, planted true positives and near-misses).
  One seed populates at most ~200 enterprises (its planted scenarios need a bounded agency
  population), so a large workload merges many seeds: their enterprises, agencies, case ids
  and source_event_ids are disjoint; their reference sets are concatenated; their clock ticks
  (the same days) are appended once, in time order between the records.
* ``simple`` — a small seeded generator that scales to a million enterprises: per enterprise
  an inspection, and in the given shares a complaint work order and a case lifecycle (filed,
  decided, published, fulfilled), spread over `days` days with a daily tick. Used where the
  number of distinct enterprises is the variable (state size).

Every record passes connectors.validation.validate_record (so it is what intake would have
appended), is keyed with connectors.intake.record_key, encoded with schemas.codec.Codec and
carries the CloudEvents headers intake writes. Ticks are encoded with streams.clock.tick_records.
Encoded workloads are cached under $ZHONGSHU_BENCH_CACHE (default /tmp/zhongshu-bench-cache), by
parameters (see `_cached`).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pickle
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

CACHE = Path(os.environ.get("ZHONGSHU_BENCH_CACHE", "/tmp/zhongshu-bench-cache"))
CST = timezone(timedelta(hours=8))
SECRET = b"zhongshu-bench-token-secret"
KIND_TOPIC = {"workorder": "hotline.workorders", "inspection": "enforcement.inspections",
              "case": "enforcement.cases", "credit": "credit.events", "transfer": "justice.transfers"}


@dataclass
class Workload:
    name: str
    reference: dict[str, list[dict]]
    # (topic, key, value, headers, partition or None); ticks carry their partition
    messages: list[tuple] = field(default_factory=list)
    records: int = 0          # ingress records (not ticks)
    ticks: int = 0            # tick instants (each is one message per hub.clock partition)
    enterprises: int = 0
    counts: dict = field(default_factory=dict)

    def describe(self) -> str:
        mix = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        return (f"{self.name}: {self.records} records ({mix}), {self.ticks} tick instants, "
                f"{self.enterprises} enterprises, {sum(len(m[2]) for m in self.messages) / max(1, len(self.messages)):.0f} "
                f"bytes/value")


class Encoder:
    """validate → key → encode → headers, as connectors.intake does for one accepted record."""

    def __init__(self, partitions: int):
        from connectors.privacy import Tokeniser
        from schemas.codec import Codec

        self.codec = Codec()
        self.tokenise = Tokeniser(SECRET)
        self.partitions = partitions
        self.counts: dict[str, int] = {}

    def record(self, kind: str, rec: dict, validate: bool = True) -> tuple:
        from connectors.intake import SOURCES, record_key, record_time
        from connectors.validation import validate_record
        from schemas.codec import CE_TYPES, TOPIC_SCHEMAS, cloudevent_headers

        if validate:
            rec = validate_record(kind, rec, tokenise=self.tokenise)
        topic = KIND_TOPIC[kind]
        source = next(s for k, t, s in SOURCES.values() if t == topic)
        key = record_key(kind, rec)
        value = self.codec.encode(TOPIC_SCHEMAS[topic], rec)
        headers = cloudevent_headers(ce_id=rec["source_event_id"], source=f"/zhongshu/intake/{source}",
                                     type=CE_TYPES[topic], time=record_time(kind, rec), subject=key)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return (topic, key.encode(), value, headers, None)

    def tick(self, at: str) -> list[tuple]:
        from streams.clock import tick_records

        return [("hub.clock", key, value, headers, p)
                for p, key, value, headers in tick_records(self.codec, at, range(self.partitions))]


def _cached(name: str, build, cache: bool = True):
    """Built once per parameters and kept: an A/B comparison must not change its input when
    someone edits the generator meanwhile. The key covers this file and the Avro schemas (the
    cached bytes must stay decodable), not zhongshu/synth.py: after a generator change, delete
    $ZHONGSHU_BENCH_CACHE to rebuild."""
    if not cache:
        return build()
    CACHE.mkdir(parents=True, exist_ok=True)
    src = hashlib.sha1()
    root = Path(__file__).resolve().parents[1]
    for p in [root / "bench" / "workload.py", *sorted((root / "schemas").glob("*.avsc"))]:
        src.update(p.read_bytes())
    path = CACHE / f"{name}-{src.hexdigest()[:10]}.pickle"
    if path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    wl = build()
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        pickle.dump(wl, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return wl


# ---------------------------------------------------------------- synth (merged seeds)

def synth(records: int, partitions: int, seed: int = 1, per_seed_enterprises: int = 200,
          months: int = 3, natural_persons: bool = False) -> Workload:
    """`natural_persons=False` leaves out the cases against 自然人 parties (and their transfer
    signals): their credit triggers carry an id token as `uscc`, which the projector cannot
    store (credit_triggers.uscc is VARCHAR(18)) and it stops on them — see bench/PROPOSALS.md."""
    return _cached(f"synth-{records}-{partitions}-{seed}-{per_seed_enterprises}-{months}-{natural_persons}",
                   lambda: _build_synth(records, partitions, seed, per_seed_enterprises, months, natural_persons))


def _build_synth(records: int, partitions: int, seed: int, per_seed: int, months: int,
                 natural_persons: bool) -> Workload:
    from zhongshu.synth import generate

    enc = Encoder(partitions)
    items = []          # (at, seed, seq, kind, record)
    reference: dict[str, list] = {}
    ref_seen: set = set()
    enterprises = 0
    total = 0
    s = seed
    while total < records:
        if s - seed > 200 or s % 100 == 0:  # synth tags case ids with seed % 100: keep them apart
            if s - seed > 200:
                raise RuntimeError(f"synth: could not reach {records} records")
            s += 1
            continue
        try:
            data = generate(seed=s, months=months, enterprises=per_seed)
        except (AssertionError, ValueError):  # a seed whose baseline breaks a generator invariant
            s += 1
            continue
        enterprises += len(data.enterprises)
        persons = set() if natural_persons else {
            i.record["case_id"] for i in data.items
            if i.kind == "case" and i.record.get("event") == "filed" and i.record["party"]["type"] == "自然人"}
        for kind, rows in data.reference.items():
            for row in rows:
                k = (kind, json.dumps(row, sort_keys=True, ensure_ascii=False, default=str))
                if k not in ref_seen:
                    ref_seen.add(k)
                    reference.setdefault(kind, []).append(row)
        for item in data.items:
            if item.kind in ("case", "transfer") and item.record["case_id"] in persons:
                continue
            if item.kind != "tick":
                total += 1
            items.append((item.at, item.kind == "tick", s, item.seq, item.kind, item.record))
        s += 1
    # records in time order; a tick instant once, after the records of the day it closes
    items.sort(key=lambda x: (x[0], x[1], x[2], x[3]))
    msgs: list[tuple] = []
    ticks_seen: set = set()
    n = 0
    for at, is_tick, _, _, kind, rec in items:
        if is_tick:
            if rec["at"] in ticks_seen:
                continue
            ticks_seen.add(rec["at"])
            msgs.extend(enc.tick(rec["at"]))
            continue
        msgs.append(enc.record(kind, rec))
        n += 1
    return Workload(f"synth x{s - seed} seeds", reference, msgs, n, len(ticks_seen), enterprises, dict(enc.counts))


# ---------------------------------------------------------------- simple (scales to 1M enterprises)

def _uscc(rng: random.Random, region: str, i: int) -> str:
    from connectors.uscc import make_uscc

    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "".join(alphabet[(i // 31**k) % 31] for k in range(6))[::-1]  # unique per i up to 31**6
    return make_uscc("91" + region + "MA" + rng.choice("0123456789") + body)


REGIONS = ("330203", "330205", "330206", "330211", "330212", "330213", "330225", "330226", "330281", "330282")


def simple(enterprises: int, partitions: int, *, per_enterprise: float = 1.0, complaint_share: float = 0.2,
           case_share: float = 0.1, no_code_share: float = 0.02, days: int = 10, seed: int = 1,
           validate_every: int = 1, cache: bool = True) -> Workload:
    name = (f"simple-{enterprises}-{partitions}-{per_enterprise}-{complaint_share}-{case_share}-{no_code_share}"
            f"-{days}-{seed}-{validate_every}")
    return _cached(name, lambda: _build_simple(enterprises, partitions, per_enterprise, complaint_share,
                                               case_share, no_code_share, days, seed, validate_every), cache)


def _build_simple(enterprises, partitions, per_enterprise, complaint_share, case_share, no_code_share, days,
                  seed, validate_every) -> Workload:
    from connectors.uscc import make_uscc

    rng = random.Random(seed)
    enc = Encoder(partitions)
    agencies = {r: [make_uscc(f"11{r}{k:03d}MB{seed % 10}{j:03d}") for k, j in ((1, 1), (2, 2), (3, 3))]
                for r in REGIONS}
    officers = {a: [f"浙{a[2:8]}{n:05d}" for n in range(1, 5)] for r in REGIONS for a in agencies[r]}
    plans = {a: f"JH2026-{a[2:8]}-{a[-4:]}" for r in REGIONS for a in agencies[r]}
    reference = {
        "agencies": [{"agency_code": a, "name": f"宁波市测试执法机关{i}", "region_code": r, "domain": "市场监管"}
                     for r in REGIONS for i, a in enumerate(agencies[r])],
        "officers": [{"cert_no": c, "agency_code": a, "valid_from": "2020-01-01", "valid_until": "2030-12-31"}
                     for a, cs in officers.items() for c in cs],
        "inspection-plans": [{"plan_id": p, "agency_code": a, "year": 2026} for a, p in plans.items()],
    }
    start = date(2026, 5, 4)
    per_day: list[list[tuple]] = [[] for _ in range(days)]
    n_events = int(enterprises * per_enterprise)
    seq = 0

    def sid(kind):
        nonlocal seq
        seq += 1
        return f"bench{seed}-{kind}-{seq:08d}"

    for e in range(n_events):
        i = e % enterprises
        region = REGIONS[i % len(REGIONS)]
        uscc = _uscc(rng, region, i)
        name = f"宁波测试{i:07d}商贸有限公司"
        d = rng.randrange(days)
        day = start + timedelta(days=d)
        agency = rng.choice(agencies[region])
        hh = 8 + rng.randrange(10)
        at = f"{day.isoformat()}T{hh:02d}:{rng.randrange(60):02d}:00+08:00"
        r = rng.random()
        if r < case_share:
            case_id = f"AJ{region}2026{seed:02d}{e:08d}"
            for event, extra, h in (
                ("filed", {"agency_code": agency, "party": {"type": "法人及非法人组织", "uscc": uscc, "name": name},
                           "matter_code": "SJ-JG-0301", "region_code": region, "filed_at": at, "source_refs": []}, 0),
                ("decided", {"decision_no": f"甬测罚〔2026〕{e:08d}号",
                             "decided_at": at.replace(f"T{hh:02d}", f"T{hh + 1:02d}"),
                             "procedure": "普通", "penalty_types": ["警告", "罚款"], "fine_amount": "800.00",
                             "circumstance_level": "一般", "violation_type": "不按规定明码标价",
                             "legal_basis": "《中华人民共和国价格法》第四十二条", "first_violation": False,
                             "corrected": True, "major": False, "hearing_held": False, "complex": False}, 1),
                ("published", {"published_at": at.replace(f"T{hh:02d}", f"T{hh + 2:02d}"), "channel": "信用中国",
                               "masked": True}, 2),
                ("fulfilled", {"at": at.replace(f"T{hh:02d}", f"T{hh + 3:02d}")}, 3),
            ):
                per_day[d].append((hh + h, "case", {"source_event_id": sid("case"), "case_id": case_id,
                                                    "event": event, **extra}))
        elif r < case_share + complaint_share:
            per_day[d].append((hh, "workorder", {
                "source_event_id": sid("workorder"), "order_id": f"GD{day:%Y%m%d}{seed:02d}{e:08d}",
                "received_at": at, "channel": "电话", "category": "投诉", "topic": "价格欺诈",
                "content": f"市民反映{name}商品未明码标价，要求查处。", "subject": {"name": name, "uscc": uscc},
                "region_code": region, "complainant": {"name": "张三", "phone": "13800000000"}, "status": "受理"}))
        else:
            n = sid("inspection")
            rec = {"source_event_id": n, "inspection_id": f"JC{region}{seed:02d}{e:09d}", "agency_code": agency,
                   "joint_agency_codes": [], "officer_cert_nos": officers[agency][:2],
                   "target": {"uscc": uscc, "name": name}, "region_code": region, "started_at": at,
                   "trigger": "双随机", "plan_id": plans[agency], "random": True, "credit_rule_applied": True,
                   "risk_class": "B", "items": ["明码标价", "产品质量"], "result": "未发现问题"}
            if rng.random() >= no_code_share:
                rec["action_code"] = f"{region}JC{seed:02d}{e:09d}"
            per_day[d].append((hh, "inspection", rec))
    msgs: list[tuple] = []
    k = 0
    for d, recs in enumerate(per_day):
        recs.sort(key=lambda x: x[0])
        for _, kind, rec in recs:
            msgs.append(enc.record(kind, rec, validate=validate_every <= 1 or k % validate_every == 0))
            k += 1
        msgs.extend(enc.tick((start + timedelta(days=d + 1)).isoformat() + "T00:00:00+08:00"))
    return Workload(f"simple seed {seed}", reference, msgs, k, days, min(enterprises, n_events), dict(enc.counts))


# ---------------------------------------------------------------- loading onto the broker

def reference_messages(reference: dict[str, list[dict]]) -> list[tuple]:
    """Reference sets as `PUT /api/v1/reference/{kind}` appends them."""
    from schemas.codec import CE_TYPES, Codec, cloudevent_headers

    codec = Codec()
    now = datetime.now(timezone.utc)
    out = []
    for kind, items in reference.items():
        version = time.time_ns()
        value = codec.encode("ReferenceSet", {"kind": kind, "version": version, "set_at": now.isoformat(),
                                              "items_json": json.dumps(items, ensure_ascii=False, default=str)})
        topic = f"reference.{kind}"
        out.append((topic, kind.encode(), value, cloudevent_headers(
            ce_id=f"{topic}.{version}", source="/zhongshu/reference", type=CE_TYPES.get(topic, "cn.gov.zhongshu.reference"),
            time=now.isoformat(), subject=kind), None))
    return out


async def _produce(bootstrap: str, messages: list[tuple]) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_batch_size=512 * 1024, max_request_size=8 * 1024 * 1024)
    await producer.start()
    started = time.monotonic()
    try:
        # strictly increasing append times, in stream order: TickGate releases a tick only once
        # the events appended before it were read (streams/app.py), as with live intake
        base = int(time.time() * 1000) - len(messages) - 1000
        pending = []
        for i, (topic, key, value, headers, partition) in enumerate(messages):
            pending.append(await producer.send(topic, value=value, key=key, headers=headers, partition=partition,
                                               timestamp_ms=base + i))
            if len(pending) >= 20000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.monotonic() - started


def preload(bootstrap: str, wl: Workload, with_reference: bool = True) -> float:
    """Append the workload (reference sets first) onto the topics; returns the seconds it took."""
    msgs = (reference_messages(wl.reference) if with_reference else []) + wl.messages
    return asyncio.run(_produce(bootstrap, msgs))


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="build (and cache) a workload and describe it")
    p.add_argument("source", choices=("synth", "simple"))
    p.add_argument("--records", type=int, default=20000)
    p.add_argument("--enterprises", type=int, default=10000)
    p.add_argument("--partitions", type=int, default=4)
    a = p.parse_args()
    t = time.monotonic()
    import bench.workload as wm  # pickle the cached workload as bench.workload.Workload, not __main__'s

    w = wm.synth(a.records, a.partitions) if a.source == "synth" else wm.simple(a.enterprises, a.partitions)
    print(w.describe(), f"({time.monotonic() - t:.1f}s)")
