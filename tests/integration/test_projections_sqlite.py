"""The embedded default (`zhongshu up` with no database configured: SQLite under ./var/):
migrations, lead actions with their concurrency guard, the enterprise file, indicators and
a rebuild, on the same real broker."""
from __future__ import annotations

import threading
import uuid

import pytest

from tests.conftest import start_hub, stop_hub

from .test_projections_support import (
    assert_same_tables, client, inspection, lead, new_agency, new_uscc, post, produce, snapshot,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def sqlite_hub(tmp_path, kafka_bootstrap):
    h = start_hub(tmp_path, {
        "ZHONGSHU_BROKER": kafka_bootstrap,
        "ZHONGSHU_APP_ID": f"zhongshu-test-{uuid.uuid4().hex[:8]}",
        "ZHONGSHU_TOKEN_SECRET": "test-secret-" + uuid.uuid4().hex,
    }, from_log_end=True)
    h.db_url = f"sqlite:///{tmp_path / 'var' / 'zhongshu.db'}"
    try:
        yield h
    finally:
        stop_hub(h)


def test_the_embedded_sqlite_hub_serves_the_queue_and_rebuilds(sqlite_hub):
    hub = sqlite_hub
    agency, uscc = new_agency(), new_uscc()
    post(client(hub, "enforcement"), "enforcement/inspections", inspection(agency, uscc))
    item = lead(agency_code=agency)
    produce(hub.bootstrap, "supervision.leads", [item])
    hub.sync()

    staff = [client(hub), client(hub)]
    barrier, answers = threading.Barrier(2), [None, None]

    def claim(i):
        barrier.wait()
        answers[i] = staff[i].post(f"/api/v1/leads/{item['lead_id']}/claim", json={"version": 1})

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
    assert staff[0].post(f"/api/v1/leads/{item['lead_id']}/resolve",
                         json={"version": 2, "outcome": "已核实整改"}).status_code == 202
    hub.sync()
    got = staff[0].get(f"/api/v1/leads/{item['lead_id']}").json()
    assert (got["status"], got["version"]) == ("已办结", 3)
    assert staff[0].get(f"/api/v1/enterprises/{uscc}").json()["inspections"][0]["agency_code"] == agency
    ind = staff[0].get("/api/v1/indicators", params={"agency_code": agency, "from": "2026-01-01",
                                                    "to": "2026-12-31"}).json()
    assert {i["code"]: i["value"] for i in ind["indicators"]}["inspections"] == 1

    live = snapshot(hub.db_url)
    out = hub.cli("projections", "rebuild", "--no-progress")
    assert "swapped them in" in out.stdout, out.stdout + out.stderr
    hub.sync()
    assert_same_tables(live, snapshot(hub.db_url))
    assert staff[1].get(f"/api/v1/leads/{item['lead_id']}").json()["status"] == "已办结"
