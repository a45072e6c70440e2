"""The latency benchmark (bench/latency.py, target (d)) still runs: a few seconds at a low rate
through a real `zhongshu up`. Not a timed test: it asserts that every offered record's lead was
seen on Kafka and through the API, and that CPU per record was reported for every process,
never how fast."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def test_the_latency_benchmark_runs_and_reports_every_lead_and_cpu_by_process(tmp_path):
    from bench.latency import main

    out = tmp_path / "latency.json"
    # its own broker (it appends to the ingress topics) and its own PostgreSQL: the CPU of both is
    # part of what it reports
    assert main(["--rates", "20", "--duration", "2", "--repeats", "1", "--settle", "90", "--json", str(out)]) == 0

    info = json.loads(out.read_text())
    [step] = info["steps"]
    assert step["records"] == 40 and step["accepted"] == 40, step
    assert step["kafka_ms"]["seen"] == 40 and step["api_ms"]["seen"] == 40, step
    assert step["error_count"] == 0, step["errors"]
    cpu = step["cpu_us_per_record"]
    for role in ("api", "worker", "projector", "kafka", "postgres"):
        assert cpu.get(role, 0) > 0, f"no CPU measured for {role}: {cpu}"
    assert info["median"]["20.0"]["lost"] == 0
