"""The benchmark harness still runs (bench/smoke.py): a few hundred records through the raw pipe,
the worker + projector and the projection rebuild. Not a timed test: it asserts that every stage
finished and reported numbers, never how fast."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_the_benchmark_harness_runs_end_to_end_and_reports_numbers(pg_server):
    from bench.smoke import run

    # its own broker, always: the smoke appends records to the ingress topics, which would reach
    # the consumer groups of every other test on a shared broker; the PostgreSQL cluster is
    # shared (each run gets fresh databases)
    result = run(enterprises=200, database_url=pg_server.url if pg_server is not None else None)

    records = result["records"]
    assert records > 200
    raw, e2e, rebuild = result["raw"], result["e2e"], result["rebuild"]
    assert raw["inner"]["records"] >= records          # ingress records + ticks, all read
    assert raw["rate"] > 0 and e2e["rate"] > 0 and e2e["worker_rate"] > 0
    assert e2e["deadletters"] == 0                    # every record was valid and decodable
    assert e2e["leads_appended"] > 0                  # the rules ran (INSP_NO_CODE is planted)
    assert 0 < e2e["outputs_distinct"] <= e2e["leads_appended"] + e2e["triggers_appended"]
    assert len(e2e["outputs_digest"]) == 16           # the determinism check of the harness ran
    assert rebuild["events"] >= records and rebuild["replay_rate"] > 0
    assert result["ratio"] > 0
