"""Intake-to-lead latency at fixed offered rates, through a running `zhongshu up`.

    python3 -m bench.latency [--rates 100,500,1000] [--duration 20] [--repeats 3]
                             [--broker HOST:PORT] [--database-url URL]

Starts a broker and PostgreSQL (unless given) and `zhongshu up --clock manual` against them,
then for each offered rate posts inspections without 行政行为码 (each raises INSP_NO_CODE)
through `POST /api/v1/intake/enforcement/inspections` (a bare keep-alive client, bench/rawhttp.py,
on uvloop: the load generator shares the machine) for `duration` seconds, open loop: every
10 ms one request carries the records due by then (at 100/s one record a request, at 1,000/s
about ten), whatever the previous requests are doing (up to --concurrency in flight). A
record's clock starts at its scheduled send time, so a hub that falls behind shows it in the
latency instead of lowering the offered rate (no coordinated omission).

Two arrival points per record, matched by its source_event_id (the lead's evidence ce_id):
  kafka  its lead read from supervision.leads by a consumer in this process;
  api    its lead first announced by `GET /api/v1/leads/stream?rule_code=INSP_NO_CODE&poll=…`
         (server-sent events the API polls from the lead projection every --poll seconds, the
         same rows GET /api/v1/leads lists; polling the paged list instead would misorder
         leads of the same second and load the API with page scans).
The intake rate limit (ZHONGSHU_INTAKE_RATE_PER_SECOND, 50 requests/s per key by default) is
switched off for the hub under test: it is a policy knob, and at 100 records/s one record a
request would hit it. Loopback only; every process started here is stopped on exit.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .infra import REPO, Infra, child_env, cpu_seconds, free_port, loadavg, machine, median

CST = timezone(timedelta(hours=8))
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


class Hub:
    """`zhongshu up` against the bench's broker and a fresh database."""

    def __init__(self, infra: Infra, partitions: int, store: str, settings: dict | None = None):
        self.infra = infra
        self.cwd = infra.home("up")
        self.port = free_port()
        self.db = infra.new_database("latency")
        self.env = child_env(broker=infra.bootstrap, database_url=self.db, app_id=f"bench-lat-{uuid.uuid4().hex[:8]}",
                             home=self.cwd / "var", partitions=partitions, store=store, token_secret="bench",
                             clock="manual", log_level="INFO", intake_rate_per_second=0, **(settings or {}))
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = infra.spawn("up", ["up", "--api-port", str(self.port)], self.env, cwd=self.cwd)
        deadline = time.monotonic() + 240
        import httpx

        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError("zhongshu up exited:\n" + self.proc.tail())
            if "zhongshu is up" in (self.proc.log_path.read_text(errors="replace") if self.proc.log_path.exists() else ""):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError("zhongshu up did not come up:\n" + self.proc.tail())
        from .infra import _children

        self.children = _children(self.proc.popen.pid)  # each in its own session: stopped by `up`, or here
        self.keys = {role: self.key(role) for role in ("enforcement", "supervisor", "admin")}
        httpx.get(self.url + "/healthz").raise_for_status()

    def key(self, role: str) -> str:
        out = subprocess.run([sys.executable, "-m", "zhongshu.cli", "keys", "create", "--role", role],
                             env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=120, check=True)
        return out.stdout.strip()

    def stop(self) -> None:
        import signal

        self.proc.stop(timeout=90)
        for pid in self.children:  # `up` stops its children; if it could not, do it here
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _tree(pid: int) -> list[int]:
    """pid and every live descendant of it."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def _role(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return "?"
    for name in ("worker", "projector", "api"):
        if name.encode() in argv:
            return name
    return "other"


def role_cpu(hub: "Hub") -> dict[str, float]:
    """CPU seconds so far of each process of the hub under test (api, worker(s), projector),
    the broker and PostgreSQL (postmaster, its live backends and the ones it reaped), for CPU
    per record by role."""
    roles: dict[str, float] = {}
    for child in hub.children:
        r = _role(child)
        roles[r] = roles.get(r, 0.0) + sum(cpu_seconds(pid) for pid in _tree(child))
    infra = hub.infra
    kafka_pid = infra.kafka.pid() if infra.kafka is not None else None
    if kafka_pid:
        roles["kafka"] = sum(cpu_seconds(p) for p in _tree(kafka_pid))
    if infra.pg is not None:
        try:
            postmaster = int((infra.pg.pgdata / "postmaster.pid").read_text().split()[0])
            roles["postgres"] = sum(cpu_seconds(p, reaped=p == postmaster) for p in _tree(postmaster))
        except (OSError, ValueError, IndexError):
            pass
    roles["bench"] = cpu_seconds(os.getpid())
    return roles


def inspection(sid: str, agency: str, n: int) -> dict:
    from connectors.uscc import make_uscc

    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "".join(alphabet[(n // 31**k) % 31] for k in range(7))[::-1]
    return {
        "source_event_id": sid, "inspection_id": f"JC-{sid}", "agency_code": agency, "joint_agency_codes": [],
        "officer_cert_nos": ["浙33020300001", "浙33020300002"],
        "target": {"uscc": make_uscc("91330203M" + body + "X"), "name": f"宁波测试{n:07d}商贸有限公司"},
        "region_code": "330203", "started_at": datetime.now(CST).isoformat(timespec="seconds"),
        "trigger": "双随机", "plan_id": "JH2026-LAT", "random": True, "credit_rule_applied": True,
        "risk_class": "B", "items": ["明码标价"], "result": "未发现问题",
    }  # no action_code: INSP_NO_CODE


async def step(hub: Hub, rate: float, duration: float, concurrency: int, poll: float, settle: float,
               tag: str) -> dict:
    import httpx
    from aiokafka import AIOKafkaConsumer

    from connectors.uscc import make_uscc
    from schemas.codec import Codec

    codec = Codec()
    agency = make_uscc("11330203MB" + uuid.uuid4().hex[:7].upper().replace("I", "1").replace("O", "0"))
    sched: dict[str, float] = {}
    accepted: dict[str, float] = {}
    at_kafka: dict[str, float] = {}
    at_api: dict[str, float] = {}
    post_lat: list[float] = []
    errors: list[str] = []
    stop = asyncio.Event()

    consumer = AIOKafkaConsumer(bootstrap_servers=hub.infra.bootstrap, enable_auto_commit=False, group_id=None,
                                auto_offset_reset="latest", fetch_max_wait_ms=20)
    await consumer.start()
    from aiokafka.structs import TopicPartition

    cluster = await consumer._client.fetch_all_metadata()
    parts = cluster.partitions_for_topic("supervision.leads") or set()
    tps = [TopicPartition("supervision.leads", p) for p in sorted(parts)]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)

    async def watch_kafka():
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=50)
            now = time.monotonic()
            for msgs in batch.values():
                for m in msgs:
                    _, lead = codec.decode(m.value)
                    if lead["rule_code"] == "INSP_NO_CODE" and lead.get("agency_code") == agency:
                        for e in lead.get("evidence") or []:
                            at_kafka.setdefault(e["ce_id"], now)

    staff = httpx.AsyncClient(base_url=hub.url, headers={"Authorization": f"Bearer {hub.keys['supervisor']}"},
                              timeout=30)

    sse_ready = asyncio.Event()

    async def watch_api():
        """The lead stream of the API (server-sent events polled from the projection)."""
        try:
            async with staff.stream("GET", "/api/v1/leads/stream",
                                    params={"rule_code": "INSP_NO_CODE", "poll": poll}, timeout=None) as r:
                sse_ready.set()
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    now = time.monotonic()
                    item = json.loads(line[5:])
                    if item.get("agency_code") != agency:
                        continue
                    for e in item.get("evidence") or []:
                        at_api.setdefault(e["ce_id"], now)
        except (httpx.HTTPError, ValueError) as exc:
            if not stop.is_set():
                errors.append(f"SSE: {exc!r}")
        finally:
            sse_ready.set()

    import orjson

    from .rawhttp import HTTPError, RawClient

    # the records' poster: a bare keep-alive client (bench/rawhttp.py), up to `concurrency`
    # connections (one per request in flight); httpx here cost ~300 µs of CPU a record at 1,000/s
    client = RawClient(hub.url, {"Authorization": f"Bearer {hub.keys['enforcement']}"})
    sem = asyncio.Semaphore(concurrency)
    inflight: set = set()

    async def post(batch: list[dict], t_sched: float):
        async with sem:
            t = time.monotonic()
            try:
                status, body = await asyncio.wait_for(
                    client.post("/api/v1/intake/enforcement/inspections", orjson.dumps(batch)), 60)
                done = time.monotonic()
                if status not in (200, 202):
                    errors.append(f"POST {status}: {body[:200].decode(errors='replace')}")
                    return
                for rec in batch:
                    accepted[rec["source_event_id"]] = done
                post_lat.append(done - t)
            except (HTTPError, asyncio.TimeoutError) as exc:
                errors.append(f"POST: {exc!r}")

    watchers = [asyncio.create_task(watch_kafka()), asyncio.create_task(watch_api())]
    await asyncio.wait_for(sse_ready.wait(), 30)
    await asyncio.sleep(1.0)  # the stream has taken its starting point (the newest change) by now
    cpu0 = role_cpu(hub)
    t0 = time.monotonic()
    sent = 0
    n_total = int(rate * duration)
    late_starts = 0
    while sent < n_total:
        now = time.monotonic()
        due = min(n_total, int((now - t0) * rate) + 1)
        if due > sent:
            batch = []
            for i in range(sent, due):
                sid = f"lat-{tag}-{i:07d}"
                sched[sid] = t0 + i / rate
                batch.append(inspection(sid, agency, i))
            if sem.locked():
                late_starts += 1
            task = asyncio.create_task(post(batch, sched[batch[0]["source_event_id"]]))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            sent = due
        await asyncio.sleep(max(0.0, 0.01 - (time.monotonic() - now)))
    send_end = time.monotonic()
    if inflight:
        await asyncio.gather(*list(inflight))
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline and (len(at_kafka) < len(sched) or len(at_api) < len(sched)):
        await asyncio.sleep(0.2)
    cpu1 = role_cpu(hub)
    stop.set()
    for w in watchers:
        w.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    await consumer.stop()
    await client.aclose()
    await staff.aclose()

    kafka_lat = [at_kafka[s] - sched[s] for s in sched if s in at_kafka]
    api_lat = [at_api[s] - sched[s] for s in sched if s in at_api]
    acc_lat = [accepted[s] - sched[s] for s in sched if s in accepted]
    ms = lambda x: None if x is None else round(1000 * x, 1)  # noqa: E731
    return {
        "offered_rate": rate, "duration_s": duration, "records": len(sched),
        "achieved_send_rate": round(len(sched) / (send_end - t0), 1), "accepted": len(accepted),
        "requests": len(post_lat), "records_per_request": round(len(sched) / max(1, len(post_lat)), 1),
        "post_ms": {"p50": ms(pct(post_lat, 0.5)), "p99": ms(pct(post_lat, 0.99))},
        "accepted_ms": {"p50": ms(pct(acc_lat, 0.5)), "p99": ms(pct(acc_lat, 0.99))},
        "kafka_ms": {"p50": ms(pct(kafka_lat, 0.5)), "p99": ms(pct(kafka_lat, 0.99)), "max": ms(max(kafka_lat, default=None)),
                     "seen": len(kafka_lat)},
        "api_ms": {"p50": ms(pct(api_lat, 0.5)), "p99": ms(pct(api_lat, 0.99)), "max": ms(max(api_lat, default=None)),
                   "seen": len(api_lat)},
        # CPU of each process from the first send until the last lead arrived (or settle ran out),
        # in µs per offered record; the machine's budget is nproc × 1e6 / rate
        "cpu_us_per_record": {r: round(1e6 * (cpu1[r] - cpu0.get(r, 0.0)) / max(1, len(sched)))
                              for r in sorted(cpu1)},
        "errors": errors[:5], "error_count": len(errors), "load": [round(x, 2) for x in loadavg()],
    }


def _run(coro):
    """On uvloop, as the hub's own processes (setting `event_loop`): the load generator shares
    the machine with what it measures, so it should cost as little as it can."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rates", default="100,500,1000")
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--store", default="memory://")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--poll", type=float, default=0.1, help="SSE poll interval of the API (≥ 0.1)")
    p.add_argument("--settle", type=float, default=60.0, help="seconds to wait for the last leads")
    p.add_argument("--broker")
    p.add_argument("--database-url")
    p.add_argument("--json")
    p.add_argument("--hub-setting", action="append", default=[], metavar="NAME=VALUE",
                   help="a setting of the hub under test (ZHONGSHU_<NAME>), e.g. fetch_max_wait_ms=100; repeatable")
    a = p.parse_args(argv)
    settings = {}
    for item in a.hub_setting:
        name, sep, value = item.partition("=")
        if not sep or not name:
            p.error(f"--hub-setting {item!r}: expected NAME=VALUE")
        settings[name.strip().lower()] = value
    rates = [float(x) for x in a.rates.split(",")]
    info = {"machine": machine(), "args": vars(a), "steps": []}
    print(f"machine: {info['machine']}", flush=True)
    with Infra(a.broker, a.database_url) as infra:
        infra.create_topics(a.partitions)
        hub = Hub(infra, a.partitions, a.store, settings)
        try:
            # warm-up: the worker has joined its group and the projector is reading
            _run(step(hub, 20, 2, a.concurrency, a.poll, 120, "warm"))
            for rep in range(a.repeats):
                for rate in rates:
                    r = _run(step(hub, rate, a.duration, a.concurrency, a.poll, a.settle,
                                  f"{int(rate)}-{rep}-{uuid.uuid4().hex[:4]}"))
                    r["repeat"] = rep
                    info["steps"].append(r)
                    print(json.dumps(r, ensure_ascii=False), flush=True)
        finally:
            hub.stop()
    summary = {}
    for rate in rates:
        steps = [s for s in info["steps"] if s["offered_rate"] == rate]
        summary[str(rate)] = {
            "kafka_p50_ms": median([s["kafka_ms"]["p50"] for s in steps]),
            "kafka_p99_ms": median([s["kafka_ms"]["p99"] for s in steps]),
            "api_p50_ms": median([s["api_ms"]["p50"] for s in steps]),
            "api_p99_ms": median([s["api_ms"]["p99"] for s in steps]),
            "achieved_send_rate": median([s["achieved_send_rate"] for s in steps]),
            "lost": sum(s["records"] - s["api_ms"]["seen"] for s in steps),
            "repeats": len(steps),
        }
    info["median"] = summary
    info["machine_after"] = machine()
    RESULTS_DIR.mkdir(exist_ok=True)
    path = Path(a.json) if a.json else RESULTS_DIR / f"latency-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(info, indent=1, ensure_ascii=False, default=str))
    print("median: " + json.dumps(summary), flush=True)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
