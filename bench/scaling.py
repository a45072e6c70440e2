"""Scaling from one stream worker to two (same app id, so one consumer group sharing partitions).

    python3 -m bench.scaling [--records 50000] [--rounds 3] [--partitions 4] [--standby 1]
                             [--workload synth|simple] [--store memory://]

Each round pre-loads the workload onto a fresh broker, then times one worker and two
workers (order alternating between rounds; each its own consumer group and tables) until
the group has committed the ends of everything it reads. No projector: this is the stream
stage alone. With two workers and standby replicas (the default configuration keeps one),
each worker also replays the other's table changelogs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import workload as wlmod
from .infra import Infra, Positions, loadavg, machine, median
from .throughput import run_e2e

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=50000)
    p.add_argument("--enterprises", type=int, default=20000)
    p.add_argument("--workload", choices=("synth", "simple"), default="synth")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--standby", type=int, default=1)
    p.add_argument("--store", default="memory://")
    p.add_argument("--broker")
    p.add_argument("--json")
    a = p.parse_args(argv)
    wl = (wlmod.synth(a.records, a.partitions) if a.workload == "synth"
          else wlmod.simple(a.enterprises, a.partitions, per_enterprise=a.records / a.enterprises))
    info = {"machine": machine(), "workload": wl.describe(), "args": vars(a), "rounds": []}
    print(f"machine: {info['machine']}\nworkload: {info['workload']}", flush=True)
    for i in range(a.rounds):
        with Infra(a.broker) as infra:
            infra.create_topics(a.partitions)
            pos = Positions(infra.bootstrap)
            try:
                wlmod.preload(infra.bootstrap, wl)
                r = {"round": i, "load_before": [round(x, 2) for x in loadavg()]}
                for n in ((1, 2) if i % 2 == 0 else (2, 1)):
                    r[f"w{n}"] = run_e2e(infra, pos, wl.records, a.partitions, a.store, standby=a.standby,
                                         workers=n, projector=False, tag=f"scale{n}")
                r["load_after"] = [round(x, 2) for x in loadavg()]
                r["speedup"] = round(r["w2"]["worker_rate"] / r["w1"]["worker_rate"], 3)
                r["speedup_steady"] = (round(r["w2"]["steady_worker_rate"] / r["w1"]["steady_worker_rate"], 3)
                                       if r["w2"]["steady_worker_rate"] and r["w1"]["steady_worker_rate"] else None)
                info["rounds"].append(r)
                print(f"round {i}: 1 worker {r['w1']['worker_rate']}/s (steady {r['w1']['steady_worker_rate']}, "
                      f"{r['w1']['worker_cpu_us_per_record']} µs CPU/rec) | 2 workers {r['w2']['worker_rate']}/s "
                      f"(steady {r['w2']['steady_worker_rate']}, {r['w2']['worker_cpu_us_per_record']} µs CPU/rec "
                      f"together) | speedup {r['speedup']} (steady {r['speedup_steady']}) | load "
                      f"{r['load_before'][0]}→{r['load_after'][0]}", flush=True)
            finally:
                pos.close()
    info["median"] = {k: median([r[k] for r in info["rounds"]]) for k in ("speedup", "speedup_steady")}
    info["median"].update({f"{w}_rate": median([r[w]["worker_rate"] for r in info["rounds"]]) for w in ("w1", "w2")})
    info["machine_after"] = machine()
    RESULTS_DIR.mkdir(exist_ok=True)
    path = Path(a.json) if a.json else RESULTS_DIR / f"scaling-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(info, indent=1, ensure_ascii=False, default=str))
    print("median: " + json.dumps(info["median"]))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
