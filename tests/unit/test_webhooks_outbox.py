"""Outbox, receipts and the dispatcher on SQLite (the embedded back end) with a fake HTTP transport."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import webhooks as wh
from connectors.webhook_models import WebhookAttempt, WebhookOutbox, ensure_tables
from projections.db import make_engine
from projections.schema import ensure_schema

USCC = "91330203MA2AXXXX0X"
SECRET = "whsec-unit-0123456789"


def trig(n: int, code="CR_REPAIR_ELIGIBLE", uscc=USCC) -> dict:
    return {"trigger_id": f"CR-{n:024d}", "code": code, "uscc": uscc, "decision_no": f"罚〔2026〕{n}号",
            "tier": "一般", "decided_at": "2026-01-05T10:00:00+08:00", "min_until": None, "max_until": None,
            "eligible_from": None, "reasons": [], "evidence": [], "detected_at": "2026-04-05T00:00:00+08:00"}


@pytest.fixture
def engine(tmp_path):
    e = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    ensure_schema(e)
    ensure_tables(e)
    yield e
    e.dispose()


def add(engine, sid, **kw):
    with Session(engine) as s, s.begin():
        wh.put_subscriber(s, url=kw.pop("url", f"http://receiver.test/{sid}"), secret=SECRET, subscriber_id=sid, **kw)


def enqueue(engine, *triggers) -> int:
    with Session(engine) as s, s.begin():
        return sum(wh.enqueue_deliveries(s, t) for t in triggers)


def rows(engine) -> dict[str, WebhookOutbox]:
    with Session(engine) as s:
        return {(r.subscriber_id, r.trigger_id): r for r in s.execute(select(WebhookOutbox)).scalars()}


class Clock:
    def __init__(self):
        self.now = datetime.now(timezone.utc) + timedelta(seconds=1)  # rows are enqueued at the wall time

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += timedelta(seconds=seconds)


def dispatcher(engine, handler, clock=None, **cfg) -> wh.Dispatcher:
    config = wh.WebhookConfig(**{"max_attempts": 3, "backoff_base": 2, "jitter": 0, **cfg})
    return wh.Dispatcher(engine, config, client=httpx.Client(transport=httpx.MockTransport(handler)),
                         rng=random.Random(0), clock=clock or Clock())


def test_each_matching_active_subscriber_gets_one_delivery_and_a_replay_adds_none(engine):
    add(engine, "all")
    add(engine, "eligible-only", codes=["CR_REPAIR_ELIGIBLE"])
    add(engine, "ningbo", region_code="330200")
    add(engine, "hangzhou", region_code="330100")
    add(engine, "gone")
    with Session(engine) as s, s.begin():
        wh.deactivate_subscriber(s, "gone")
    t1, t2 = trig(1), trig(2, code="CR_WITHDRAW_REVOKED", uscc="tk_" + "0" * 32)
    assert enqueue(engine, t1, t2) == 3 + 1
    assert enqueue(engine, t1, t2) == 0
    assert sorted(rows(engine)) == sorted([("all", t1["trigger_id"]), ("eligible-only", t1["trigger_id"]),
                                           ("ningbo", t1["trigger_id"]), ("all", t2["trigger_id"])])
    r = rows(engine)[("all", t1["trigger_id"])]
    assert r.state == "pending" and r.delivery_id == wh.delivery_id_for("all", t1["trigger_id"])
    assert json.loads(r.body)["trigger_id"] == t1["trigger_id"]


def test_a_trigger_twice_in_one_batch_is_enqueued_once_even_without_autoflush(engine):
    add(engine, "p")
    with Session(engine, autoflush=False) as s, s.begin():
        assert wh.enqueue_deliveries(s, trig(1)) == 1
        assert wh.enqueue_deliveries(s, trig(1)) == 0
        receipt = {"source_event_id": "r-1", "uscc": USCC, "kind": "trigger_receipt",
                   "at": "2026-05-02T09:00:00+08:00", "details": {"trigger_id": trig(1)["trigger_id"]}}
        assert wh.acknowledge_receipt(s, receipt)
        assert not wh.acknowledge_receipt(s, {**receipt, "source_event_id": "r-2"})  # first receipt wins
    (row,) = rows(engine).values()
    assert (row.state, row.receipt_event_id) == ("acknowledged", "r-1")


def test_a_rebuild_replay_neither_enqueues_nor_acknowledges(engine):
    add(engine, "p")
    with Session(engine) as s, s.begin():
        s.info["replay"] = True
        assert wh.enqueue_deliveries(s, trig(1)) == 0
    translated = engine.execution_options(schema_translate_map={None: "zs_rebuild_1"})
    with Session(translated) as s, s.begin():
        assert wh.enqueue_deliveries(s, trig(1)) == 0
    assert rows(engine) == {}


def test_delivery_posts_signed_json_and_a_2xx_is_delivered(engine):
    add(engine, "p")
    enqueue(engine, trig(1))
    seen = []

    def handler(request: httpx.Request):
        seen.append(request)
        return httpx.Response(204)

    d = dispatcher(engine, handler)
    d.run(once=True)
    (req,) = seen
    body = req.content
    assert req.headers["idempotency-key"] == trig(1)["trigger_id"]
    assert req.headers["x-zhongshu-delivery"] == wh.delivery_id_for("p", trig(1)["trigger_id"])
    assert wh.verify_signature(SECRET, req.headers["x-zhongshu-timestamp"], body, req.headers["x-zhongshu-signature"])
    r = rows(engine)[("p", trig(1)["trigger_id"])]
    assert (r.state, r.attempts, r.last_status, r.delivered_at is not None) == ("delivered", 1, 204, True)


def test_failures_back_off_then_die_after_the_cap_and_an_operator_retry_delivers(engine):
    add(engine, "p")
    enqueue(engine, trig(1))
    clock = Clock()
    answers = iter([httpx.Response(500, text="boom"), "timeout", httpx.Response(302),
                    httpx.Response(200)])

    def handler(request):
        a = next(answers)
        if a == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        return a

    d = dispatcher(engine, handler, clock)
    d.run(once=True)
    r = rows(engine)[("p", trig(1)["trigger_id"])]
    assert (r.state, r.attempts, r.last_status) == ("pending", 1, 500)
    assert r.next_attempt_at == clock.now + timedelta(seconds=2)
    d.run(once=True)                     # not due yet: nothing is sent
    assert rows(engine)[("p", trig(1)["trigger_id"])].attempts == 1
    clock.advance(2)
    d.run(once=True)
    r = rows(engine)[("p", trig(1)["trigger_id"])]
    assert (r.state, r.attempts, r.last_status) == ("pending", 2, None) and "timeout" in r.last_error
    assert r.next_attempt_at == clock.now + timedelta(seconds=4)
    clock.advance(4)
    d.run(once=True)                     # a redirect is not followed: third failure = max_attempts
    r = rows(engine)[("p", trig(1)["trigger_id"])]
    assert (r.state, r.attempts, r.last_status, r.next_attempt_at) == ("dead", 3, 302, None)
    clock.advance(3600)
    d.run(once=True)
    assert rows(engine)[("p", trig(1)["trigger_id"])].state == "dead"

    with Session(engine) as s, s.begin():
        with pytest.raises(wh.WebhookError) as not_found:
            wh.retry_delivery(s, "nope")
        assert not_found.value.status == 404
        wh.retry_delivery(s, r.delivery_id)
    d.clock = lambda: datetime.now(timezone.utc)
    d.run(once=True)
    r = rows(engine)[("p", trig(1)["trigger_id"])]
    assert (r.state, r.attempts, r.last_status) == ("delivered", 1, 200)
    with Session(engine) as s:
        log = s.execute(select(WebhookAttempt).order_by(WebhookAttempt.attempt_id)).scalars().all()
        assert [a.status_code for a in log] == [500, None, 302, 200]
        with pytest.raises(wh.WebhookError) as conflict:
            wh.retry_delivery(s, r.delivery_id)
        assert conflict.value.status == 409


def test_a_receipt_acknowledges_and_stops_retries_but_not_for_another_enterprise(engine):
    add(engine, "p")
    add(engine, "q")
    enqueue(engine, trig(1), trig(2))
    receipt = {"source_event_id": "r-1", "uscc": USCC, "kind": "trigger_receipt", "at": "2026-05-02T09:00:00+08:00",
               "details": {"trigger_id": trig(1)["trigger_id"], "subscriber_id": "p"}}
    with Session(engine) as s, s.begin():
        assert wh.acknowledge_receipt(s, receipt)
        assert not wh.acknowledge_receipt(s, receipt)                          # already closed
        assert not wh.acknowledge_receipt(s, {**receipt, "kind": "repair_applied"})
        assert not wh.acknowledge_receipt(s, {**receipt, "details": {}})
        wrong = {**receipt, "uscc": "91330100MA27XXXX1A",
                 "details": {"trigger_id": trig(2)["trigger_id"]}}
        assert not wh.acknowledge_receipt(s, wrong)
    got = rows(engine)
    p1 = got[("p", trig(1)["trigger_id"])]
    assert (p1.state, p1.receipt_event_id) == ("acknowledged", "r-1")
    assert p1.acknowledged_at == datetime(2026, 5, 2, 1, 0, tzinfo=timezone.utc)
    assert got[("q", trig(1)["trigger_id"])].state == "pending"
    assert got[("p", trig(2)["trigger_id"])].state == "pending"
    sent = []
    dispatcher(engine, lambda r: sent.append(r) or httpx.Response(200)).run(once=True)
    assert sorted(r.headers["idempotency-key"] for r in sent) == sorted(
        [trig(1)["trigger_id"], trig(2)["trigger_id"], trig(2)["trigger_id"]])


def test_a_receipt_arriving_while_a_request_is_in_flight_wins(engine):
    add(engine, "p")
    enqueue(engine, trig(1))

    def handler(request):
        with Session(engine) as s, s.begin():
            wh.acknowledge_receipt(s, {"source_event_id": "r", "uscc": USCC, "kind": "trigger_receipt",
                                       "at": "2026-05-02T09:00:00+08:00",
                                       "details": {"trigger_id": trig(1)["trigger_id"]}})
        return httpx.Response(503)

    d = dispatcher(engine, handler)
    d.run(once=True)
    assert rows(engine)[("p", trig(1)["trigger_id"])].state == "acknowledged"
    assert d.outcomes == {"superseded": 1}


def test_two_dispatchers_never_claim_the_same_row(engine):
    add(engine, "p")
    enqueue(engine, *(trig(n) for n in range(40)))
    a, b = dispatcher(engine, None), dispatcher(engine, None)
    claimed_a, claimed_b = a.claim(25), b.claim(25)
    ids_a, ids_b = {c.delivery_id for c in claimed_a}, {c.delivery_id for c in claimed_b}
    assert len(ids_a) == 25 and len(ids_b) == 15 and not ids_a & ids_b
    assert a.claim(10) == []          # everything is leased
    assert all(r.state == "in_flight" for r in rows(engine).values())


def test_an_abandoned_claim_is_taken_again_after_its_lease(engine):
    add(engine, "p")
    enqueue(engine, trig(1))
    clock = Clock()
    crashed = dispatcher(engine, None, clock, timeout=5, lease_margin=10)
    assert len(crashed.claim(5)) == 1
    other = dispatcher(engine, lambda r: httpx.Response(200), clock, timeout=5, lease_margin=10)
    assert other.claim(5) == []
    clock.advance(15)
    (c,) = other.claim(5)
    assert other.deliver(c) == "delivered"


def test_an_inactive_subscriber_is_not_sent_to_until_it_is_added_again(engine):
    add(engine, "p")
    enqueue(engine, trig(1))
    with Session(engine) as s, s.begin():
        wh.deactivate_subscriber(s, "p")
    sent = []
    d = dispatcher(engine, lambda r: sent.append(r) or httpx.Response(200))
    d.run(once=True)
    assert sent == []
    add(engine, "p")
    d.run(once=True)
    assert len(sent) == 1


def test_backfill_enqueues_triggers_projected_before_the_subscriber_existed(engine):
    from projections.models import CreditTrigger

    with Session(engine) as s, s.begin():
        for n, code in ((1, "CR_REPAIR_ELIGIBLE"), (2, "CR_PUBLICITY_EXPIRED")):
            t = trig(n, code=code)
            s.add(CreditTrigger(trigger_id=t["trigger_id"], code=code, uscc=USCC, decision_no=t["decision_no"],
                                body=t, detected_at=datetime.now(timezone.utc), source_offset=f"t/0/{n}"))
    with Session(engine) as s, s.begin():
        _, created, backfilled = wh.put_subscriber(s, url="http://r.test/", secret=SECRET, subscriber_id="late",
                                                   codes=["CR_PUBLICITY_EXPIRED"], backfill=True)
    assert created and backfilled == 1
    assert list(rows(engine)) == [("late", trig(2)["trigger_id"])]


def test_install_wraps_the_projector_handlers_once_and_keeps_theirs():
    calls = []
    handlers = {"credit.repair-triggers": lambda s, v, m: calls.append(("trigger", v["trigger_id"]))}
    wh.install(handlers)
    first = handlers["credit.repair-triggers"]
    wh.install(handlers)
    assert handlers["credit.repair-triggers"] is first
    assert "credit.events" in handlers

    class FakeSession:
        info: dict = {}

        def get_bind(self):
            return type("E", (), {"get_execution_options": lambda self: {}})()

        def execute(self, *_):
            return type("R", (), {"scalars": lambda self: type("S", (), {"all": lambda self: []})()})()

    handlers["credit.repair-triggers"](FakeSession(), trig(1), None)
    assert calls == [("trigger", trig(1)["trigger_id"])]


def test_subscriber_definitions_are_checked_field_by_field():
    problems = wh.validate_subscriber("ftp://x", "short", ["CR_REPAIR_SLA"], "3302", "bad id!")
    assert [p["field"] for p in problems] == ["url", "secret", "codes", "region_code", "subscriber_id"]
    assert all(p["value"] != "short" for p in problems)  # a secret is never echoed
    assert wh.validate_subscriber("https://credit.example.cn/hooks", SECRET) == []
