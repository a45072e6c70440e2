"""`zhongshu pull` against a real, misbehaving HTTP source, on the real broker + PostgreSQL.

The source is a stdlib HTTP server on a free loopback port serving cursor pages; a fault
script makes chosen requests answer 500, answer after the client's timeout, drop the
connection mid-body, or hang until the test kills the connector. Every assertion about
"exactly once" reads the topic itself and counts by ce_id.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from connectors import kafka as kafka_edge
from connectors.privacy import Tokeniser
from connectors.pull import PullConfig, PullConnector
from connectors.pull_models import ensure_tables
from connectors.uscc import make_uscc
from projections.db import make_engine
from schemas.codec import Codec, header_dict

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------- the source

class Source:
    """Pages of records at cursors None, "p1", "p2", …; `faults[(page, nth request)]` misbehaves."""

    def __init__(self, pages: list[list], slow_seconds: float = 2.5):
        self.pages = pages
        self.faults: dict[tuple[int, int], str] = {}
        self.requests: list[tuple[str | None, str]] = []
        self.counts: Counter = Counter()
        self.slow_seconds = slow_seconds
        self.hang_reached = threading.Event()
        self.release_hang = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/workorders"

    def page_body(self, index: int) -> bytes:
        nxt = f"p{index + 1}" if index + 1 < len(self.pages) else None
        return json.dumps({"data": {"items": self.pages[index]}, "meta": {"next": nxt}},
                          ensure_ascii=False).encode("utf-8")

    def _handler(self):
        source = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = parse_qs(urlparse(self.path).query)
                cursor = query.get("after", [None])[0]
                index = 0 if cursor is None else int(cursor[1:])
                with source.lock:
                    source.counts[index] += 1
                    fault = source.faults.get((index, source.counts[index]), "ok")
                    source.requests.append((cursor, fault))
                body = source.page_body(index)
                try:
                    if fault == "500":
                        self.send_response(500)
                        self.send_header("Content-Length", "5")
                        self.end_headers()
                        self.wfile.write(b"oops!")
                        return
                    if fault == "slow":
                        time.sleep(source.slow_seconds)  # the client has given up by now
                    if fault == "hang":
                        source.hang_reached.set()
                        source.release_hang.wait(60)
                    if fault == "drop":  # promise the whole body, send half, close
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    if fault == "cut":  # no length: the body ends where the connection does
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.end_headers()
                        self.wfile.write(body[: len(body) // 3])
                        self.close_connection = True
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release_hang.set()
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- records

def new_uscc() -> str:
    return make_uscc("91330203MA2A" + uuid.uuid4().hex[:5].upper().replace("I", "1").replace("O", "0"))


def wrong_check_character(uscc: str) -> str:
    return uscc[:-1] + ("1" if uscc[-1] != "1" else "2")


def work_order(run: str, n: int, **over) -> dict:
    rec = {
        "source_event_id": f"pull-{run}-{n}",
        "order_id": f"GD-{run}-{n}",
        "received_at": "2026-05-06T09:30:00+08:00",
        "channel": "网站",
        "category": "投诉",
        "topic": "重复检查",
        "content": f"第{n}件：一个月内多次到店检查。",
        "subject": {"name": f"某某餐饮有限公司{n}", "uscc": new_uscc()},
        "region_code": "330203",
        "complainant": {"name": "李四", "phone": "13905740000"},
        "status": "受理",
    }
    rec.update(over)
    return rec


def read_topic(bootstrap: str, topic: str, match, timeout: float = 60) -> list:
    """Every message of `topic` (up to its current end) whose headers satisfy `match`."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        found = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for batch in consumer.poll(timeout_ms=1000).values():
                found.extend(m for m in batch if match(header_dict(m.headers)))
        return found
    finally:
        consumer.close()


def ce_id_counts(bootstrap: str, prefix: str) -> Counter:
    msgs = read_topic(bootstrap, "hotline.workorders", lambda h: h.get("ce_id", "").startswith(prefix))
    return Counter(header_dict(m.headers)["ce_id"] for m in msgs)


def dead_letters(bootstrap: str, stage: str) -> list[dict]:
    codec = Codec()
    msgs = read_topic(bootstrap, "hub.deadletter", lambda h: h.get("ce_source", "") == f"/zhongshu/{stage}")
    out = []
    for m in msgs:
        name, value = codec.decode(m.value)
        assert name == "DeadLetter" and value["stage"] == stage
        out.append({**value, "message_key": m.key})
    return out


def stored_cursor(db_url: str, name: str):
    engine = make_engine(db_url)
    try:
        with engine.connect() as c:
            return c.execute(text("SELECT cursor, pages, accepted, duplicates, rejected FROM pull_cursors "
                                  "WHERE name = :n"), {"n": name}).one_or_none()
    finally:
        engine.dispose()


def pull_argv(name: str, source: Source, *extra: str) -> list[str]:
    return ["pull", "--name", name, "--url", source.url, "--kind", "workorder", "--cursor-param", "after",
            "--items-path", "data.items", "--next-path", "meta.next", "--timeout", "1", "--backoff", "0.05",
            "--backoff-max", "0.3", "--max-attempts", "5", "--interval", "0.5", *extra]


# ---------------------------------------------------------------- tests

def test_pull_survives_500s_timeouts_dropped_connections_and_a_kill_then_resumes_exactly_once(hub):
    run = uuid.uuid4().hex[:8]
    name = f"hotline-{run}"
    dup = work_order(run, 2)
    wrong = wrong_check_character(new_uscc())
    bad_uscc = work_order(run, 90, subject={"name": "坏代码公司", "uscc": wrong})
    naive_time = work_order(run, 91, received_at="2026-05-06 09:30:00")
    pages = [
        [work_order(run, 0), work_order(run, 1), dup],
        [work_order(run, 3), bad_uscc, work_order(run, 4)],
        [work_order(run, 5), dup, work_order(run, 6)],            # the same record again, on a later page
        [work_order(run, 7), work_order(run, 8)],
        [naive_time, work_order(run, 9), work_order(run, 10)],
        [work_order(run, 11)],
    ]
    valid = {f"pull-{run}-{n}" for n in range(12)}
    with Source(pages) as source:
        source.faults.update({
            (0, 1): "500",                 # the very first request fails
            (1, 1): "slow", (1, 2): "500",  # beyond the 1 s client timeout, then a 500
            (2, 1): "drop",                # Content-Length promised, half the body, closed
            (3, 1): "hang",                # the connector is killed while waiting for this page
            (4, 1): "cut", (4, 2): "500",  # body cut off without a length (not JSON), then a 500
        })
        proc = subprocess.Popen([sys.executable, "-m", "zhongshu.cli", *pull_argv(name, source, "--once")],
                                cwd=hub.cwd, env=hub.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            assert source.hang_reached.wait(90), proc.stderr.read() if proc.poll() is not None else "no hang"
            os.killpg(proc.pid, signal.SIGKILL)  # a crash, not a clean stop
            proc.wait(10)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        source.release_hang.set()

        # three pages were finished before the kill: the cursor points at the fourth
        row = stored_cursor(hub.db_url, name)
        assert row is not None and row.cursor == "p3" and row.pages == 3, row
        assert row.accepted == 7 and row.duplicates == 1 and row.rejected == 1, row
        before_restart = len(source.requests)

        done = hub.cli(*pull_argv(name, source, "--once", "--json"), check=False)
        assert done.returncode == 0, done.stderr
        stats = json.loads(done.stdout.strip().splitlines()[-1])
        assert stats["ok"] and stats["accepted"] == 5 and stats["rejected"] == 1, stats
        assert stats["failures"] == 2  # the cut body and the 500 on page 4

        resumed = [cursor for cursor, _fault in source.requests[before_restart:]]
        assert resumed[0] == "p3", resumed  # not from the beginning
        assert None not in resumed and "p1" not in resumed and "p2" not in resumed
        faults_seen = {fault for _c, fault in source.requests}
        assert {"500", "slow", "drop", "hang", "cut"} <= faults_seen

    counts = ce_id_counts(hub.bootstrap, f"pull-{run}-")
    assert set(counts) == valid, sorted(set(counts) ^ valid)
    assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n != 1}

    letters = dead_letters(hub.bootstrap, f"pull:{name}")
    by_sid = {json.loads(d["original"])["source_event_id"]: d for d in letters}
    assert sorted(by_sid) == sorted([bad_uscc["source_event_id"], naive_time["source_event_id"]])
    assert len(letters) == 2
    bad = by_sid[bad_uscc["source_event_id"]]
    assert bad["topic"] == "hotline.workorders" and bad["partition"] == -1 and bad["offset"] == -1
    assert "subject.uscc" in bad["reason"] and "check character" in bad["reason"]
    assert bad["key"] == wrong.encode() and bad["message_key"] == wrong.encode()
    assert "received_at" in by_sid[naive_time["source_event_id"]]["reason"]
    for d in letters:  # complainant identity never in clear on Kafka
        assert "13905740000" not in d["original"].decode() and "李四" not in d["original"].decode()
        assert json.loads(d["original"])["complainant"]["phone"].startswith("tk_")

    final = stored_cursor(hub.db_url, name)
    assert final.cursor == "p5" and final.pages == 6 and final.accepted == 12 and final.rejected == 2


def test_pulled_records_reach_the_projections(hub):
    run = uuid.uuid4().hex[:8]
    rec = work_order(run, 0)
    with Source([[rec]]) as source:
        done = hub.cli(*pull_argv(f"proj-{run}", source, "--once"), check=False)
        assert done.returncode == 0, done.stderr
    hub.sync()
    staff = hub.admin
    r = staff.get(f"/api/v1/enterprises/{rec['subject']['uscc']}")
    assert r.status_code == 200, r.text
    assert [c["order_id"] for c in r.json()["complaints"]] == [rec["order_id"]]


def test_once_gives_up_after_max_attempts_keeping_the_cursor(hub):
    run = uuid.uuid4().hex[:8]
    name = f"down-{run}"
    with Source([[work_order(run, 0)], [work_order(run, 1)]]) as source:
        source.faults.update({(1, n): "500" for n in range(1, 10)})
        done = hub.cli(*pull_argv(name, source, "--once", "--max-attempts", "3"), check=False)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "giving up" in done.stderr and "HTTP 500" in done.stderr
        assert source.counts[1] == 3
    assert stored_cursor(hub.db_url, name).cursor == "p1"
    assert set(ce_id_counts(hub.bootstrap, f"pull-{run}-")) == {f"pull-{run}-0"}


def test_up_runs_the_configured_pull_tables(tmp_path, kafka_bootstrap, pg_url):
    from tests.conftest import start_hub, stop_hub

    run = uuid.uuid4().hex[:8]
    first, second = work_order(run, 0), work_order(run, 1)
    with Source([[first], [second]]) as source:
        source.faults[(1, 1)] = "500"
        (tmp_path / "zhongshu.toml").write_text(f"""
[pull.auto-{run}]
url = "{source.url}"
kind = "workorder"
cursor_param = "after"
items_path = "data.items"
next_path = "meta.next"
interval = 0.5
backoff_initial = 0.05

[pull.manual-{run}]
url = "{source.url}"
kind = "workorder"
autostart = false
""", encoding="utf-8")
        hub = start_hub(tmp_path, {
            "ZHONGSHU_BROKER": kafka_bootstrap, "ZHONGSHU_DATABASE_URL": pg_url,
            "ZHONGSHU_APP_ID": f"zhongshu-test-{run}", "ZHONGSHU_TOKEN_SECRET": "test-secret-" + run})
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                row = stored_cursor(pg_url, f"auto-{run}")
                if row is not None and row.accepted == 2:
                    break
                time.sleep(0.5)
            assert row is not None and row.accepted == 2 and row.cursor == "p1", hub.log("pull")
            assert stored_cursor(pg_url, f"manual-{run}") is None  # autostart = false
        finally:
            assert stop_hub(hub) == 0
    assert ce_id_counts(kafka_bootstrap, f"pull-{run}-") == Counter({f"pull-{run}-0": 1, f"pull-{run}-1": 1})


def test_a_configuration_error_is_a_usage_error(hub):
    done = hub.cli("pull", "--name", "x", "--kind", "workorder", check=False)
    assert done.returncode == 2 and "url is required" in done.stderr
    done = hub.cli("pull", "--name", "x", "--url", "ftp://nowhere", "--kind", "workorder", check=False)
    assert done.returncode == 2 and "http:// or https://" in done.stderr


# ---------------------------------------------------------------- in process: long-running behaviour

class Parts:
    """The connector's collaborators built on the running hub's broker and database."""

    def __init__(self, hub):
        self.engine = make_engine(hub.db_url)
        ensure_tables(self.engine)  # what `zhongshu pull` does at start
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        self.producer = kafka_edge.producer(hub.bootstrap)
        self.codec = Codec()
        self.tokenise = Tokeniser(hub.env["ZHONGSHU_TOKEN_SECRET"].encode())

    def connector(self, config: PullConfig, cls=PullConnector) -> PullConnector:
        return cls(config, session_factory=self.session_factory, producer=self.producer, codec=self.codec,
                   tokenise=self.tokenise)


def config(name: str, source: Source, **over) -> PullConfig:
    values = dict(name=name, url=source.url, kind="workorder", cursor_param="after", items_path="data.items",
                  next_path="meta.next", timeout=1.0, backoff_initial=0.02, backoff_max=0.1, max_attempts=3,
                  interval=0.3)
    values.update(over)
    return PullConfig(**values)


async def test_after_giving_up_the_connector_keeps_polling_and_rereads_the_last_page_without_doubling(hub):
    run = uuid.uuid4().hex[:8]
    bad = work_order(run, 9, channel="传真")
    pages = [[work_order(run, 0)], [work_order(run, 1), bad]]
    parts = Parts(hub)
    await parts.producer.start()
    try:
        with Source(pages) as source:
            # page 1 fails 5 times: more than max_attempts (3), so one round is given up
            source.faults.update({(1, n): "500" for n in range(1, 6)})
            conn = parts.connector(config(f"steady-{run}", source))
            stop = asyncio.Event()
            task = asyncio.create_task(conn.run(stop=stop))
            deadline = time.monotonic() + 60
            # wait until the last page (no next cursor) has been read again a few times
            while source.counts[1] < 9 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            stop.set()
            assert await asyncio.wait_for(task, 30) is True
        assert conn.stats.gave_up == 1 and conn.stats.failures == 5
        assert conn.stats.rejected == 1 and conn.stats.accepted == 2 and conn.stats.duplicates >= 2
    finally:
        await parts.producer.stop()
        parts.engine.dispose()
    counts = ce_id_counts(hub.bootstrap, f"pull-{run}-")
    assert counts == Counter({f"pull-{run}-0": 1, f"pull-{run}-1": 1})
    letters = dead_letters(hub.bootstrap, f"pull:steady-{run}")
    assert len(letters) == 1 and "channel" in letters[0]["reason"]  # re-read pages dead-letter nothing twice


async def test_a_crash_between_append_and_cursor_commit_rereads_the_page_without_doubling(hub):
    run = uuid.uuid4().hex[:8]
    pages = [[work_order(run, 0), work_order(run, 1)], [work_order(run, 2), work_order(run, 3)], [work_order(run, 4)]]

    class Crash(Exception):
        pass

    class CrashOnSecondCommit(PullConnector):
        commits = 0

        def commit_cursor(self, *args):
            type(self).commits += 1
            if type(self).commits == 2:
                raise Crash("power cut after the page was appended")
            super().commit_cursor(*args)

    parts = Parts(hub)
    await parts.producer.start()
    try:
        with Source(pages) as source:
            cfg = config(f"crash-{run}", source)
            first = parts.connector(cfg, CrashOnSecondCommit)
            with pytest.raises(Crash):
                await first.run(once=True)
            assert stored_cursor(hub.db_url, cfg.name).cursor == "p1"
            again = parts.connector(cfg)
            assert await again.run(once=True) is True
            assert [c for c, _ in source.requests] == [None, "p1", "p1", "p2"]
        assert again.stats.duplicates == 2 and again.stats.accepted == 1
    finally:
        await parts.producer.stop()
        parts.engine.dispose()
    counts = ce_id_counts(hub.bootstrap, f"pull-{run}-")
    assert counts == Counter({f"pull-{run}-{n}": 1 for n in range(5)})
