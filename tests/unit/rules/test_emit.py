"""base.emit: a lead is sent once per content, including across the change of signature form
(session 8: states written before it hold the standard library's JSON signatures)."""
from __future__ import annotations

from datetime import date

from streams.rules.base import emit, legacy_signature, signature


def lead(**extra) -> dict:
    return {"lead_id": "L-1", "rule_code": "INSP_NO_CODE", "explanation": "检查未填写行政行为码",
            "evidence": [{"ce_id": "ce-1", "offset": 7}], **extra}


def test_the_same_content_is_sent_once_and_grown_content_again():
    state, out = {}, []
    emit(state, lead(), out, date(2026, 5, 1))
    emit(state, lead(), out, date(2026, 5, 2))
    assert out == [lead()]
    assert state["_emitted"]["L-1"] == [signature(lead()), "2026-05-01"]
    assert state["_emitted"]["L-1"][0].startswith("o")
    grown = lead(evidence=[{"ce_id": "ce-1", "offset": 7}, {"ce_id": "ce-2", "offset": 9}])
    emit(state, grown, out, date(2026, 5, 3))
    assert out == [lead(), grown]
    assert state["_emitted"]["L-1"] == [signature(grown), "2026-05-03"]


def test_key_order_does_not_change_the_signature():
    a = lead()
    b = dict(reversed(list(a.items())))
    assert signature(a) == signature(b)


def test_a_state_signed_the_old_way_re_sends_nothing_for_the_same_content():
    old = legacy_signature(lead())
    assert len(old) == 16 and not old.startswith("o")
    state, out = {"_emitted": {"L-1": [old, "2026-04-30"]}}, []
    emit(state, lead(), out, date(2026, 5, 1))
    assert out == []
    assert state["_emitted"]["L-1"] == [signature(lead()), "2026-04-30"]  # upgraded, anchor kept
    emit(state, lead(), out, date(2026, 5, 2))
    assert out == []


def test_a_state_signed_the_old_way_re_sends_changed_content():
    state, out = {"_emitted": {"L-1": [legacy_signature(lead()), "2026-04-30"]}}, []
    changed = lead(severity="高")
    emit(state, changed, out, date(2026, 5, 1))
    assert out == [changed]
    assert state["_emitted"]["L-1"] == [signature(changed), "2026-05-01"]


def test_a_lead_orjson_cannot_encode_is_signed_the_old_way_and_still_sent_once():
    big = lead(amount=2**70)
    assert signature(big) == legacy_signature(big)
    state, out = {}, []
    emit(state, big, out, date(2026, 5, 1))
    emit(state, big, out, date(2026, 5, 2))
    assert out == [big]
