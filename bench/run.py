"""Run a benchmark by name: `python3 bench/run.py NAME [options]` (= `python3 -m bench.NAME`).

    throughput  (a) end to end vs (b) the raw pipe, and (c) projection rebuild, on one log
    latency     (d) intake → lead p50/p99 at fixed offered rates through `zhongshu up`
    state       (e) worker RSS against the number of enterprises, memory:// and rocksdb://
    scaling     (f) one worker against two
    appcost     the worker's own code (streams/app.py `handle`) without Faust or Kafka
    rebuild     (c) alone over a larger log
    smoke       a few hundred records through (a), (b) and (c): the harness still works

Every benchmark starts its own Kafka and PostgreSQL in a temporary directory (or uses
--broker / --database-url) and stops everything it started. Results: bench/results/*.json;
the write-up: bench/RESULTS.md.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

NAMES = ("throughput", "latency", "state", "scaling", "appcost", "rebuild", "smoke")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in NAMES:
        print(__doc__)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    return importlib.import_module(f"bench.{argv[0]}").main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
