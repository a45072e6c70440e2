"""Complainant identity (举报人信息保密): tokens are keyed HMACs that cannot be reversed without
the secret, and the clear name, phone number and ID number appear nowhere — not on any topic,
not in the database, not in the logs, not in webhook bodies, not in API answers."""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connectors.privacy import Tokeniser
from connectors.uscc import make_uscc
from schemas.codec import CE_TYPES, Codec, cloudevent_headers
from tests.faults.support import record, uid

from .conftest import as_role
from .test_access import pg_dump


def test_tokens_are_keyed_hmacs_that_a_dictionary_of_plain_hashes_does_not_reverse():
    phone = "13957412345"
    one, two = Tokeniser(b"secret-one"), Tokeniser(b"secret-two")
    assert one("phone", phone) != two("phone", phone), "the same phone under two secrets gives different tokens"
    assert one("phone", phone) == one("phone", "139-5741-2345") == one("phone", "+86 139 5741 2345")
    token = one("phone", phone)[3:]
    assert token == hmac.new(b"secret-one", b"phone\x1f" + phone.encode(), hashlib.sha256).hexdigest()[:32]
    # an attacker without the secret hashes every phone number of the block the complainant's is in
    block = [f"1395741{n:04d}" for n in range(10_000)]
    guesses = set()
    for p in block:
        for text in (p, f"phone\x1f{p}", f"+86{p}"):
            for algo in (hashlib.sha256, hashlib.sha1, hashlib.md5, hashlib.sha512, hashlib.blake2b):
                digest = algo(text.encode()).hexdigest()
                guesses |= {digest, digest[:32]}
    assert token not in guesses, "a plain hash of the phone number would have been found"
    # with the secret the same search finds it: the secret is what protects the complainant
    assert [p for p in block if one("phone", p)[3:] == token] == [phone]
    record("privacy_tokens", dictionary_size=len(block), hashes_tried=len(guesses), found_without_secret=0,
           found_with_secret=1)


class Receiver:
    """A webhook endpoint that keeps every body it is sent."""

    def __init__(self):
        self.bodies: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                outer.bodies.append(self.rfile.read(int(self.headers.get("content-length") or 0)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def stop(self):
        self.server.shutdown()


def trigger_for(uscc: str) -> dict:
    n = uuid.uuid4().hex
    decision_no = f"甬海市监罚〔2026〕{int(n[:6], 16) % 10000}号"
    return {"trigger_id": "CR-" + n[:24], "code": "CR_REPAIR_ELIGIBLE", "uscc": uscc, "decision_no": decision_no,
            "tier": "一般", "decided_at": "2026-01-05T10:00:00+08:00", "min_until": "2026-04-04",
            "max_until": "2027-01-04", "eligible_from": "2026-04-05", "reasons": ["已履行并完成整改"],
            "evidence": [{"topic": "enforcement.cases", "partition": 0, "offset": 1, "ce_id": f"case-{n[:8]}",
                          "action_code": None, "summary": f"作出行政处罚决定 {decision_no}"}],
            "detected_at": "2026-04-05T00:00:00+08:00"}


def every_topic_bytes(bootstrap: str) -> tuple[bytes, int, int]:
    """All keys, values and headers of every topic on the broker, concatenated."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    chunks, records = [], 0
    try:
        topics = sorted(consumer.topics())
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + 300
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline
            for msgs in consumer.poll(timeout_ms=1000, max_records=10_000).values():
                for m in msgs:
                    records += 1
                    chunks += [m.key or b"", m.value or b""] + [k.encode() + (v or b"") for k, v in m.headers or ()]
        return b"\n".join(chunks), len(topics), records
    finally:
        consumer.close()


def forms(text: str) -> list[bytes]:
    """How a string can sit in bytes: UTF-8, and JSON with non-ASCII escaped."""
    return [text.encode(), json.dumps(text)[1:-1].encode()]


@pytest.mark.integration
def test_clear_complainant_identity_appears_on_no_topic_table_log_webhook_or_answer(sec_hub):
    name = f"举报人{random.choice('甲乙丙丁戊')}{uid(6)}"
    digits = f"139{random.randrange(10**8):08d}"
    id_number = make_id_number()
    uscc = make_uscc("91330203MA" + uid(7))
    hotline, enforcement = as_role(sec_hub, "hotline"), as_role(sec_hub, "enforcement")
    staff, admin = as_role(sec_hub, "supervisor"), as_role(sec_hub, "admin")
    receiver = Receiver()
    try:
        r = admin.post("/api/v1/webhooks/subscribers", json={"subscriber_id": f"privacy-{uid(6).lower()}",
                                                             "url": receiver.url, "secret": "privacy-secret-0123456789"})
        assert r.status_code == 201, r.text

        phones = [digits, f"{digits[:3]}-{digits[3:7]}-{digits[7:]}", f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}",
                  digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))]
        answers = []
        for i, phone in enumerate(phones):
            order = f"GD{uid(10)}"
            wo = {"source_event_id": f"privacy-{order}", "order_id": order, "received_at": "2026-05-06T09:30:00+08:00",
                  "channel": "电话", "category": "举报", "topic": "执法检查", "content": "来电反映执法人员多次到店检查。",
                  "subject": {"name": "宁波市海曙区隐私测试有限公司", "uscc": uscc}, "region_code": "330203",
                  "complainant": {"name": f" {name} " if i % 2 else name, "phone": phone}, "status": "受理"}
            r = hotline.post("/api/v1/intake/hotline/workorders", json=wo)
            # full-width digits are not a telephone number intake accepts; the refusal must not echo it
            assert r.status_code == (422 if i == 3 else 202), r.text
            answers.append(r.text)
            bad = {**wo, "source_event_id": f"privacy-bad-{order}", "received_at": "2026-05-06T09:30:00",
                   "complainant": {"name": name, "phone": phone + "x"}}
            r = hotline.post("/api/v1/intake/hotline/workorders", json=bad)
            assert r.status_code == 422
            answers.append(r.text)
        case_id = f"甬海市监案〔2026〕{uid(6)}号"
        r = enforcement.post("/api/v1/intake/enforcement/cases", json={
            "source_event_id": f"privacy-{case_id}", "case_id": case_id, "event": "filed",
            "agency_code": make_uscc("11330203" + uid(9)), "matter_code": "SC-FOOD-124", "region_code": "330203",
            "filed_at": "2026-05-07T10:00:00+08:00", "source_refs": [],
            "party": {"type": "自然人", "id_number": id_number, "name": "个人当事人"}})
        assert r.status_code == 202, r.text
        answers.append(r.text)

        producer = KafkaProducer(bootstrap_servers=sec_hub.bootstrap, acks="all")
        trig = trigger_for(uscc)
        producer.send("credit.repair-triggers", key=uscc.encode(), value=Codec().encode("CreditTrigger", trig),
                      headers=cloudevent_headers(ce_id=trig["trigger_id"], source="/zhongshu/streams",
                                                 type=CE_TYPES["credit.repair-triggers"], time=trig["detected_at"],
                                                 subject=uscc))
        producer.flush()
        producer.close()
        sec_hub.sync(timeout=300)
        deadline = time.monotonic() + 120
        while not any(trig["trigger_id"].encode() in b for b in receiver.bodies) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert any(trig["trigger_id"].encode() in b for b in receiver.bodies), "the webhook was not delivered"

        answers.append(staff.get(f"/api/v1/enterprises/{uscc}").text)
        answers.append(staff.get(f"/api/v1/enterprises/{uscc}/timeline").text)
        topics, n_topics, n_records = every_topic_bytes(sec_hub.bootstrap)
        dump = pg_dump(sec_hub)
        logs = b"".join(p.read_bytes() for p in (sec_hub.cwd / "var" / "logs").glob("*.log"))
        webhooks = b"\n".join(receiver.bodies)
        places = {"topics": topics, "database dump": dump.encode(), "logs": logs, "webhook bodies": webhooks,
                  "API answers": "\n".join(answers).encode()}
        secrets_ = [name, digits, *phones, id_number]
        for where, blob in places.items():
            for value in secrets_:
                for form in forms(value):
                    assert form not in blob, f"clear complainant data {value!r} found in {where}"
        # the scan looks where the data is: the tokens are there
        tokenise = Tokeniser(sec_hub.secret.encode())
        assert tokenise("phone", digits).encode() in topics and tokenise("name", name).encode() in topics
        assert tokenise("name", name) in dump  # the projection keeps the complainant's name token
        assert tokenise("id_number", id_number).encode() in topics
        record("privacy_scan", topics_scanned=n_topics, records_scanned=n_records, database_dump_bytes=len(dump),
               log_bytes=len(logs), webhook_bodies=len(receiver.bodies), clear_values_checked=len(secrets_),
               clear_values_found=0)
    finally:
        receiver.stop()


def make_id_number() -> str:
    """A well-formed 18-digit 居民身份证号码 (GB 11643 check character)."""
    body = f"330203{random.randrange(1960, 2000)}0{random.randrange(1, 10)}1{random.randrange(0, 10)}{random.randrange(100, 1000)}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]
    return body + check
