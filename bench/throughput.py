"""End-to-end throughput against the raw pipe, and projection replay, on one broker and one log.

    python3 -m bench.throughput [--records 100000] [--rounds 3] [--partitions 4]
                                [--store memory://] [--workload synth|simple]
                                [--broker HOST:PORT] [--database-url URL] [--no-rebuild]

Each round starts a fresh broker and PostgreSQL (unless given), pre-loads the workload onto
the ingress topics (Avro, CloudEvents headers, keyed as intake keys them, reference sets
first, clock ticks between the days), then on that same log:

  (b) raw pipe   `python3 -m bench.rawpipe` (own consumer group) until it has read the ends;
  (a) end to end `zhongshu worker` (every rule module loaded) + `zhongshu projector` into a
                 fresh database, until the worker group has committed the ends (chasing its
                 own case-fact forwards, as /api/v1/sync does), then until the projector's
                 stored offsets reach the ends of everything projected (leads, triggers …);
  (c) rebuild    `zhongshu projections rebuild` into a fresh database (replay from offset 0).

(a) and (b) alternate in order between rounds. Rates are ingress records per second; the
"steady" rate is over the 10 %→90 % stretch of committed ingress offsets (startup and tail
excluded); CPU µs/record is the process's user+system CPU over the records, which the other
tenants of a shared machine disturb much less than wall time. Medians over rounds.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

from . import workload as wlmod
from .infra import (Infra, Positions, child_env, cpu_seconds, fmt_bytes, loadavg, machine, median, rss_bytes,
                    wait_group_caught_up, wait_projector, worker_topics)

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _progress_recorder(topics: set[str], timeline: list):
    def on_poll(have, ends):
        timeline.append((time.monotonic(), sum(v for tp, v in have.items() if tp.topic in topics)))
    return on_poll


def _steady(timeline: list, base: int, total: int) -> float | None:
    """Rate over the 10 %→90 % stretch of `total` records past `base` committed."""
    lo, hi = base + 0.1 * total, base + 0.9 * total
    t_lo = next((t for t, n in timeline if n >= lo), None)
    t_hi = next((t for t, n in timeline if n >= hi), None)
    if t_lo is None or t_hi is None or t_hi <= t_lo:
        return None
    return 0.8 * total / (t_hi - t_lo)


def run_raw(infra: Infra, pos: Positions, records: int, partitions: int) -> dict:
    from streams.topics import INGRESS_TOPICS

    group = f"bench-raw-{uuid.uuid4().hex[:8]}"
    topics = (*INGRESS_TOPICS, "hub.clock")
    timeline: list = []
    proc = infra.spawn_module("rawpipe", "bench.rawpipe", ["--broker", infra.bootstrap, "--group", group])
    t0 = proc.started
    try:
        t_done = wait_group_caught_up(pos, group, topics, alive=proc.alive, poll=0.1,
                                      on_poll=_progress_recorder(set(INGRESS_TOPICS), timeline), timeout=7200)
        cpu = cpu_seconds(proc.pid)
        rss = rss_bytes(proc.pid)
        proc.popen.wait(120)
    finally:
        proc.stop()
    inner = json.loads(proc.tail(1).strip().splitlines()[-1])
    return {"wall_s": round(t_done - t0, 3), "rate": round(records / (t_done - t0)),
            "steady_rate": _r(_steady(timeline, 0, records)), "cpu_s": round(cpu, 2),
            "cpu_us_per_record": round(cpu / records * 1e6, 1), "rss": rss, "inner": inner}


# more restarts than this in one run is a failure (ZHONGSHU_BENCH_MAX_RESTARTS)
MAX_WORKER_RESTARTS = int(os.environ.get("ZHONGSHU_BENCH_MAX_RESTARTS", "3"))


def run_e2e(infra: Infra, pos: Positions, records: int, partitions: int, store: str, standby: int = 1,
            workers: int = 1, projector: bool = True, tag: str = "e2e", profile: Path | None = None,
            code: str | None = None) -> dict:
    from streams.topics import DERIVED_TOPICS, INGRESS_TOPICS, INTERNAL_TOPICS

    app_id = f"bench-{tag}-{uuid.uuid4().hex[:8]}"
    db = infra.new_database("e2e") if projector else ""
    # an earlier run on this broker left its case-fact forwards and leads: this run reads only its own
    pos.truncate((*INTERNAL_TOPICS, *DERIVED_TOPICS, "hub.deadletter"))
    before = pos.ends(("supervision.leads", "credit.repair-triggers", "hub.deadletter"))
    procs = []
    envs = []
    timeline: list = []
    for i in range(workers):
        env = child_env(code, broker=infra.bootstrap, database_url=db or "sqlite:////dev/null", app_id=app_id,
                        home=infra.home(f"worker{i}"), partitions=partitions, store=store,
                        standby_replicas=standby, token_secret="bench", log_level="INFO")
        envs.append(env)
        prof = profile / f"{tag}-worker{i}.txt" if profile else None
        procs.append(infra.spawn(f"{tag}-worker{i}", ["worker"], env, profile=prof))
    proj = None
    if projector:
        env = child_env(code, broker=infra.bootstrap, database_url=db, app_id=app_id, home=infra.home("projector"),
                        partitions=partitions, token_secret="bench", log_level="INFO")
        proj = infra.spawn(f"{tag}-projector", ["projector"], env,
                           profile=profile / f"{tag}-projector.txt" if profile else None)
    t0 = procs[0].started
    # A worker that exits is restarted, as `zhongshu up` restarts it: the worker stops on purpose
    # when Faust dropped fetched records around a rebalance (streams/faustfix.py), to resume from
    # its committed offset. Its CPU so far (read at every poll) is kept; restarts are reported.
    spent, last, restarts = [0.0] * workers, [0.0] * workers, []

    def alive() -> bool:
        for i, p in enumerate(procs):
            if p.alive():
                last[i] = cpu_seconds(p.pid)
                continue
            if len(restarts) >= MAX_WORKER_RESTARTS:
                return False
            restarts.append(f"worker{i}: exited ({p.popen.returncode}) after {time.monotonic() - p.started:.0f} s")
            print(f"    {tag}: {restarts[-1]}; restarting it", flush=True)
            spent[i] += last[i]
            last[i] = 0.0
            procs[i] = infra.spawn(f"{tag}-worker{i}-r{len(restarts)}", ["worker"], envs[i])
        return proj is None or proj.alive()
    try:
        t_worker = wait_group_caught_up(pos, app_id, worker_topics(), internal=INTERNAL_TOPICS, alive=alive,
                                        on_poll=_progress_recorder(set(INGRESS_TOPICS), timeline), timeout=7200)
        worker_cpu = [spent[i] + cpu_seconds(p.pid) for i, p in enumerate(procs)]
        ends = pos.ends(worker_topics())
        starts = pos.beginnings(ends.keys())
        consumed = sum(e - starts.get(tp, 0) for tp, e in ends.items())
        per_topic: dict = {}
        for tp, e in ends.items():
            per_topic[tp.topic] = per_topic.get(tp.topic, 0) + e - starts.get(tp, 0)
        worker_rss = [rss_bytes(p.pid) for p in procs]
        t_proj = wait_projector(pos, db, alive=alive, timeout=7200) if projector else t_worker
        proj_cpu = cpu_seconds(proj.pid) if proj else 0.0
    finally:  # measured already: a short grace, then SIGKILL (Faust takes its time to stop)
        for p in procs:
            p.stop(timeout=5)
        if proj:
            proj.stop(timeout=5)
    after = pos.ends(("supervision.leads", "credit.repair-triggers", "hub.deadletter"))
    out = {t: sum(n for tp, n in after.items() if tp.topic == t) - sum(n for tp, n in before.items() if tp.topic == t)
           for t in ("supervision.leads", "credit.repair-triggers", "hub.deadletter")}
    distinct, digest = outputs_digest(infra.bootstrap, before, after)
    return {"app_id": app_id, "code": str(code or "") or None, "workers": workers, "store": store,
            "worker_restarts": restarts, "wall_worker_s": round(t_worker - t0, 3),
            "wall_s": round(t_proj - t0, 3), "worker_rate": round(records / (t_worker - t0)),
            "rate": round(records / (t_proj - t0)), "steady_worker_rate": _r(_steady(timeline, 0, records)),
            "projector_tail_s": round(t_proj - t_worker, 3), "worker_cpu_s": [round(c, 2) for c in worker_cpu],
            "worker_cpu_us_per_record": round(sum(worker_cpu) / records * 1e6, 1),
            "messages_read": consumed, "messages_by_topic": per_topic, "worker_cpu_us_per_message": round(sum(worker_cpu) / consumed * 1e6, 1),
            "projector_cpu_us_per_record": round(proj_cpu / records * 1e6, 1), "worker_rss": worker_rss,
            "leads_appended": out["supervision.leads"], "triggers_appended": out["credit.repair-triggers"],
            "deadletters": out["hub.deadletter"], "outputs_distinct": distinct, "outputs_digest": digest,
            "database": db}


def outputs_digest(bootstrap: str, before: dict, after: dict) -> tuple[int, str]:
    """The distinct (topic, key, value) of the leads and triggers this run appended, and a digest of
    them: replaying one log must give the same set whatever the timing (a lead re-sent after a
    redelivery is the same record, so it counts once)."""
    import hashlib

    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    seen: set = set()
    # ZHONGSHU_BENCH_DUMP_OUTPUTS=DIR: also write every distinct output (pickle) to find what differs
    dump = {} if os.environ.get("ZHONGSHU_BENCH_DUMP_OUTPUTS") else None
    try:
        tps = [tp for tp in after if tp.topic != "hub.deadletter" and after[tp] > before.get(tp, 0)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, before.get(tp, 0))
        left = {tp: after[tp] for tp in tps}
        while left:
            for tp, msgs in consumer.poll(timeout_ms=2000, max_records=5000).items():
                for m in msgs:
                    if m.offset < left.get(tp, -1):
                        seen.add((tp.topic, m.key, hashlib.sha1(m.value).hexdigest()))
                        if dump is not None:
                            dump.setdefault((tp.topic, m.key), set()).add(m.value)
                if msgs and msgs[-1].offset + 1 >= left.get(tp, 0):
                    left.pop(tp, None)
    finally:
        consumer.close()
    digest = hashlib.sha1(repr(sorted(seen)).encode()).hexdigest()[:16]
    if dump is not None:
        import pickle

        out = Path(os.environ["ZHONGSHU_BENCH_DUMP_OUTPUTS"]) / f"outputs-{digest}.pickle"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(pickle.dumps(dump))
    return len(seen), digest


def run_rebuild(infra: Infra, pos: Positions) -> dict:
    from projections.projector import PROJECTED_TOPICS

    db = infra.new_database("rebuild")
    env = child_env(broker=infra.bootstrap, database_url=db, home=infra.home("rebuild"), token_secret="bench")
    ends = pos.ends(PROJECTED_TOPICS)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "zhongshu.cli", "projections", "rebuild", "--no-progress",
                           "--broker", infra.bootstrap, "--database-url", db], env=env, cwd=infra.dir,
                          capture_output=True, text=True, timeout=7200)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"rebuild failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    m = re.search(r"from (\d+) events in ([\d.]+) s \((\d+) events/s replayed\)", proc.stdout)
    events = int(m.group(1)) if m else sum(ends.values())
    return {"events": events, "seconds": float(m.group(2)) if m else None,
            "replay_rate": int(m.group(3)) if m else None, "wall_s": round(wall, 3),
            "wall_rate": round(events / wall), "output": proc.stdout.strip()[-300:]}


def _r(x):
    return None if x is None else round(x)


def one_round(args, wl, i: int) -> dict:
    with Infra(args.broker, args.database_url) as infra:
        from kafka.admin import KafkaAdminClient, NewTopic

        infra.create_topics(args.partitions)
        admin = KafkaAdminClient(bootstrap_servers=infra.bootstrap)
        try:
            admin.create_topics([NewTopic("bench.raw-out", args.partitions, 1)])
        except Exception:
            pass
        admin.close()
        pos = Positions(infra.bootstrap)
        try:
            load = loadavg()
            preload_s = wlmod.preload(infra.bootstrap, wl)
            result = {"round": i, "load_before": [round(x, 2) for x in load], "preload_s": round(preload_s, 2)}
            order = ("raw", "e2e") if i % 2 == 0 else ("e2e", "raw")
            if args.compare:  # the other checkout's worker + projector on the same log, in the same round
                order = ("raw", "e2e", "e2e_b") if i % 2 == 0 else ("e2e_b", "e2e", "raw")
            for what in order:
                if args.only and what != args.only:
                    continue
                if what == "e2e_b":
                    print(f"  round {i}: e2e with {args.compare} … (load {loadavg()[0]:.2f})", flush=True)
                    result["e2e_b"] = run_e2e(infra, pos, wl.records, args.partitions, args.store, tag="e2eb",
                                              code=args.compare)
                    continue
                print(f"  round {i}: {what} … (load {loadavg()[0]:.2f})", flush=True)
                if what == "raw":
                    result["raw"] = run_raw(infra, pos, wl.records, args.partitions)
                else:
                    result["e2e"] = run_e2e(infra, pos, wl.records, args.partitions, args.store,
                                            profile=Path(args.profile) if args.profile else None)
            if not args.no_rebuild and not args.only:
                print(f"  round {i}: rebuild … (load {loadavg()[0]:.2f})", flush=True)
                result["rebuild"] = run_rebuild(infra, pos)
            result["load_after"] = [round(x, 2) for x in loadavg()]
            if args.only:
                return result
            raw, e2e = result["raw"], result["e2e"]
            result["ratio"] = round(e2e["rate"] / raw["rate"], 3)
            result["ratio_worker"] = round(e2e["worker_rate"] / raw["rate"], 3)
            if e2e["steady_worker_rate"] and raw["steady_rate"]:
                result["ratio_steady"] = round(e2e["steady_worker_rate"] / raw["steady_rate"], 3)
            result["ratio_cpu"] = round(raw["cpu_us_per_record"] / e2e["worker_cpu_us_per_record"], 3)
            if "e2e_b" in result:
                b = result["e2e_b"]
                result["ratio_b"] = round(b["rate"] / raw["rate"], 3)
                result["ratio_worker_b"] = round(b["worker_rate"] / raw["rate"], 3)
                if b["steady_worker_rate"] and raw["steady_rate"]:
                    result["ratio_steady_b"] = round(b["steady_worker_rate"] / raw["steady_rate"], 3)
                result["ratio_cpu_b"] = round(raw["cpu_us_per_record"] / b["worker_cpu_us_per_record"], 3)
                result["speedup_b"] = round(b["rate"] / e2e["rate"], 3)
                result["cpu_gain_b"] = round(e2e["worker_cpu_us_per_record"] / b["worker_cpu_us_per_record"], 3)
            return result
        finally:
            pos.close()


def summarise(rounds: list[dict]) -> dict:
    def med(path):
        vals = []
        for r in rounds:
            v = r
            for p in path.split("."):
                v = v.get(p) if isinstance(v, dict) else None
            vals.append(v)
        return median(vals)

    keys = ["raw.rate", "raw.steady_rate", "raw.cpu_us_per_record", "e2e.rate", "e2e.worker_rate",
            "e2e.steady_worker_rate", "e2e.worker_cpu_us_per_record", "e2e.projector_cpu_us_per_record",
            "e2e.projector_tail_s", "ratio", "ratio_worker", "ratio_steady", "ratio_cpu",
            "rebuild.replay_rate", "rebuild.wall_rate", "rebuild.events",
            "e2e_b.rate", "e2e_b.worker_rate", "e2e_b.steady_worker_rate", "e2e_b.worker_cpu_us_per_record",
            "e2e_b.projector_tail_s", "ratio_b", "ratio_worker_b", "ratio_steady_b", "ratio_cpu_b", "speedup_b",
            "cpu_gain_b"]
    return {k: med(k) for k in keys}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=100000, help="ingress records (synth: whole seeds, ≥ this)")
    p.add_argument("--enterprises", type=int, default=20000, help="simple workload: enterprises")
    p.add_argument("--workload", choices=("synth", "simple"), default="synth")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--store", default="memory://")
    p.add_argument("--broker")
    p.add_argument("--database-url")
    p.add_argument("--no-rebuild", action="store_true")
    p.add_argument("--only", choices=("raw", "e2e"), help="run only one side (no ratio, no rebuild)")
    p.add_argument("--compare", metavar="CHECKOUT", help="also run the worker + projector of this checkout (e.g. "
                   "a scratch worktree with a proposed patch) on the same log in every round: A/B in one run")
    p.add_argument("--profile", help="directory: run the worker and projector under py-spy, collapsed stacks there")
    p.add_argument("--json", help="write the full results here (default bench/results/throughput-<time>.json)")
    args = p.parse_args(argv)
    if args.broker and args.rounds > 1:
        print("note: with --broker every round appends the workload again to the same topics", file=sys.stderr)
    t = time.monotonic()
    if args.workload == "synth":
        wl = wlmod.synth(args.records, args.partitions)
    else:
        wl = wlmod.simple(args.enterprises, args.partitions, per_enterprise=args.records / args.enterprises)
    info = {"machine": machine(), "workload": wl.describe(), "args": vars(args)}
    print(f"machine: {info['machine']}\nworkload: {info['workload']} (built in {time.monotonic() - t:.1f}s)",
          flush=True)
    rounds = []
    for i in range(args.rounds):
        r = one_round(args, wl, i)
        rounds.append(r)
        if args.only:
            print(f"round {i}: " + json.dumps(r.get(args.only)), flush=True)
            continue
        print(f"round {i}: raw {r['raw']['rate']}/s (steady {r['raw']['steady_rate']}, "
              f"{r['raw']['cpu_us_per_record']} µs CPU/rec) | e2e {r['e2e']['rate']}/s, worker {r['e2e']['worker_rate']}/s "
              f"(steady {r['e2e']['steady_worker_rate']}, {r['e2e']['worker_cpu_us_per_record']} µs CPU/rec, "
              f"RSS {fmt_bytes(max(r['e2e']['worker_rss']))}), leads {r['e2e']['leads_appended']}, "
              f"outputs {r['e2e']['outputs_distinct']} distinct #{r['e2e']['outputs_digest']}, "
              f"dead letters {r['e2e']['deadletters']} | ratio {r['ratio']} (worker {r['ratio_worker']}, "
              f"steady {r.get('ratio_steady')}, cpu {r['ratio_cpu']})"
              + (f" | B: e2e {r['e2e_b']['rate']}/s, worker {r['e2e_b']['worker_rate']}/s (steady "
                 f"{r['e2e_b']['steady_worker_rate']}, {r['e2e_b']['worker_cpu_us_per_record']} µs CPU/rec), ratio "
                 f"{r['ratio_b']} (worker {r['ratio_worker_b']}, cpu {r['ratio_cpu_b']}), speedup {r['speedup_b']}, "
                 f"outputs {r['e2e_b']['outputs_distinct']} distinct #{r['e2e_b']['outputs_digest']}"
                 if "e2e_b" in r else "")
              + (f" | rebuild {r['rebuild']['replay_rate']}/s over {r['rebuild']['events']} events"
                 if "rebuild" in r else "") + f" | load {r['load_before'][0]}→{r['load_after'][0]}", flush=True)
    info["rounds"] = rounds
    info["median"] = summarise(rounds) if not args.only else {}
    info["machine_after"] = machine()
    RESULTS_DIR.mkdir(exist_ok=True)
    path = Path(args.json) if args.json else RESULTS_DIR / f"throughput-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(info, indent=1, ensure_ascii=False, default=str))
    print("median: " + json.dumps(info["median"]), flush=True)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
