"""Crash safety: `kill -9` of the worker, the projector or the API in the middle of a sustained
load loses nothing and doubles nothing.

One `zhongshu up` (session broker, its own PostgreSQL database and consumer group) takes three
loads in turn; each load is a bounded loop posting inspections through intake that raise a
known set of leads (tests/faults/support.py: Load). After each kill `up` restarts the process;
then every input is on the log (exactly once per source_event_id), every expected lead is in
the projection exactly once and nothing else is, the lead ids on supervision.leads are the
projected ones (repeats on the topic are allowed: at-least-once), and the projections equal a
clean `zhongshu projections rebuild` into a fresh database row for row.
"""
from __future__ import annotations

import os
import random
import time
import uuid

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import start_hub, stop_hub

from .support import (
    At, Load, Poster, check_leads, check_log, intake_log, kill9, lead_records, rebuild_and_compare, record,
    wait_answering, wait_restarted,
)

pytestmark = pytest.mark.integration

# records = 2 × enterprises per load; the worker's load is the largest (its kill costs a 30 s session timeout anyway)
SIZE = int(os.environ.get("ZHONGSHU_FAULT_ENTERPRISES", "300"))


@pytest.fixture(scope="module")
def crash_hub(tmp_path_factory, kafka_bootstrap, pg_server):
    if pg_server is None:
        pytest.skip("needs the test PostgreSQL server to create fresh databases for the rebuild")
    hub = start_hub(tmp_path_factory.mktemp("crash"), {
        "ZHONGSHU_BROKER": kafka_bootstrap,
        "ZHONGSHU_DATABASE_URL": pg_server.create_database(f"crash_{uuid.uuid4().hex[:8]}"),
        "ZHONGSHU_APP_ID": f"zhongshu-crash-{uuid.uuid4().hex[:8]}",
        "ZHONGSHU_TOKEN_SECRET": "crash-" + uuid.uuid4().hex,
        # a claim left by a killed API is checked against the log after this many seconds
        "ZHONGSHU_INTAKE_CLAIM_LEASE": "6",
    })
    hub.staff = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('supervisor')}"},
                             timeout=60)
    try:
        yield hub
    finally:
        stop_hub(hub)


def inspections_projected(hub, load: Load) -> int:
    engine = create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM inspections WHERE source_event_id LIKE :p"),
                                {"p": f"fault-insp-{load.tag}-%"}).scalar_one()
    finally:
        engine.dispose()


def worker_lag(hub) -> int | None:
    try:
        return httpx.get(hub.url + "/readyz", timeout=5).json()["checks"]["lag"]["worker"]
    except Exception:
        return None


def run_load_with_kills(hub, stage: str, kills: int, size: int = SIZE) -> dict:
    load = Load(enterprises=size)
    load.register(hub.admin)
    hub.sync(timeout=300)
    needle = f"zhongshu.cli {stage}"
    killed: list[int] = []

    lags: list[int] = []

    def kill():
        lags.append(worker_lag(hub))
        time.sleep(random.uniform(0, 0.3))  # somewhere inside the requests in flight
        killed.append(kill9(hub.proc.pid, needle))
        return killed[-1]

    n = len(load.records)
    poster = Poster(hub.url, hub.key("enforcement"))
    marks = At(*[(n * (i + 1) // (kills + 1), kill) for i in range(kills)])
    poster.post(load.records, marks)
    marks.join()
    assert len(killed) == kills
    wait_restarted(hub.proc.pid, needle, killed[-1])
    wait_answering(hub.url)
    hub.sync(timeout=400)

    assert set(poster.acked) == load.sids, "every record was acknowledged in the end"
    assert inspections_projected(hub, load) == n, "every input reached the projection"
    figures = {"stage_killed": stage, "kills": kills, "worker_lag_at_kills": lags, "intake_log": intake_log(hub),
               "records_posted": n, "post_seconds": round(poster.elapsed, 1),
               "records_per_second": poster.rate, "http_statuses": dict(poster.statuses),
               "client_retries": poster.retries}
    assert 500 not in poster.statuses, f"a request failed with 500: {poster.statuses}"
    figures |= check_log(load, hub.bootstrap)
    figures |= check_leads(load, hub.staff)
    figures |= lead_records(load, hub.bootstrap)
    assert figures["lead_ids_on_topic"] == len(load.expected)
    assert not poster.unpositioned, f"acknowledged as duplicates without a log position: {poster.unpositioned[:3]}"
    return figures


def test_a_worker_killed_mid_load_is_restarted_and_every_lead_exists_once(crash_hub, pg_server):
    figures = run_load_with_kills(crash_hub, "worker", kills=1, size=SIZE * 5 // 3)
    figures |= rebuild_and_compare(crash_hub, pg_server)
    record("crash_worker", **figures)


def test_a_projector_killed_mid_load_resumes_without_losing_or_doubling_rows(crash_hub, pg_server):
    figures = run_load_with_kills(crash_hub, "projector", kills=2)
    figures |= rebuild_and_compare(crash_hub, pg_server)
    record("crash_projector", **figures)


def test_an_api_killed_while_posting_loses_no_record_and_appends_none_twice(crash_hub, pg_server):
    """The client retries every failure; the intake ledger and the log decide: one record per
    source_event_id on the topic, whatever the killed process had done."""
    figures = run_load_with_kills(crash_hub, "api", kills=2)
    assert figures["records_doubled_on_topic"] == 0
    figures |= rebuild_and_compare(crash_hub, pg_server)
    record("crash_api", **figures)
