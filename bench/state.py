"""Worker state size: resident memory of one `zhongshu worker` against the number of enterprises,
with the memory:// and the rocksdb:// table store.

    python3 -m bench.state [--enterprises 10000,100000,1000000] [--stores memory://,rocksdb://]
                           [--days 3] [--timeout 3600]

For each size a fresh broker gets the `simple` workload (bench/workload.py: per enterprise
one inspection, or a complaint work order (20 %), or a case lifecycle (10 %, four events),
over `days` days with a daily clock tick); then for each store one worker reads it all (own
consumer group, no projector). Reported: resident set size when caught up (VmRSS) and its
peak (VmHWM), the Faust data directory on disk (RocksDB files), wall and CPU time, and the
rate. Each table key holds the rules' state of one enterprise (case, agency keys besides).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

from . import workload as wlmod
from .infra import (Infra, Positions, child_env, cpu_seconds, du, fmt_bytes, loadavg, machine, rss_bytes,
                    wait_group_caught_up, worker_topics)

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def peak_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_worker(infra: Infra, pos: Positions, records: int, partitions: int, store: str, timeout: float,
               profile: Path | None = None) -> dict:
    from streams.topics import INTERNAL_TOPICS

    app_id = f"bench-state-{uuid.uuid4().hex[:8]}"
    home = infra.home("state")
    env = child_env(broker=infra.bootstrap, database_url="sqlite:////dev/null", app_id=app_id, home=home,
                    partitions=partitions, store=store, standby_replicas=0, token_secret="bench", log_level="INFO")
    name = f"state-{store.split(':')[0]}-{records}"
    proc = infra.spawn(name, ["worker"], env, profile=profile)
    pid = proc.pid
    t0 = proc.started
    try:
        t_done = wait_group_caught_up(pos, app_id, worker_topics(), internal=INTERNAL_TOPICS, alive=proc.alive,
                                      timeout=timeout, poll=1.0)
        time.sleep(3)  # settle: commit, flush
        out = {"store": store, "records": records, "wall_s": round(t_done - t0, 1),
               "rate": round(records / (t_done - t0)), "cpu_s": round(cpu_seconds(pid), 1),
               "rss": rss_bytes(pid), "rss_peak": peak_rss(pid), "disk": du(home / "faust"),
               "load": [round(x, 2) for x in loadavg()]}
    except TimeoutError as exc:
        out = {"store": store, "records": records, "timeout_s": timeout, "error": str(exc)[:300],
               "cpu_s": round(cpu_seconds(pid), 1), "rss": rss_bytes(pid), "rss_peak": peak_rss(pid),
               "disk": du(home / "faust"), "load": [round(x, 2) for x in loadavg()]}
    finally:
        proc.stop()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--enterprises", default="10000,100000")
    p.add_argument("--stores", default="memory://,rocksdb://")
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--complaint-share", type=float, default=0.2)
    p.add_argument("--case-share", type=float, default=0.1)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--broker")
    p.add_argument("--profile", help="directory for py-spy profiles of the workers")
    p.add_argument("--json")
    a = p.parse_args(argv)
    from .infra import CODE

    info = {"machine": machine(), "args": vars(a), "code": str(CODE), "runs": []}
    print(f"machine: {info['machine']}", flush=True)
    for n in [int(x) for x in a.enterprises.split(",")]:
        t = time.monotonic()
        wl = wlmod.simple(n, a.partitions, days=a.days, complaint_share=a.complaint_share, case_share=a.case_share)
        print(f"workload: {wl.describe()} (built in {time.monotonic() - t:.0f}s)", flush=True)
        with Infra(a.broker) as infra:
            infra.create_topics(a.partitions)
            pos = Positions(infra.bootstrap)
            try:
                wlmod.preload(infra.bootstrap, wl)
                for store in a.stores.split(","):
                    prof = Path(a.profile) / f"state-{store.split(':')[0]}-{n}.txt" if a.profile else None
                    r = run_worker(infra, pos, wl.records, a.partitions, store, a.timeout, prof)
                    r["enterprises"] = n
                    info["runs"].append(r)
                    print(f"  {n} enterprises, {store}: RSS {fmt_bytes(r['rss'])} (peak {fmt_bytes(r['rss_peak'])}), "
                          f"disk {fmt_bytes(r['disk'])}, " + (f"{r['rate']} rec/s, {r['wall_s']} s, CPU {r['cpu_s']} s"
                                                            if "rate" in r else f"TIMEOUT: {r['error']}")
                          + f", load {r['load'][0]}", flush=True)
            finally:
                pos.close()
    RESULTS_DIR.mkdir(exist_ok=True)
    path = Path(a.json) if a.json else RESULTS_DIR / f"state-{time.strftime('%Y%m%d-%H%M%S')}.json"
    info["machine_after"] = machine()
    path.write_text(json.dumps(info, indent=1, ensure_ascii=False, default=str))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
