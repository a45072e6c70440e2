"""Two workers: a second `zhongshu worker` (same app_id and environment as the hub's own) joins
in the middle of a load and leaves again (SIGTERM) before it ends; no lead is lost or doubled.
While both run, each holds standby copies of the table partitions the other one owns
(Settings.standby_replicas = 1 → Faust's table_standby_replicas)."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
import zlib

import httpx
import pytest

from tests.conftest import start_hub, stop_hub

from .support import Load, Poster, check_leads, check_log, child_pid, in_thread, lead_records, record

pytestmark = pytest.mark.integration

SIZE = int(os.environ.get("ZHONGSHU_TWO_WORKERS_ENTERPRISES", "250"))
PACE = 8.0  # records per second: the load must outlast a join and a leave


def environ_of(pid: int) -> dict:
    raw = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def members(bootstrap: str, group: str) -> list[dict]:
    """Members of the workers' group with the actives and standbys Faust's assignor gave them
    (its ClientAssignment travels zlib-compressed in the assignment's user data)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    async def describe():
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return await admin.describe_consumer_groups([group])
        finally:
            await admin.close()

    out = []
    for response in asyncio.run(describe()):
        for _, group_id, state, _, _, group_members, *_ in response.groups:
            if group_id != group or state != "Stable":
                continue
            for member_id, *_, raw in group_members:
                assignment = ConsumerProtocolMemberAssignment.decode(raw) if raw else None
                meta = json.loads(zlib.decompress(assignment.user_data)) if assignment and assignment.user_data else {}
                a = meta.get("assignment") or {}
                out.append({"id": member_id, "actives": a.get("actives") or {}, "standbys": a.get("standbys") or {}})
    return out


def wait_members(bootstrap: str, group: str, n: int, timeout: float = 240) -> list[dict]:
    deadline = time.monotonic() + timeout
    got: list[dict] = []
    while time.monotonic() < deadline:
        got = members(bootstrap, group)
        if len(got) == n and all(m["actives"] for m in got):
            return got
        time.sleep(1)
    raise AssertionError(f"group {group} did not settle on {n} member(s): {[m['id'] for m in got]}")


def test_a_worker_joining_and_one_leaving_mid_load_lose_and_double_no_lead(tmp_path, kafka_bootstrap, pg_url):
    app_id = f"zhongshu-two-{uuid.uuid4().hex[:8]}"
    hub = start_hub(tmp_path, {"ZHONGSHU_BROKER": kafka_bootstrap, "ZHONGSHU_DATABASE_URL": pg_url,
                               "ZHONGSHU_APP_ID": app_id, "ZHONGSHU_TOKEN_SECRET": "two-" + uuid.uuid4().hex})
    second = None
    try:
        staff = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.key('supervisor')}"},
                             timeout=60)
        load = Load(enterprises=SIZE)
        load.register(hub.admin)
        hub.sync(timeout=300)
        env = environ_of(child_pid(hub.proc.pid, "zhongshu.cli worker"))
        assert env["ZHONGSHU_APP_ID"] == app_id

        # the app the workers run, built from exactly that environment
        conf = subprocess.run([sys.executable, "-c", "from streams.app import app; import json; print(json.dumps("
                               "{'id': app.conf.id, 'standby': app.conf.table_standby_replicas}))"],
                              cwd=hub.cwd, env=env, capture_output=True, text=True, timeout=120)
        assert conf.returncode == 0, conf.stderr
        assert json.loads(conf.stdout.strip().splitlines()[-1]) == {"id": app_id, "standby": 1}

        poster = Poster(hub.url, hub.key("enforcement"), pace=PACE)
        n = len(load.records)
        body = in_thread(poster.post, load.records)

        def wait_posted(k):
            deadline = time.monotonic() + 300
            while poster.posted < k:
                assert body.is_alive() and time.monotonic() < deadline, f"load stopped early: {body.errors}"
                time.sleep(0.1)

        wait_posted(n // 4)
        log = open(tmp_path / "second-worker.log", "ab")
        # another machine's worker: same configuration, its own state directory (which must exist:
        # Faust creates only the last level of its datadir)
        (tmp_path / "second-home").mkdir()
        second = subprocess.Popen([sys.executable, "-m", "zhongshu.cli", "worker"], cwd=hub.cwd,
                                  env={**env, "ZHONGSHU_HOME": str(tmp_path / "second-home")},
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        joined_at = time.monotonic()
        pair = wait_members(hub.bootstrap, app_id, 2)
        join_seconds = time.monotonic() - joined_at
        posted_at_join = poster.posted

        # standby replicas: each worker keeps copies of the state partitions the other owns
        tables = [t for t in pair[0]["actives"] if t.endswith("-state-changelog")]
        assert len(tables) == 3, pair[0]["actives"].keys()
        for t in tables:
            for m, other in ((pair[0], pair[1]), (pair[1], pair[0])):
                assert set(m["standbys"].get(t, [])) == set(other["actives"][t]) - set(m["actives"][t]), (t, pair)
                assert m["standbys"].get(t), f"{t}: no standby partitions on {m['id']}"

        wait_posted(min(n - 40, max(posted_at_join + 40, 2 * n // 3)))
        second.send_signal(signal.SIGTERM)  # leaves the group cleanly
        second.wait(120)
        left_at = time.monotonic()
        wait_members(hub.bootstrap, app_id, 1)
        leave_seconds = time.monotonic() - left_at
        posted_at_leave = poster.posted
        body.join(600)
        assert not body.is_alive() and not body.errors, body.errors
        hub.sync(timeout=400)

        log_text = (tmp_path / "second-worker.log").read_text(errors="replace")
        figures = {"records_posted": n, "records_per_second": poster.rate, "http_statuses": dict(poster.statuses),
                   "posted_when_second_worker_joined": posted_at_join, "posted_when_it_left": posted_at_leave,
                   "join_rebalance_seconds": round(join_seconds, 1), "leave_rebalance_seconds": round(leave_seconds, 1),
                   "standby_replicas": 1,
                   "standby_partitions": {t: {m["id"][-8:]: sorted(m["standbys"][t]) for m in pair} for t in tables},
                   "second_worker_dead_letters": log_text.count("dead-letter")}
        figures |= check_log(load, hub.bootstrap)
        figures |= check_leads(load, staff)
        figures |= lead_records(load, hub.bootstrap)
        record("two_workers", **figures)
    finally:
        if second is not None and second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
            second.wait()
        stop_hub(hub)
