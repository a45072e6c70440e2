"""The local runtime parts: a real Apache Kafka broker and a throwaway PostgreSQL.

Each test starts its own instance on free loopback ports under pytest's tmp dir and
stops it at the end, so these tests do not depend on (or disturb) the brokers that
tests/conftest.py may run for the rest of the suite.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

import pytest

from zhongshu.localkafka import LocalKafka, ensure_kafka_jars
from zhongshu.localpg import LocalPostgres

pytestmark = pytest.mark.integration


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _produce(bootstrap: str, topic: str, value: bytes) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, key=b"k", value=value).get(timeout=30)
        producer.flush()
    finally:
        producer.close()


def _consume_all(bootstrap: str, topic: str, want: int, timeout: float = 30) -> list[bytes]:
    """Read partition 0 of topic from the beginning until `want` records or timeout."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(r.value for r in records)
        return got
    finally:
        consumer.close()


def test_local_kafka_produce_consume_restart(tmp_path):
    from kafka.admin import KafkaAdminClient, NewTopic

    ensure_kafka_jars()
    port, cport = free_ports(2)
    data = tmp_path / "kafka"
    kafka = LocalKafka(data, port=port, controller_port=cport)
    assert kafka.bootstrap == f"127.0.0.1:{port}"
    try:
        kafka.format()
        kafka.format()  # idempotent
        cluster_id = (data / "cluster.id").read_text().strip()
        assert (data / "server.properties").is_file()

        t0 = time.monotonic()
        kafka.start()
        first_start = time.monotonic() - t0
        assert kafka.is_running()
        assert kafka.is_ready()
        assert (data / "kafka.pid").read_text().strip() == str(kafka.pid())
        kafka.start()  # already running: returns at once

        topic = "zs-local-runtime-" + uuid.uuid4().hex[:8]
        admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
        try:
            admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        finally:
            admin.close()
        _produce(kafka.bootstrap, topic, b"hello zhongshu")
        assert _consume_all(kafka.bootstrap, topic, want=1) == [b"hello zhongshu"]

        t0 = time.monotonic()
        kafka.stop()
        stop_time = time.monotonic() - t0
        assert not kafka.is_running()
        assert not (data / "kafka.pid").exists()
        kafka.stop()  # idempotent

        # restart from another handle (as the CLI would): the record survived, the
        # storage was not re-formatted
        again = LocalKafka(data, port=port, controller_port=cport)
        t0 = time.monotonic()
        again.start()
        restart = time.monotonic() - t0
        assert (data / "cluster.id").read_text().strip() == cluster_id
        assert _consume_all(again.bootstrap, topic, want=1) == [b"hello zhongshu"]

        # a third handle that did not start it stops it through the pid file
        pid = again.pid()
        LocalKafka(data, port=port, controller_port=cport).stop()
        assert not again.is_running()
        assert pid is not None and not _alive(pid)
        print(
            f"\nlocal kafka: first start {first_start:.1f}s, stop {stop_time:.1f}s, "
            f"restart {restart:.1f}s"
        )
    finally:
        LocalKafka(data, port=port, controller_port=cport).stop()
        kafka.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_local_kafka_start_failure_reports_log_tail(tmp_path):
    """A broker that cannot start (port taken) fails fast with a clear message."""
    ensure_kafka_jars()
    port, cport = free_ports(2)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen(1)
    try:
        kafka = LocalKafka(tmp_path / "kafka", port=port, controller_port=cport)
        with pytest.raises(RuntimeError, match="already in use"):
            kafka.start(wait=30)
        assert not kafka.is_running()
    finally:
        blocker.close()


def test_local_kafka_dying_broker_reports_log_tail(tmp_path):
    """A JVM that exits during startup is reported at once, with the tail of kafka.out."""
    ensure_kafka_jars()
    port, cport = free_ports(2)
    kafka = LocalKafka(tmp_path / "kafka", port=port, controller_port=cport, heap="1k")
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="exited during startup") as err:
        kafka.start(wait=60)
    assert time.monotonic() - t0 < 30
    assert "heap" in str(err.value).lower()
    assert not kafka.is_running()
    assert not (tmp_path / "kafka" / "kafka.pid").exists()


def test_local_postgres_select_1(tmp_path):
    import psycopg

    (port,) = free_ports(1)
    pg = LocalPostgres(tmp_path / "pg", port=port)
    assert pg.url == f"postgresql+psycopg://zhongshu:zhongshu@127.0.0.1:{port}/zhongshu"
    try:
        pg.init()
        pg.init()  # idempotent
        t0 = time.monotonic()
        pg.start()
        started = time.monotonic() - t0
        pg.start()  # idempotent
        assert pg.is_running()

        with psycopg.connect(pg.dsn, connect_timeout=10) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            assert conn.execute("select current_user, current_database()").fetchone() == (
                "zhongshu",
                "zhongshu",
            )
            assert conn.execute("show fsync").fetchone() == ("off",)
            assert conn.execute("show max_connections").fetchone() == ("200",)

        # password auth over TCP is really enforced
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(
                f"postgresql://zhongshu:wrong@127.0.0.1:{port}/zhongshu", connect_timeout=10
            )

        url = pg.create_database("zs_scratch")
        assert url.endswith(f"@127.0.0.1:{port}/zs_scratch")
        libpq = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(libpq, connect_timeout=10) as conn:
            conn.execute("create table t (x int)")
            conn.commit()
        pg.create_database("zs_scratch")  # dropped and created empty again
        with psycopg.connect(libpq, connect_timeout=10) as conn:
            assert conn.execute("select to_regclass('public.t')").fetchone() == (None,)

        pg.stop()
        assert not pg.is_running()
        pg.stop()  # idempotent
        print(f"\nlocal postgres: start {started:.1f}s")
    finally:
        pg.stop()
