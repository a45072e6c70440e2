"""行刑衔接规则: XFER_* codes (国务院令第310号 Arts. 3, 5, 8, 11)."""
import pytest

from streams.rules import transfer as rule
from streams.rules.calendar import CalendarYearNotCovered

from .conftest import (
    AGY_SCJ, ENT_NAME, HOLIDAYS_2027, codes, config, decided, filed, run, t, tick, transfer,
)

EOD = "T23:59:59.999999+08:00"
THRESHOLDS = [
    {"violation_type": "生产、销售伪劣产品", "party_type": None, "measure": "sales", "min_amount": "50000"},
    {"violation_type": "生产、销售伪劣产品", "party_type": None, "measure": "unsold_value", "min_amount": "150000"},
    {"violation_type": "非法经营", "party_type": "自然人", "measure": "turnover", "min_amount": "50000"},
    {"violation_type": "非法经营", "party_type": "自然人", "measure": "illegal_gains", "min_amount": "10000"},
    {"violation_type": "非法经营", "party_type": "法人及非法人组织", "measure": "turnover", "min_amount": "500000"},
    {"violation_type": "非法经营", "party_type": "法人及非法人组织", "measure": "illegal_gains",
     "min_amount": "100000"},
    {"violation_type": "逃税", "party_type": None, "measure": "tax_evaded", "min_amount": "100000",
     "min_ratio": "0.10"},
]
PERSON = {"type": "自然人", "id_token": "pid-7f3a9c", "name": "张某某"}


def cfg(thresholds=None, **ref):
    return config(thresholds, criminal_thresholds=THRESHOLDS, **ref)


def fake_goods(day="2026-03-02", sales="60000", **over):
    f = filed("AJ-2026-101", "2026-01-10", **over)
    d = decided("AJ-2026-101", day, filing=f, violation_type="生产、销售伪劣产品",
                amount_involved={"sales": sales, "unsold_value": "0"}, fine_amount="120000")
    return f, d


def sub(out):
    return codes(out, "XFER_SUBSTITUTION")


def test_key_is_the_case_for_case_events_and_signals():
    assert rule.key(transfer("AJ-2026-101", "sent", t("2026-03-03"))) == "AJ-2026-101"
    assert rule.key(fake_goods()[1]) == "AJ-2026-101"


# ---- XFER_SUBSTITUTION ----------------------------------------------------------------------

def test_threshold_reached_and_not_sent_within_5_days():
    f, d = fake_goods()
    state, out = run(rule, [f, d, tick("2026-03-07" + EOD)], cfg())
    assert sub(out) == [] and state["_due"] == "2026-03-07" + EOD
    state, out = run(rule, [tick("2026-03-08T00:00:00+08:00")], cfg(), state)
    [lead] = sub(out)
    assert lead["rule_name"] == "以罚代刑" and lead["severity"] == "高"
    assert lead["subject"] == {"type": "case", "id": "AJ-2026-101", "name": ENT_NAME}
    assert lead["agency_code"] == AGY_SCJ and lead["detected_at"] == "2026-03-07" + EOD
    assert "国务院令第310号）第三条、第十一条" in lead["explanation"]
    assert "销售金额 60,000.00 元，达到 50,000.00 元" in lead["explanation"]
    assert "截至 2026-03-08 未移送公安机关" in lead["explanation"]
    assert "_due" not in state


def test_sent_on_the_5th_day_or_before_the_decision_is_on_time():
    f, d = fake_goods()
    for sent in (t("2026-03-07", "23:00:00"), t("2026-02-27")):
        _, out = run(rule, [f, d, transfer("AJ-2026-101", "sent", sent), tick("2026-04-01T00:00:00+08:00")],
                     cfg())
        assert sub(out) == []


def test_sent_late_fires_on_the_signal():
    f, d = fake_goods()
    _, out = run(rule, [f, d, transfer("AJ-2026-101", "sent", t("2026-03-09"))], cfg())
    [lead] = sub(out)
    assert "2026-03-09 才移送公安机关" in lead["explanation"] and len(lead["evidence"]) == 3


def test_below_threshold_or_unknown_violation_type_does_not_fire():
    f, d = fake_goods(sales="49999.99")
    assert sub(run(rule, [f, d, tick("2026-04-01T00:00:00+08:00")], cfg())[1]) == []
    assert sub(run(rule, [*fake_goods(), tick("2026-04-01T00:00:00+08:00")], config())[1]) == []


@pytest.mark.parametrize("party,fires", [(PERSON, True), (None, False)])
def test_illegal_business_thresholds_depend_on_the_party_type(party, fires):
    f = filed("AJ-2026-102", "2026-01-10", **({"party": party} if party else {}))
    d = decided("AJ-2026-102", "2026-03-02", filing=f, violation_type="非法经营",
                amount_involved={"turnover": "60000", "illegal_gains": "8000"})
    assert bool(sub(run(rule, [f, d, tick("2026-04-01T00:00:00+08:00")], cfg())[1])) == fires


@pytest.mark.parametrize("tax_due,fires", [("1500000", False), ("1200000", True), (None, False)])
def test_tax_evasion_needs_amount_and_ratio(tax_due, fires):
    f = filed("AJ-2026-103", "2026-01-10")
    amounts = {"tax_evaded": "120000", **({"tax_due": tax_due} if tax_due else {})}
    d = decided("AJ-2026-103", "2026-03-02", filing=f, violation_type="逃税", amount_involved=amounts)
    leads = sub(run(rule, [f, d, tick("2026-04-01T00:00:00+08:00")], cfg())[1])
    assert bool(leads) == fires
    if fires:
        assert "10.00%" in leads[0]["explanation"]


def test_transfer_window_in_working_days_over_national_day():
    f, d = fake_goods(day="2026-09-30")
    calendar_days = cfg()
    assert run(rule, [f, d], calendar_days)[0]["_due"] == "2026-10-05" + EOD
    working = cfg({"XFER_SUBSTITUTION": {"day_kind": "working"}})
    # Oct 1–7 off; Oct 8, 9, Sat Oct 10 (调休), 12, 13
    state, out = run(rule, [f, d, tick("2026-10-13" + EOD)], working)
    assert sub(out) == [] and state["_due"] == "2026-10-13" + EOD
    [lead] = sub(run(rule, [tick("2026-10-14T00:00:00+08:00")], working, state)[1])
    assert "5 个工作日" in lead["explanation"]


# ---- XFER_APPROVAL_LATE ---------------------------------------------------------------------

def test_approval_on_the_third_day_is_on_time_and_the_fourth_is_late():
    report = transfer("AJ-2026-104", "report_made", t("2026-03-02"))
    for at, fires in ((t("2026-03-05", "18:00:00"), False), (t("2026-03-06", "09:00:00"), True)):
        _, out = run(rule, [report, transfer("AJ-2026-104", "approved", at)], cfg())
        assert bool(codes(out, "XFER_APPROVAL_LATE")) == fires


def test_no_approval_fires_after_the_deadline_tick_and_a_refusal_counts():
    report = transfer("AJ-2026-104", "report_made", t("2026-03-02"))
    state, out = run(rule, [report, tick("2026-03-05" + EOD)], cfg())
    assert out == [] and state["_due"] == "2026-03-05" + EOD
    [lead] = run(rule, [tick("2026-03-06T00:00:00+08:00")], cfg(), state)[1]
    assert lead["rule_name"] == "移送审批超期" and lead["detected_at"] == "2026-03-05" + EOD
    assert "第五条" in lead["explanation"] and "截至 2026-03-06 未作出审批决定" in lead["explanation"]
    refused = transfer("AJ-2026-104", "refused", t("2026-03-04"))
    assert run(rule, [report, refused, tick("2026-04-01T00:00:00+08:00")], cfg())[1] == []


def test_approval_deadline_in_working_days_over_spring_festival():
    working = cfg({"XFER_APPROVAL_LATE": {"day_kind": "working"}})
    report = transfer("AJ-2026-104", "report_made", t("2026-02-12"))
    # Fri Feb 13, Sat Feb 14 (调休), Feb 15–23 off, Tue Feb 24
    state, out = run(rule, [report, tick("2026-02-24" + EOD)], working)
    assert out == [] and state["_due"] == "2026-02-24" + EOD
    _, out = run(rule, [report, transfer("AJ-2026-104", "approved", t("2026-02-24", "16:00:00"))], working)
    assert out == []
    [lead] = run(rule, [tick("2026-02-25T00:00:00+08:00")], working, state)[1]
    assert "3 个工作日" in lead["explanation"]


def test_sending_more_than_24_hours_after_approval():
    approved = transfer("AJ-2026-104", "approved", t("2026-03-05", "10:00:00"))
    _, out = run(rule, [approved, transfer("AJ-2026-104", "sent", t("2026-03-06", "10:00:00"))], cfg())
    assert out == []
    _, out = run(rule, [approved, transfer("AJ-2026-104", "sent", t("2026-03-06", "10:00:01"))], cfg())
    [lead] = out
    assert "2026-03-06 10:00 才移送" in lead["explanation"]
    state, out = run(rule, [approved, tick("2026-03-06T10:00:00+08:00")], cfg())
    assert out == [] and state["_due"] == "2026-03-06T10:00:00+08:00"
    [lead] = run(rule, [tick("2026-03-06T10:00:00.000001+08:00")], cfg(), state)[1]
    assert lead["detected_at"] == "2026-03-06T10:00:00+08:00" and "24 小时" in lead["explanation"]


# ---- XFER_POLICE_NO_DECISION ----------------------------------------------------------------

def test_police_filing_decision_within_3_days_of_acceptance():
    accepted = transfer("AJ-2026-105", "accepted", t("2026-03-10"))
    for kind in ("filed", "declined"):
        _, out = run(rule, [accepted, transfer("AJ-2026-105", kind, t("2026-03-13", "17:00:00")),
                            tick("2026-04-01T00:00:00+08:00")], cfg())
        assert out == []
    state, out = run(rule, [accepted, tick("2026-03-13" + EOD)], cfg())
    assert out == []
    [lead] = run(rule, [tick("2026-03-14T00:00:00+08:00")], cfg(), state)[1]
    assert lead["rule_name"] == "公安未及时作出立案决定" and "第八条" in lead["explanation"]


def test_police_deadline_in_working_days_and_an_uncovered_year():
    working = cfg({"XFER_POLICE_NO_DECISION": {"day_kind": "working"}})
    accepted = transfer("AJ-2026-105", "accepted", t("2026-09-30"))
    # Oct 1–7 off: Oct 8, 9 and the make-up Saturday Oct 10 are the three working days
    assert run(rule, [accepted], working)[0]["_due"] == "2026-10-10" + EOD
    late = transfer("AJ-2026-105", "accepted", t("2026-12-30"))
    with pytest.raises(CalendarYearNotCovered, match="2027"):
        run(rule, [late], working)
    state, _ = run(rule, [late], cfg({"XFER_POLICE_NO_DECISION": {"day_kind": "working"}},
                                     holidays=HOLIDAYS_2027))
    assert state["_due"] == "2027-01-05" + EOD  # Dec 31, (Jan 1 off), Jan 4, Jan 5


# ---- ordering, duplicates, replay -----------------------------------------------------------

def test_signal_before_the_case_events_still_counts():
    f, d = fake_goods()
    _, out = run(rule, [transfer("AJ-2026-101", "sent", t("2026-03-03")), f, d,
                        tick("2026-04-01T00:00:00+08:00")], cfg())
    assert out == []


def test_duplicate_delivery_changes_nothing():
    f, d = fake_goods()
    state, out = run(rule, [f, d, tick("2026-03-09T00:00:00+08:00")], cfg())
    assert len(out) == 1
    for item in (d, tick("2026-03-10T00:00:00+08:00")):
        again, out2 = rule.evaluate(state, item, cfg())
        assert out2 == []
    again, _ = rule.evaluate(state, d, cfg())
    assert again == state


def test_replay_is_deterministic_and_independent_of_tick_spacing():
    f, d = fake_goods()
    signals = [transfer("AJ-2026-101", "report_made", t("2026-03-03")),
               transfer("AJ-2026-101", "approved", t("2026-03-09")),
               transfer("AJ-2026-101", "sent", t("2026-03-11")),
               transfer("AJ-2026-101", "accepted", t("2026-03-12"))]
    daily = [tick(f"2026-03-{day:02d}T12:00:00+08:00") for day in range(3, 20)]
    sparse = [tick("2026-03-20T00:00:00+08:00")]
    a = run(rule, [f, d, *signals, *daily], cfg())
    assert a == run(rule, [f, d, *signals, *daily], cfg())
    b = run(rule, [f, d, *signals, *sparse], cfg())
    final = lambda out: {o["lead_id"]: o for o in out}  # noqa: E731
    assert final(a[1]) == final(b[1])
    assert {o["rule_code"] for o in a[1]} == {"XFER_SUBSTITUTION", "XFER_APPROVAL_LATE",
                                              "XFER_POLICE_NO_DECISION"}


def test_signals_out_of_order():
    approved = transfer("AJ-2026-104", "approved", t("2026-03-04"))
    report = transfer("AJ-2026-104", "report_made", t("2026-03-02"))
    sent = transfer("AJ-2026-104", "sent", t("2026-03-04", "18:00:00"))
    assert run(rule, [sent, approved, report, tick("2026-04-01T00:00:00+08:00")], cfg())[1] == []
    filed_ = transfer("AJ-2026-105", "filed", t("2026-03-12"))
    accepted = transfer("AJ-2026-105", "accepted", t("2026-03-10"))
    assert run(rule, [filed_, accepted, tick("2026-04-01T00:00:00+08:00")], cfg())[1] == []
