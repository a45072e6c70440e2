"""Outages: the broker, then the database, stopped in the middle of a sustained load.

A dedicated Kafka broker and a dedicated PostgreSQL cluster (not the session ones: they are
stopped here) under one `zhongshu up`. While a dependency is down, intake answers 503 with
Retry-After within a bounded time (never 500, never a hang); a source system that retries loses
nothing and appends nothing twice; after the dependency returns, the worker and the projector
catch up and the leads are exactly the expected ones.
"""
from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, free_port_pair, start_hub, stop_hub

from .support import (
    INSPECTIONS, Load, Poster, check_leads, check_log, in_thread, intake_log, lead_records, record,
)

pytestmark = pytest.mark.integration

SIZE = int(os.environ.get("ZHONGSHU_OUTAGE_ENTERPRISES", "150"))
SEND_TIMEOUT = 4.0
DOWN_SECONDS = 12.0
PACE = 10.0  # records per second: the load runs before, during and after the outage


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from zhongshu.localkafka import LocalKafka, ensure_kafka_jars
    from zhongshu.localpg import LocalPostgres

    ensure_kafka_jars()
    kafka = LocalKafka(tmp_path_factory.mktemp("outage-kafka"), port=free_port_pair())
    kafka.format()
    kafka.start()
    pg_dir = Path(f"/tmp/zhongshu-outage-pg-{uuid.uuid4().hex[:8]}")
    pg = LocalPostgres(pg_dir, port=free_port())
    hub = None
    try:
        pg.init()
        pg.start()
        hub = start_hub(tmp_path_factory.mktemp("outage"), {
            "ZHONGSHU_BROKER": kafka.bootstrap,
            "ZHONGSHU_DATABASE_URL": pg.create_database("outage"),
            "ZHONGSHU_APP_ID": f"zhongshu-outage-{uuid.uuid4().hex[:8]}",
            "ZHONGSHU_TOKEN_SECRET": "outage-" + uuid.uuid4().hex,
            "ZHONGSHU_INTAKE_SEND_TIMEOUT": str(SEND_TIMEOUT),
        })
        hub.kafka, hub.pg = kafka, pg
        hub.staff = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('supervisor')}"},
                                 timeout=60)
        yield hub
    finally:
        if hub is not None:
            stop_hub(hub)
        pg.start() if not pg.is_running() and pg.is_initialized() else None
        pg.stop()
        shutil.rmtree(pg_dir, ignore_errors=True)
        kafka.stop()


def probe(url: str, key: str, rec: dict) -> tuple[httpx.Response | None, float]:
    started = time.monotonic()
    try:
        r = httpx.post(url + INSPECTIONS, json=[rec], headers={"Authorization": f"Bearer {key}"}, timeout=60)
    except httpx.TransportError:
        r = None
    return r, time.monotonic() - started


def read_probe(hub) -> tuple[int | str, str | None]:
    try:
        r = hub.staff.get("/api/v1/leads", params={"page_size": 1}, timeout=30)
    except httpx.TransportError:
        return "transport", None
    return r.status_code, r.headers.get("retry-after")


def run_outage(hub, stop, start, name: str) -> dict:
    load = Load(enterprises=SIZE)
    load.register(hub.admin)
    hub.sync(timeout=300)
    key = hub.key("enforcement")
    poster = Poster(hub.url, key, pace=PACE)
    n = len(load.records)
    body = in_thread(poster.post, load.records)
    deadline = time.monotonic() + 300
    while poster.posted < n // 3:
        assert body.is_alive() and time.monotonic() < deadline, f"load stopped early: {body.errors}"
        time.sleep(0.1)
    # a read just before: the staff key stays cached (30 s), so the reads below reach the lead
    # query itself, on pooled connections the restart leaves stale
    assert read_probe(hub)[0] == 200
    stop()
    down_at = time.monotonic()
    probes = []
    extra = Load(enterprises=1, agencies=load.agencies)  # posted while down; lands once after
    reads = []  # staff reads (lead list): the database's pooled connections go stale over a restart
    while time.monotonic() - down_at < DOWN_SECONDS:
        r, took = probe(hub.url, key, extra.records[0])
        probes.append((r.status_code if r is not None else "transport", took, r.headers.get("retry-after") if r else None))
        reads.append(read_probe(hub))
        time.sleep(0.5)
    start()
    outage = time.monotonic() - down_at
    back = time.monotonic()
    while time.monotonic() - back < 60:  # back: at most a few 503s until the pool has fresh connections
        reads.append(read_probe(hub))
        if reads[-1][0] == 200:
            break
        time.sleep(0.5)
    assert all(s in (200, 503) for s, _ in reads), f"staff reads while {name} was down and after: {reads}"
    assert all(ra and int(ra) >= 1 for s, ra in reads if s == 503), "every 503 says when to retry"
    assert reads[-1][0] == 200, f"staff reads did not recover after {name} came back: {reads[-10:]}"
    body.join(600)
    assert not body.is_alive() and not body.errors, body.errors
    # the record refused while down is accepted now, once
    Poster(hub.url, key).post(extra.records)
    hub.sync(timeout=400)

    statuses = [s for s, _, _ in probes]
    assert 503 in statuses, f"intake never answered 503 while {name} was down: {probes}"
    assert all(s in (503, 202, 200) for s in statuses), f"while {name} was down: {probes}"
    assert all(ra and int(ra) >= 1 for s, _, ra in probes if s == 503), "every 503 says when to retry"
    slowest = max(took for _, took, _ in probes)
    assert slowest < 3 * SEND_TIMEOUT + 5, f"an intake answer took {slowest:.1f}s while {name} was down"
    assert 500 not in poster.statuses, poster.statuses
    assert set(poster.acked) == load.sids

    both = Load(enterprises=0, agencies=load.agencies)
    both.records, both.expected = load.records + extra.records, load.expected | extra.expected
    figures = {"outage": name, "outage_seconds": round(outage, 1), "records_posted": len(both.records),
               "records_per_second": poster.rate, "http_statuses": dict(poster.statuses),
               "client_retries": poster.retries, "probes_while_down": len(probes),
               "probe_statuses": dict((str(s), statuses.count(s)) for s in set(statuses)),
               "read_statuses": dict((str(s), [x for x, _ in reads].count(s)) for s in {x for x, _ in reads}),
               "slowest_answer_while_down_seconds": round(slowest, 1), "intake_log": intake_log(hub)}
    figures |= check_log(both, hub.bootstrap)
    figures |= check_leads(both, hub.staff)
    figures |= lead_records(both, hub.bootstrap)
    return figures


def starts(hub) -> dict:
    return {"projector": hub.log("projector").count("projector consuming")}


def test_kafka_stopped_during_load_answers_503_then_everything_catches_up(stack):
    before = starts(stack)
    figures = run_outage(stack, stack.kafka.stop, stack.kafka.start, "kafka")
    figures["projector_restarts"] = starts(stack)["projector"] - before["projector"]
    record("outage_kafka", **figures)


def test_postgresql_stopped_during_load_answers_503_not_500_then_catches_up(stack):
    before = starts(stack)
    figures = run_outage(stack, stack.pg.stop, stack.pg.start, "postgresql")
    figures["projector_restarts"] = starts(stack)["projector"] - before["projector"]
    record("outage_postgresql", **figures)
