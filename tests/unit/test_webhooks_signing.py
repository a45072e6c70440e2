"""Webhook signatures, headers and bodies (pure)."""
from __future__ import annotations

import json

from connectors.webhooks import (
    DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, TRIGGER_FIELDS, delivery_id_for, request_headers, sign,
    trigger_body, uscc_region, verify_signature,
)

SECRET = "whsec-test-0123456789abcdef"
BODY = b'{"trigger_id":"CR-0123456789abcdef01234567","code":"CR_REPAIR_ELIGIBLE"}'
TS = "1767225600"


def trigger(**over) -> dict:
    t = {
        "trigger_id": "CR-0123456789abcdef01234567", "code": "CR_REPAIR_ELIGIBLE", "uscc": "91330203MA2AXXXX0X",
        "decision_no": "甬海市监罚〔2026〕12号", "tier": "一般", "decided_at": "2026-01-05T10:00:00+08:00",
        "min_until": "2026-04-04", "max_until": "2027-01-04", "eligible_from": "2026-04-05",
        "reasons": ["最短公示期届满（令第36号第十二条）"],
        "evidence": [{"topic": "enforcement.cases", "partition": 1, "offset": 42, "ce_id": "case-1-decided",
                      "action_code": None, "summary": "作出处罚决定"}],
        "detected_at": "2026-04-05T00:00:00+08:00",
    }
    t.update(over)
    return t


def test_signature_is_hmac_sha256_of_timestamp_dot_body_matching_an_independent_vector():
    # printf '%s' "$TS.$BODY" | openssl dgst -sha256 -hmac "$SECRET"
    assert sign(SECRET, TS, BODY) == "sha256=290040bdd605df6be49944805f1533723dfa0d7466dc2021a5da5b5ebd0f7dd2"


def test_receiver_verification_accepts_the_genuine_request():
    assert verify_signature(SECRET, TS, BODY, sign(SECRET, TS, BODY), now=int(TS) + 10)


def test_receiver_verification_refuses_tampering_a_wrong_secret_and_stale_or_missing_timestamps():
    good = sign(SECRET, TS, BODY)
    now = int(TS) + 10
    assert not verify_signature(SECRET, TS, BODY.replace(b"ELIGIBLE", b"EXPIRED"), good, now=now)
    assert not verify_signature(SECRET, str(int(TS) + 1), BODY, good, now=now)
    assert not verify_signature("another-secret-0123456789", TS, BODY, good, now=now)
    assert not verify_signature(SECRET, TS, BODY, good, now=int(TS) + 301)   # replayed too late
    assert not verify_signature(SECRET, None, BODY, good, now=now)
    assert not verify_signature(SECRET, TS, BODY, None, now=now)
    assert not verify_signature(SECRET, "12.5", BODY, good, now=now)


def test_request_headers_carry_idempotency_key_delivery_timestamp_and_signature():
    h = request_headers(SECRET, "d" * 32, "CR-0123456789abcdef01234567", BODY, TS)
    assert h["Content-Type"] == "application/json"
    assert h["Idempotency-Key"] == "CR-0123456789abcdef01234567"
    assert h[DELIVERY_HEADER] == "d" * 32
    assert h[TIMESTAMP_HEADER] == TS
    assert h[SIGNATURE_HEADER] == sign(SECRET, TS, BODY)


def test_body_is_the_trigger_in_schema_order_and_byte_stable():
    body = trigger_body(trigger())
    assert list(json.loads(body)) == list(TRIGGER_FIELDS)
    assert trigger_body(trigger()) == body
    assert "甬海市监罚〔2026〕12号" in body  # UTF-8, not \u escapes: what is signed is what is read


def test_body_never_carries_fields_outside_the_trigger_schema_such_as_complainant_data():
    leaky = trigger(complainant={"name": "张三", "phone": "13805740000"}, content="来电人张三反映")
    leaky["evidence"][0]["complainant_phone"] = "13805740000"
    body = trigger_body(leaky)
    assert "张三" not in body and "13805740000" not in body and "complainant" not in body
    assert set(json.loads(body)) == set(TRIGGER_FIELDS)


def test_delivery_id_is_deterministic_per_subscriber_and_trigger():
    a = delivery_id_for("credit-platform", "CR-1")
    assert a == delivery_id_for("credit-platform", "CR-1") and len(a) == 32
    assert a != delivery_id_for("credit-platform", "CR-2")
    assert a != delivery_id_for("other", "CR-1")
    # the separator keeps ("ab", "c") and ("a", "bc") apart
    assert delivery_id_for("ab", "c") != delivery_id_for("a", "bc")


def test_region_of_a_uscc_is_its_registration_area_and_a_token_has_none():
    assert uscc_region("91330203MA2AXXXX0X") == "330203"
    assert uscc_region("tk_0123456789abcdef0123456789abcdef") is None
    assert uscc_region(None) is None
