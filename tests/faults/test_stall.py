"""A worker that stops consuming without exiting is seen by /readyz and restarted by `up`."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import httpx
import pytest

from tests.conftest import start_hub, stop_hub
from tests.integration.test_thin_path import valid_uscc, work_order

pytestmark = pytest.mark.integration


def child_pid(parent: int, needle: str) -> int:
    out = subprocess.run(["pgrep", "-P", str(parent), "-f", needle], capture_output=True, text=True).stdout.split()
    assert out, f"no child of {parent} matching {needle!r}"
    return int(out[0])


def test_a_silently_stalled_worker_is_reported_and_restarted(tmp_path, kafka_bootstrap, pg_url):
    hub = start_hub(tmp_path, {
        "ZHONGSHU_BROKER": kafka_bootstrap, "ZHONGSHU_DATABASE_URL": pg_url,
        "ZHONGSHU_APP_ID": f"zhongshu-stall-{uuid.uuid4().hex[:8]}", "ZHONGSHU_TOKEN_SECRET": "s",
        "ZHONGSHU_STALL_SECONDS": "5",
    })
    try:
        hub.sync()
        worker = child_pid(hub.proc.pid, "zhongshu.cli worker")
        os.kill(worker, signal.SIGSTOP)  # alive, holding its partitions, consuming nothing
        hotline = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('hotline')}"})
        uscc = valid_uscc()
        assert hotline.post("/api/v1/intake/hotline/workorders",
                            json=work_order(f"GD{uuid.uuid4().hex[:10]}", uscc)).status_code == 202

        stalled = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = httpx.get(hub.url + "/readyz", timeout=10)
            body = ready.json()
            if ready.status_code == 503 and body["checks"].get("stalled", {}).get("worker"):
                stalled = body
                break
            time.sleep(1)
        assert stalled is not None, "readyz never reported the stalled worker"
        assert stalled["checks"]["lag"]["worker"] >= 1

        # `up` restarts the stalled worker; the record is then processed
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if child_pid(hub.proc.pid, "zhongshu.cli worker") != worker:
                    break
            except AssertionError:
                pass
            time.sleep(1)
        else:
            pytest.fail("the stalled worker was not restarted")
        hub.sync(timeout=120)
        assert httpx.get(hub.url + "/readyz", timeout=10).status_code == 200
    finally:
        stop_hub(hub)
