"""Test fixtures: a real Kafka broker and a real PostgreSQL server, started here.

Set ZHONGSHU_TEST_BROKER / ZHONGSHU_TEST_DATABASE_URL to use running ones instead.
Integration tests share one broker and one PostgreSQL cluster per session; each test that
needs a hub gets its own database and its own consumer group, so tests do not see each
other's state, while topics are shared and every test uses unique ids.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair() -> int:
    """A port p with p+1 free as well (Kafka's controller listener)."""
    for _ in range(50):
        p = free_port()
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
    raise RuntimeError("no free port pair")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory):
    if os.environ.get("ZHONGSHU_TEST_BROKER"):
        yield os.environ["ZHONGSHU_TEST_BROKER"]
        return
    from zhongshu.localkafka import LocalKafka, ensure_kafka_jars

    ensure_kafka_jars()
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"), port=free_port_pair())
    broker.format()
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    if os.environ.get("ZHONGSHU_TEST_DATABASE_URL"):
        yield None
        return
    from zhongshu.localpg import LocalPostgres

    import shutil

    data = Path(f"/tmp/zhongshu-test-pg-{os.getpid()}")
    pg = LocalPostgres(data, port=free_port())
    pg.init()
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty PostgreSQL database for one test."""
    if pg_server is None:
        return os.environ["ZHONGSHU_TEST_DATABASE_URL"]
    return pg_server.create_database(f"t_{uuid.uuid4().hex[:10]}")


class RunningHub:
    def __init__(self, proc, url: str, cwd: Path, env: dict, bootstrap: str, db_url: str):
        self.proc, self.url, self.cwd, self.env = proc, url, cwd, env
        self.bootstrap, self.db_url = bootstrap, db_url
        self._admin_key = None

    def cli(self, *args: str, check=True) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "zhongshu.cli", *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=120, check=check)

    def key(self, role: str = "admin", region: str | None = None) -> str:
        args = ["keys", "create", "--role", role] + (["--region", region] if region else [])
        return self.cli(*args).stdout.strip()

    @property
    def admin(self) -> httpx.Client:
        if self._admin_key is None:
            self._admin_key = self.key("admin")
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self._admin_key}"}, timeout=60)

    def sync(self, client: httpx.Client | None = None, timeout: float = 60):
        c = client or self.admin
        r = c.get("/api/v1/sync", params={"timeout": timeout}, timeout=timeout + 10)
        assert r.status_code == 200, r.text
        return r.json()

    def log(self, name: str) -> str:
        p = self.cwd / "var" / "logs" / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""


def start_workers_at_log_end(bootstrap: str, app_id: str) -> None:
    """Commit the log ends as the starting offsets of a new worker group, so a test hub's
    stream workers begin with the records the test writes instead of replaying every earlier
    test's records from the shared broker (the projector still reads from offset zero)."""
    from kafka import KafkaConsumer
    from kafka.structs import OffsetAndMetadata, TopicPartition

    from projections.routes.ops import WORKER_TOPICS
    from streams.topics import create_topics

    create_topics(bootstrap, 4)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=app_id, enable_auto_commit=False)
    try:
        tps = [TopicPartition(t, p) for t in WORKER_TOPICS for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = consumer.end_offsets(tps)
        consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()})
    finally:
        consumer.close()


def start_hub(tmp_path: Path, env_extra: dict, args=(), wait: float = 180, from_log_end: bool = False) -> RunningHub:
    if from_log_end:
        start_workers_at_log_end(env_extra["ZHONGSHU_BROKER"], env_extra["ZHONGSHU_APP_ID"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHONGSHU_")}
    env.update(env_extra)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "zhongshu.cli", "up", "--api-port", str(port), *args],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    seen = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if line.strip() == url:
            return RunningHub(proc, url, tmp_path, env, env_extra.get("ZHONGSHU_BROKER", ""),
                              env_extra.get("ZHONGSHU_DATABASE_URL", ""))
    proc.kill()
    raise RuntimeError("zhongshu up did not print its URL:\n" + "".join(seen))


def stop_hub(hub: RunningHub, timeout: float = 60) -> int:
    hub.proc.send_signal(signal.SIGTERM)
    try:
        out, _ = hub.proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(hub.proc.pid, signal.SIGKILL)
        raise
    return hub.proc.returncode


@pytest.fixture
def hub(tmp_path, kafka_bootstrap, pg_url):
    """`zhongshu up` against the test broker and a fresh PostgreSQL database, own consumer group."""
    h = start_hub(tmp_path, {
        "ZHONGSHU_BROKER": kafka_bootstrap,
        "ZHONGSHU_DATABASE_URL": pg_url,
        "ZHONGSHU_APP_ID": f"zhongshu-test-{uuid.uuid4().hex[:8]}",
        "ZHONGSHU_TOKEN_SECRET": "test-secret-" + uuid.uuid4().hex,
    }, from_log_end=True)
    try:
        yield h
    finally:
        stop_hub(h)
