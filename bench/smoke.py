"""A few hundred records through (b) the raw pipe, (a) worker + projector and (c) rebuild, once.

    python3 -m bench.smoke [--enterprises 300] [--broker HOST:PORT] [--database-url URL]

Not a measurement: it proves the harness still runs against the current code (the records
still validate and encode, the worker and projector still start from the CLI, the rebuild
command still reports its rate) and prints the numbers it got. tests/test_bench_smoke.py
runs it.
"""
from __future__ import annotations

import argparse
import json
import sys
from types import SimpleNamespace

from . import workload as wlmod
from .throughput import one_round


def run(enterprises: int = 300, broker: str | None = None, database_url: str | None = None,
        partitions: int = 2) -> dict:
    wl = wlmod.simple(enterprises, partitions, days=2, seed=9, cache=False)  # always what the code makes today
    args = SimpleNamespace(broker=broker, database_url=database_url, partitions=partitions, store="memory://",
                           no_rebuild=False, only=None, profile=None, compare=None)
    result = one_round(args, wl, 0)
    result["workload"] = wl.describe()
    result["records"] = wl.records
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--enterprises", type=int, default=300)
    p.add_argument("--broker")
    p.add_argument("--database-url")
    a = p.parse_args(argv)
    print(json.dumps(run(a.enterprises, a.broker, a.database_url), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
