"""Projection replay: `zhongshu projections rebuild` over a large log into a fresh PostgreSQL database.

    python3 -m bench.rebuild [--records 200000] [--workload synth|simple] [--repeats 3]
                             [--derive] [--profile DIR] [--broker HOST:PORT] [--database-url URL]
                             [--baseline CHECKOUT]

Pre-loads the workload onto a fresh broker; with --derive a worker first runs over it so the
log also holds the leads and credit triggers it raised (what a real log holds); then runs
the rebuild command `repeats` times, each into a fresh database. Rate = events replayed per
second as the command reports it (replay phase; the index build and the swap after it are
in the wall time beside it).

With --baseline, each repeat runs the rebuild twice on the same log, alternating: once with
that checkout's code (e.g. /work/main) and once with the code under test, so a shared,
busy machine slows both alike; the ratio of the medians is printed.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from . import workload as wlmod
from .infra import Infra, Positions, child_env, loadavg, machine, median
from .throughput import run_e2e

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def rebuild_once(infra: Infra, profile: Path | None = None, code: str | None = None) -> dict:
    db = infra.new_database("rebuild")
    env = child_env(code, broker=infra.bootstrap, database_url=db, home=infra.home("rebuild"), token_secret="bench")
    argv = [sys.executable, "-m", "zhongshu.cli", "projections", "rebuild", "--no-progress",
            "--broker", infra.bootstrap, "--database-url", db]
    if profile:
        argv = ["py-spy", "record", "-r", "97", "-f", "raw", "-o", str(profile), "--"] + argv
    t0 = time.monotonic()
    proc = subprocess.run(argv, env=env, cwd=infra.dir, capture_output=True, text=True, timeout=7200)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"rebuild failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    m = re.search(r"from (\d+) events in ([\d.]+) s \((\d+) events/s replayed\)", proc.stdout)
    if not m:
        raise RuntimeError(f"unexpected rebuild output: {proc.stdout[-500:]}")
    events = int(m.group(1))
    return {"events": events, "seconds": float(m.group(2)), "replay_rate": int(m.group(3)),
            "wall_s": round(wall, 2), "wall_rate": round(events / wall), "load": [round(x, 2) for x in loadavg()]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=200000)
    p.add_argument("--enterprises", type=int, default=100000)
    p.add_argument("--workload", choices=("synth", "simple"), default="synth")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--derive", action="store_true", help="run a worker first so leads and triggers are in the log")
    p.add_argument("--profile", help="directory: profile the last repeat with py-spy")
    p.add_argument("--broker")
    p.add_argument("--database-url")
    p.add_argument("--baseline", help="another checkout: alternate its rebuild with ours, same log")
    p.add_argument("--json")
    a = p.parse_args(argv)
    wl = (wlmod.synth(a.records, a.partitions) if a.workload == "synth"
          else wlmod.simple(a.enterprises, a.partitions, per_enterprise=a.records / a.enterprises))
    info = {"machine": machine(), "workload": wl.describe(), "args": vars(a), "runs": []}
    print(f"machine: {info['machine']}\nworkload: {info['workload']}", flush=True)
    with Infra(a.broker, a.database_url) as infra:
        infra.create_topics(a.partitions)
        wlmod.preload(infra.bootstrap, wl)
        if a.derive:
            pos = Positions(infra.bootstrap)
            try:
                info["derive"] = run_e2e(infra, pos, wl.records, a.partitions, "memory://", projector=False,
                                         tag="derive")
            finally:
                pos.close()
            print(f"derived: {info['derive']['leads_appended']} leads, {info['derive']['triggers_appended']} "
                  f"triggers in {info['derive']['wall_worker_s']} s", flush=True)
        for i in range(a.repeats):
            if a.baseline:
                r = rebuild_once(infra, code=a.baseline)
                r["code"] = "baseline"
                info.setdefault("baseline_runs", []).append(r)
                print(json.dumps(r), flush=True)
            prof = Path(a.profile) / "rebuild.txt" if a.profile and i == a.repeats - 1 else None
            r = rebuild_once(infra, prof)
            info["runs"].append(r)
            print(json.dumps(r), flush=True)
    info["median"] = {k: median([r[k] for r in info["runs"]]) for k in ("replay_rate", "wall_rate", "events")}
    if a.baseline:
        info["baseline_median"] = {k: median([r[k] for r in info["baseline_runs"]])
                                   for k in ("replay_rate", "wall_rate", "events")}
        info["ratio"] = {k: round(info["median"][k] / info["baseline_median"][k], 2)
                         for k in ("replay_rate", "wall_rate")}
        print("baseline median: " + json.dumps(info["baseline_median"]) + "  ratio: " + json.dumps(info["ratio"]))
    info["machine_after"] = machine()
    RESULTS_DIR.mkdir(exist_ok=True)
    path = Path(a.json) if a.json else RESULTS_DIR / f"rebuild-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(info, indent=1, ensure_ascii=False, default=str))
    print("median: " + json.dumps(info["median"]))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
