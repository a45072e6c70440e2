"""`zhongshu up` with nothing configured: local Kafka under ./var, SQLite, clean stop."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time

import httpx
import pytest

from tests.conftest import REPO, free_port_pair, start_hub, stop_hub

pytestmark = pytest.mark.integration


def test_up_embedded_default_runs_everything_under_var_and_stops_cleanly(tmp_path):
    # "nothing configured" but a free Kafka port, so a developer's own `zhongshu up` is not disturbed
    hub = start_hub(tmp_path, {"ZHONGSHU_KAFKA_PORT": str(free_port_pair())})
    try:
        var = tmp_path / "var"
        assert (var / "kafka").is_dir() and (var / "zhongshu.db").exists() and (var / "secret").exists()
        runtime = json.loads((var / "runtime.json").read_text())
        # another command in the same directory uses the same state while `up` runs
        key = hub.key("admin")
        assert key.startswith("zs_")
        client = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert client.get("/healthz").json() == {"status": "ok"}
        deadline = time.monotonic() + 60  # not ready while the broker's group coordinator starts
        while (ready := client.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(1)
        assert ready.status_code == 200, ready.text
        tick = hub.cli("clock", "tick", "--at", "2026-05-07T00:00:00+08:00")
        assert "hub.clock" in tick.stdout
        assert client.get("/api/v1/sync", params={"timeout": 60}).status_code == 200
        # keys are stored hashed, never in clear
        with sqlite3.connect(var / "zhongshu.db") as db:
            stored = [r[0] for r in db.execute("select key_hash from api_keys")]
        assert key not in stored and len(stored) == 1
        kafka_pid = int((var / "kafka" / "kafka.pid").read_text())
    finally:
        code = stop_hub(hub)
    assert code == 0
    assert not (tmp_path / "var" / "runtime.json").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(kafka_pid, 0)
    assert runtime["broker"].startswith("127.0.0.1:")


def test_clock_tick_rejects_a_time_without_offset(tmp_path):
    out = subprocess.run(["python3", "-m", "zhongshu.cli", "clock", "tick", "--at", "2026-05-07T00:00:00"],
                         cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "ZHONGSHU_BROKER": "127.0.0.1:1", "PYTHONPATH": str(REPO)})
    assert out.returncode == 2
    assert "explicit UTC offset" in out.stderr


def test_wall_clock_mode_records_wall_time_as_ticks(tmp_path, kafka_bootstrap, pg_url):
    from datetime import datetime, timezone

    from kafka import KafkaConsumer, TopicPartition

    from schemas.codec import Codec

    started = datetime.now(timezone.utc)
    hub = start_hub(tmp_path, {"ZHONGSHU_BROKER": kafka_bootstrap, "ZHONGSHU_DATABASE_URL": pg_url,
                               "ZHONGSHU_APP_ID": "zhongshu-wall-" + str(os.getpid()), "ZHONGSHU_TICK_INTERVAL": "1"},
                    args=("--clock", "wall"))
    try:
        time.sleep(4)
    finally:
        stop_hub(hub)
    codec = Codec()
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    tps = [TopicPartition("hub.clock", p) for p in consumer.partitions_for_topic("hub.clock")]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ats = []
    while batch := consumer.poll(timeout_ms=2000):
        for msgs in batch.values():
            for m in msgs:
                at = datetime.fromisoformat(codec.decode(m.value)[1]["at"])
                if at >= started.replace(microsecond=0):
                    ats.append(at)
    consumer.close()
    # one tick per partition per interval, each carrying the wall time in China time (+08:00)
    assert len(ats) >= 2 * len(tps)
    assert all(a.utcoffset().total_seconds() == 8 * 3600 for a in ats)
