"""Credit-trigger webhooks on real parts: Kafka, PostgreSQL, the projector, the API, the
`zhongshu webhooks run` delivery process, and a real HTTP receiver on loopback that fails,
answers late and is restarted mid-run.

Triggers are produced straight onto credit.repair-triggers (as the stream workers do); an
in-process projector with the webhook wrapper installed (connectors.webhooks.install) projects
them and fills the outbox in the same transaction; the API runs in-process on uvicorn.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors import webhooks as wh
from connectors.webhook_models import WebhookAttempt, WebhookOutbox, ensure_tables
from schemas.codec import CE_TYPES, Codec, cloudevent_headers

from ..conftest import REPO, free_port

pytestmark = pytest.mark.integration

SECRET = "whsec-" + "k" * 24
TRIGGER_TOPIC, CREDIT_TOPIC = "credit.repair-triggers", "credit.events"
CODES = wh.TRIGGER_CODES


# ---------------------------------------------------------------- the receiver (credit platform stand-in)

class Receiver:
    """A webhook endpoint that checks every signature itself and applies each trigger's effect
    at most once, deduplicating by Idempotency-Key, as a correct receiver must.

    mode "chaos": per (key, arrival number), seeded: 20% answer 500 before the effect, 10%
    apply the effect and then answer 500 (crash after commit), 10% apply it and answer only
    after the client's timeout; the rest apply it and answer 200.
    """

    def __init__(self, secret: str, seed: int = 5, slow_seconds: float = 1.6):
        self.secret, self.seed, self.slow_seconds = secret.encode(), seed, slow_seconds
        self.port = free_port()
        self.mode = "ok"
        self.lock = threading.Lock()
        self.arrivals: Counter = Counter()      # Idempotency-Key -> requests received
        self.applied: Counter = Counter()       # Idempotency-Key -> times the effect ran (must stay 1)
        self.effects: dict[str, dict] = {}      # Idempotency-Key -> the trigger as processed
        self.redundant = 0                      # requests for a key whose effect had already run
        self.injected: Counter = Counter()
        self.bad_signatures = 0
        self.requests: list[dict] = []
        self.server = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/credit"

    def _verify(self, headers, body: bytes) -> bool:
        # independent of connectors.webhooks.sign: what a receiver written from the docs does
        ts = headers.get("X-Zhongshu-Timestamp", "")
        expected = "sha256=" + hmac.new(self.secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
        return fresh and hmac.compare_digest(expected, headers.get("X-Zhongshu-Signature", ""))

    def _apply(self, key: str, trigger: dict):
        with self.lock:
            if key in self.effects:
                self.redundant += 1
                return
            self.effects[key] = trigger
            self.applied[key] += 1

    def _handle(self, h: BaseHTTPRequestHandler):
        body = h.rfile.read(int(h.headers.get("Content-Length", 0)))
        if not self._verify(h.headers, body):
            with self.lock:
                self.bad_signatures += 1
            return 401
        key = h.headers["Idempotency-Key"]
        trigger = json.loads(body)
        with self.lock:
            self.arrivals[key] += 1
            n = self.arrivals[key]
            self.requests.append({"key": key, "delivery": h.headers.get("X-Zhongshu-Delivery"),
                                  "content_type": h.headers.get("Content-Type"), "body": body.decode()})
        if self.mode == "fail":
            self.injected["fail"] += 1
            return 503
        draw = random.Random(f"{self.seed}:{key}:{n}").random() if self.mode == "chaos" else 1.0
        if draw < 0.2:
            self.injected["fail"] += 1
            return 500
        self._apply(key, trigger)
        if draw < 0.3:
            self.injected["fail_after_effect"] += 1
            return 500
        if draw < 0.4:
            self.injected["slow"] += 1
            time.sleep(self.slow_seconds)
        return 200

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                status = receiver._handle(self)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the client gave up (timeout) before the late answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def restart_after(self, arrivals: int, down_seconds: float):
        """Stop once `arrivals` requests came in, stay down, start again on the same port."""
        def run():
            while sum(self.arrivals.values()) < arrivals:
                time.sleep(0.02)
            self.stop()
            time.sleep(down_seconds)
            self.start()
            self.restarts += 1

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t


# ---------------------------------------------------------------- the hub parts

def make_trigger(code: str, uscc: str) -> dict:
    n = uuid.uuid4().hex
    decision_no = f"甬海市监罚〔2026〕{int(n[:6], 16) % 10000}号"
    return {
        "trigger_id": "CR-" + n[:24], "code": code, "uscc": uscc, "decision_no": decision_no, "tier": "一般",
        "decided_at": "2026-01-05T10:00:00+08:00", "min_until": "2026-04-04", "max_until": "2027-01-04",
        "eligible_from": "2026-04-05" if code == "CR_REPAIR_ELIGIBLE" else None,
        "reasons": ["一般失信信息最短公示期三个月（令第36号第十二条）", "已履行行政处罚决定并完成整改"],
        "evidence": [{"topic": "enforcement.cases", "partition": 1, "offset": 4242, "ce_id": f"case-{n[:8]}-decided",
                      "action_code": None, "summary": f"作出行政处罚决定 {decision_no}"}],
        "detected_at": "2026-04-05T00:00:00+08:00",
    }


def uscc_in(region: str = "330203") -> str:
    from connectors.uscc import make_uscc

    return make_uscc(f"91{region}MA2" + uuid.uuid4().hex[:6].upper().replace("I", "1").replace("O", "0"))


class Stack:
    def __init__(self, tmp_path: Path, bootstrap: str, db_url: str):
        self.tmp, self.bootstrap, self.db_url = tmp_path, bootstrap, db_url
        self.codec = Codec()
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        self.dispatchers: list[subprocess.Popen] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ZHONGSHU_")}
        self.env.update({"PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                         "ZHONGSHU_DATABASE_URL": db_url, "ZHONGSHU_BROKER": bootstrap,
                         "ZHONGSHU_HOME": str(tmp_path / "var"), "ZHONGSHU_TOKEN_SECRET": "t-" + uuid.uuid4().hex})

    # -- kafka

    def end_offsets(self, topics) -> dict[TopicPartition, int]:
        c = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            tps = [TopicPartition(t, p) for t in topics for p in sorted(c.partitions_for_topic(t) or ())]
            return c.end_offsets(tps)
        finally:
            c.close()

    def produce(self, triggers: list[dict]):
        for t in triggers:
            self.producer.send(TRIGGER_TOPIC, key=t["uscc"].encode(), value=self.codec.encode("CreditTrigger", t),
                               headers=cloudevent_headers(ce_id=t["trigger_id"], source="/zhongshu/streams",
                                                          type=CE_TYPES[TRIGGER_TOPIC], time=t["detected_at"],
                                                          subject=t["uscc"]))
        self.producer.flush()

    def projected(self, timeout: float = 60):
        """Wait until the projector has read the log ends as of now."""
        ends = self.end_offsets((TRIGGER_TOPIC, CREDIT_TOPIC))
        from projections.projector import load_offsets

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stored = load_offsets(self.projector.Session)
            if all(stored.get((tp.topic, tp.partition), 0) >= end for tp, end in ends.items()):
                return
            time.sleep(0.1)
        raise AssertionError("the projector did not catch up")

    # -- database

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def deliveries(self) -> list[WebhookOutbox]:
        with self.session() as s:
            return list(s.execute(select(WebhookOutbox)).scalars())

    def wait_states(self, trigger_ids, state: str, timeout: float = 120) -> float:
        start = time.monotonic()
        ids = set(trigger_ids)
        while time.monotonic() - start < timeout:
            got = {d.trigger_id: d.state for d in self.deliveries() if d.trigger_id in ids}
            if len(got) == len(ids) and set(got.values()) == {state}:
                return time.monotonic() - start
            time.sleep(0.1)
        raise AssertionError(f"not all {state} after {timeout}s: {Counter(got.values())}")

    def key(self, role: str) -> str:
        from projections.auth import create_key

        with self.session() as s, s.begin():
            return create_key(s, role)

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers={"Authorization": f"Bearer {self.key(role)}"}, timeout=30)

    # -- processes

    def cli(self, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "zhongshu.cli", *args], cwd=self.tmp, env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=120)

    def start_dispatcher(self, **config):
        env = {**self.env, **{f"ZHONGSHU_WEBHOOKS_{k.upper()}": str(v) for k, v in config.items()}}
        log = open(self.tmp / f"webhooks-{len(self.dispatchers)}.log", "ab")
        self.dispatchers.append(subprocess.Popen([sys.executable, "-m", "zhongshu.cli", "webhooks", "run"],
                                                 cwd=self.tmp, env=env, stdout=log, stderr=subprocess.STDOUT))
        log.close()

    def start(self):
        import uvicorn

        from projections import projector as projector_module
        from projections.api import create_app
        from projections.db import make_engine
        from projections.models import ProjectorOffset
        from projections.schema import ensure_schema
        from streams.topics import create_topics
        from zhongshu.config import Settings

        create_topics(self.bootstrap, 4)
        self.engine = make_engine(self.db_url)
        ensure_schema(self.engine)
        ensure_tables(self.engine)
        # the topics are shared with other tests: this hub's projector starts at today's log ends
        with self.session() as s, s.begin():
            for tp, end in self.end_offsets((TRIGGER_TOPIC, CREDIT_TOPIC)).items():
                s.add(ProjectorOffset(topic=tp.topic, partition=tp.partition, next_offset=end))
        self.projector = projector_module.Projector(self.engine, self.bootstrap, topics=(TRIGGER_TOPIC, CREDIT_TOPIC))
        self.projector_thread = threading.Thread(target=self.projector.run, daemon=True)
        self.projector_thread.start()

        settings = Settings(home=self.tmp / "var", broker=self.bootstrap, database_url=self.db_url,
                            token_secret=self.env["ZHONGSHU_TOKEN_SECRET"], app_id=f"wh-{uuid.uuid4().hex[:8]}",
                            log_level="WARNING")
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        self.api = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                                 log_level="warning", access_log=False))
        threading.Thread(target=self.api.run, daemon=True).start()
        deadline = time.monotonic() + 60
        while not self.api.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.05)

    def stop(self):
        for p in self.dispatchers:
            p.terminate()
        for p in self.dispatchers:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        self.api.should_exit = True
        self.projector.stopping.set()
        self.projector_thread.join(10)
        self.producer.close()
        self.engine.dispose()

    def dispatcher_logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("webhooks-*.log")))


@pytest.fixture
def stack(tmp_path, kafka_bootstrap, pg_url, monkeypatch):
    from projections import projector as projector_module

    # the projector's handlers with the webhook wrapper, for this process only
    monkeypatch.setattr(projector_module, "HANDLERS", wh.install(dict(projector_module.HANDLERS)))
    st = Stack(tmp_path, kafka_bootstrap, pg_url)
    st.start()
    try:
        yield st
    finally:
        st.stop()


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    r.start()
    yield r
    r.stop()


def add_subscriber(stack: Stack, receiver: Receiver, sid: str, **extra) -> dict:
    admin = stack.client("admin")
    r = admin.post("/api/v1/webhooks/subscribers",
                   json={"subscriber_id": sid, "url": receiver.url, "secret": SECRET, **extra})
    assert r.status_code == 201, r.text
    return r.json()


# ---------------------------------------------------------------- tests

def test_every_trigger_reaches_a_flaky_restarting_receiver_with_one_effect_each(stack, receiver, capsys):
    n = 60
    add_subscriber(stack, receiver, "credit-platform")
    receiver.mode = "chaos"
    # two delivery processes share the outbox (SKIP LOCKED); 1 s timeout, 0.2 s … 2 s backoff
    for _ in range(2):
        stack.start_dispatcher(timeout=1.0, backoff_base=0.2, backoff_cap=2.0, max_attempts=20,
                               poll_interval=0.2, concurrency=6)
    restart = receiver.restart_after(arrivals=n // 2, down_seconds=2.0)
    triggers = [make_trigger(CODES[i % 4], uscc_in()) for i in range(n)]
    ids = [t["trigger_id"] for t in triggers]

    started = time.monotonic()
    stack.produce(triggers)
    stack.wait_states(ids, "delivered", timeout=180)
    drained = time.monotonic() - started
    restart.join(5)
    assert receiver.restarts == 1

    # every trigger reached the receiver and took effect exactly once, whatever arrived twice
    assert set(receiver.effects) == set(ids)
    assert set(receiver.applied.values()) == {1}
    assert receiver.bad_signatures == 0
    duplicates = sum(receiver.arrivals.values()) - n
    assert receiver.redundant >= 1 and duplicates >= receiver.redundant
    assert receiver.injected["fail"] >= 1 and receiver.injected["slow"] >= 1

    by_id = {t["trigger_id"]: t for t in triggers}
    for req in receiver.requests:
        body = json.loads(req["body"])
        assert body["trigger_id"] == req["key"]
        assert req["delivery"] == wh.delivery_id_for("credit-platform", req["key"])
        assert req["content_type"] == "application/json"
        # only the trigger's own fields: never complainant data
        assert list(body) == list(wh.TRIGGER_FIELDS) and "complainant" not in req["body"]
        assert body == by_id[req["key"]]

    with stack.session() as s:
        attempts = list(s.execute(select(WebhookAttempt).order_by(WebhookAttempt.attempt_id)).scalars())
    failures = [a for a in attempts if a.error]
    timeouts = [a for a in failures if a.error.startswith("timeout")]
    http_errors = [a for a in failures if a.status_code]
    refused = [a for a in failures if not a.status_code and not a.error.startswith("timeout")]
    assert len(attempts) - len(failures) == n
    # every 500 in the log is one the receiver injected, every late answer a logged timeout, and
    # every request the receiver saw is in the log (the rest hit the restart: connection errors)
    assert len(http_errors) == receiver.injected["fail"] + receiver.injected["fail_after_effect"]
    assert len(timeouts) >= receiver.injected["slow"] >= 1
    assert sum(receiver.arrivals.values()) <= len(attempts) - len(refused)
    # the two processes never had the same delivery in flight at once
    spans: dict[str, list] = {}
    for a in attempts:
        spans.setdefault(a.delivery_id, []).append((a.at.timestamp(), a.at.timestamp() + a.duration_ms / 1000))
    for rows in spans.values():
        rows.sort()
        assert all(later[0] >= earlier[1] - 0.005 for earlier, later in zip(rows, rows[1:]))

    credit = stack.client("credit")
    listed = credit.get("/api/v1/webhooks/deliveries", params={"state": "已送达", "page_size": 500}).json()
    assert sorted(d["trigger_id"] for d in listed["items"]) == sorted(ids) and listed["next_page"] is None
    assert {d["state_label"] for d in listed["items"]} == {"已送达"}

    with capsys.disabled():
        print(f"\n[webhooks] triggers sent {n}; attempts {len(attempts)} (failed {len(failures)}: "
              f"{len(timeouts)} timeouts, {len(http_errors)} HTTP errors, {len(refused)} connection "
              f"errors); receiver injected {dict(receiver.injected)}, restarted {receiver.restarts}× (2 s down); "
              f"requests received {sum(receiver.arrivals.values())}, duplicates {duplicates} "
              f"(after the effect: {receiver.redundant}), effects {len(receiver.effects)} (each once); "
              f"drained in {drained:.1f} s by 2 delivery processes")


def test_dead_letter_after_the_cap_then_operator_retry_delivers(stack, receiver):
    add_subscriber(stack, receiver, "credit-platform")
    receiver.mode = "fail"
    stack.start_dispatcher(timeout=2.0, backoff_base=0.1, backoff_cap=0.4, max_attempts=3, poll_interval=0.1)
    triggers = [make_trigger("CR_WITHDRAW_REVOKED", uscc_in()) for _ in range(2)]
    stack.produce(triggers)
    ids = [t["trigger_id"] for t in triggers]
    stack.wait_states(ids, "dead", timeout=60)
    assert receiver.arrivals == Counter({i: 3 for i in ids})

    admin, credit = stack.client("admin"), stack.client("credit")
    dead = credit.get("/api/v1/webhooks/deliveries", params={"state": "死信"}).json()["items"]
    assert sorted(d["trigger_id"] for d in dead) == sorted(ids)
    assert all((d["state"], d["attempts"], d["last_status"]) == ("dead", 3, 503) for d in dead)
    one = credit.get(f"/api/v1/webhooks/deliveries/{dead[0]['delivery_id']}").json()
    assert [a["status_code"] for a in one["log"]] == [503, 503, 503]
    assert credit.get("/api/v1/webhooks/deliveries", params={"state": "lost"}).status_code == 422

    # the receiver is fixed; an operator retries one by API, the other with the CLI
    receiver.mode = "ok"
    assert credit.post(f"/api/v1/webhooks/deliveries/{dead[0]['delivery_id']}/retry").status_code == 403
    r = admin.post(f"/api/v1/webhooks/deliveries/{dead[0]['delivery_id']}/retry")
    assert r.status_code == 200 and r.json()["state"] in ("pending", "in_flight", "delivered")
    done = stack.cli("webhooks", "retry", dead[1]["delivery_id"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["attempts"] == 0
    stack.wait_states(ids, "delivered", timeout=30)
    assert set(receiver.effects) == set(ids)

    again = admin.post(f"/api/v1/webhooks/deliveries/{dead[0]['delivery_id']}/retry")
    assert again.status_code == 409 and "delivered" in again.json()["title"]
    assert admin.post("/api/v1/webhooks/deliveries/nope/retry").status_code == 404
    log = credit.get(f"/api/v1/credit/triggers/{ids[0]}/deliveries").json()["items"][0]["log"]
    assert [a["status_code"] for a in log] == [503, 503, 503, 200]
    assert "dead (死信) after 3 attempts" in stack.dispatcher_logs()


def test_a_receipt_acknowledges_and_a_replayed_trigger_is_not_sent_again(stack, receiver):
    added = stack.cli("webhooks", "add", "--url", receiver.url, "--secret", "-", "--id", "credit-platform",
                      "--codes", "CR_REPAIR_ELIGIBLE", "CR_WITHDRAW_REVOKED", stdin=SECRET + "\n")
    assert added.returncode == 0, added.stderr
    assert "secret" not in json.loads(added.stdout) and SECRET not in added.stdout
    stack.start_dispatcher(timeout=2.0, backoff_base=0.1, poll_interval=0.1)
    uscc = uscc_in()
    wanted, filtered = make_trigger("CR_REPAIR_ELIGIBLE", uscc), make_trigger("CR_PUBLICITY_EXPIRED", uscc)
    stack.produce([wanted, filtered])
    stack.wait_states([wanted["trigger_id"]], "delivered", timeout=60)

    credit = stack.client("credit")
    assert credit.get(f"/api/v1/credit/triggers/{filtered['trigger_id']}/deliveries").json()["items"] == []
    assert credit.get("/api/v1/credit/triggers/CR-unknown/deliveries").status_code == 404
    receipt = {"source_event_id": f"receipt-{uuid.uuid4().hex[:12]}", "uscc": uscc, "kind": "trigger_receipt",
               "at": "2026-05-06T10:00:00+08:00", "details": {"trigger_id": wanted["trigger_id"]}}
    r = credit.post("/api/v1/intake/credit/events", json=receipt)
    assert r.status_code == 202, r.text
    stack.wait_states([wanted["trigger_id"]], "acknowledged", timeout=60)
    (d,) = credit.get(f"/api/v1/credit/triggers/{wanted['trigger_id']}/deliveries").json()["items"]
    assert (d["state_label"], d["receipt_event_id"]) == ("已确认", receipt["source_event_id"])
    assert datetime.fromisoformat(d["acknowledged_at"]) == datetime(2026, 5, 6, 2, 0, tzinfo=timezone.utc)
    assert [a["status_code"] for a in d["log"]] == [200]

    # the same trigger again on the log (a worker's at-least-once re-send): nothing new
    stack.produce([wanted])
    stack.projected()
    time.sleep(1.0)  # give the delivery process time to (not) send
    with stack.session() as s:
        assert s.execute(select(func.count()).select_from(WebhookOutbox)).scalar_one() == 1
    assert receiver.arrivals == Counter({wanted["trigger_id"]: 1})
    assert [x.state for x in stack.deliveries()] == ["acknowledged"]


def test_subscribers_are_managed_by_admins_and_their_secret_is_never_shown(stack, receiver):
    admin, credit = stack.client("admin"), stack.client("credit")
    body = {"url": receiver.url, "secret": SECRET, "codes": ["CR_PUBLICITY_EXPIRED"], "region_code": "330200"}
    assert credit.post("/api/v1/webhooks/subscribers", json=body).status_code == 403
    bad = admin.post("/api/v1/webhooks/subscribers", json={**body, "url": "mailto:x", "secret": "short",
                                                           "codes": ["CR_REPAIR_SLA"], "extra": 1})
    assert bad.status_code == 422
    assert sorted(p["field"] for p in bad.json()["problems"]) == ["codes", "extra", "secret", "url"]
    assert "short" not in bad.text

    r = admin.post("/api/v1/webhooks/subscribers", json=body)
    assert r.status_code == 201 and SECRET not in r.text and r.json()["secret_set"] is True
    sid = r.json()["subscriber_id"]
    again = admin.post("/api/v1/webhooks/subscribers", json={**body, "subscriber_id": sid, "codes": None})
    assert again.status_code == 200 and again.json()["codes"] is None
    listed = admin.get("/api/v1/webhooks/subscribers").json()["items"]
    assert [s["subscriber_id"] for s in listed] == [sid] and SECRET not in json.dumps(listed)

    # region filter: only enterprises registered under 3302xx are sent to it
    stack.start_dispatcher(timeout=2.0, poll_interval=0.1)
    ningbo, hangzhou = make_trigger("CR_PUBLICITY_EXPIRED", uscc_in("330203")), \
        make_trigger("CR_PUBLICITY_EXPIRED", uscc_in("330106"))
    stack.produce([ningbo, hangzhou])
    stack.projected()
    stack.wait_states([ningbo["trigger_id"]], "delivered", timeout=60)
    assert [d.trigger_id for d in stack.deliveries()] == [ningbo["trigger_id"]]

    gone = admin.delete(f"/api/v1/webhooks/subscribers/{sid}")
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert admin.delete("/api/v1/webhooks/subscribers/nobody").status_code == 404
    later = make_trigger("CR_PUBLICITY_EXPIRED", uscc_in("330203"))
    stack.produce([later])
    stack.projected()
    assert len(stack.deliveries()) == 1  # an inactive subscriber gets nothing enqueued
    shown = stack.cli("webhooks", "list")
    assert shown.returncode == 0 and SECRET not in shown.stdout
    assert [json.loads(line)["active"] for line in shown.stdout.splitlines()] == [False]
