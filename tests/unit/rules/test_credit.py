"""Credit-repair triggers (CR_*) and the CR_REPAIR_SLA lead."""
import copy
import json

import pytest

from streams.rules import credit as rule
from streams.rules.calendar import CalendarYearNotCovered

try:
    from .credit_builders import (AGENCY, NO, ORG, PERSON, case_event, codes, config, credit, decided,
                                  only, published, run, tick)
except ImportError:  # tests/unit/rules is not a package
    from credit_builders import (AGENCY, NO, ORG, PERSON, case_event, codes, config, credit, decided,
                                 only, published, run, tick)

ELIGIBLE, EXPIRED = "CR_REPAIR_ELIGIBLE", "CR_PUBLICITY_EXPIRED"
NOT_PUBLISHABLE, REVOKED, SLA = "CR_WITHDRAW_NOT_PUBLISHABLE", "CR_WITHDRAW_REVOKED", "CR_REPAIR_SLA"

MAY31 = "2026-05-31T10:00:00+08:00"


def _obliged(decision, fulfilled="2026-06-10T10:00:00+08:00", rectified="2026-06-12T10:00:00+08:00", **kw):
    return [decision, case_event("fulfilled", fulfilled, **kw), case_event("rectified", rectified, **kw)]


def test_module_contract():
    assert rule.INPUTS == frozenset({"case", "credit"})
    assert rule.CODES == (ELIGIBLE, EXPIRED, NOT_PUBLISHABLE, REVOKED, SLA)
    assert rule.key(case_event("fulfilled", MAY31)) == ORG["uscc"]
    assert rule.key(credit("repair_applied", MAY31)) == ORG["uscc"]
    assert rule.key(credit("repair_applied", MAY31, no=None)) is None
    assert rule.key(credit("risk_class_changed", MAY31)) is None
    assert rule.key(case_event("legal_reviewed", MAY31)) is None


# ---- CR_REPAIR_ELIGIBLE ----

def test_eligible_the_day_after_the_minimum_period():
    # 一般 decided 2026-05-31: minimum period's last day 2026-08-31 (3 months, 民法典 Art. 202)
    items = _obliged(decided(MAY31))
    state, out = run(rule, items + [tick("2026-08-31T23:59:59+08:00")])
    assert out == []
    assert state["_due"] == "2026-08-31T23:59:59.999999+08:00"
    state, out = run(rule, [tick("2026-09-01T00:00:01+08:00")], state=state)
    trig = only(out, ELIGIBLE)
    assert trig["trigger_id"].startswith("CR-")
    assert (trig["uscc"], trig["decision_no"], trig["tier"]) == (ORG["uscc"], NO, "一般")
    assert trig["decided_at"] == MAY31
    assert (trig["min_until"], trig["max_until"], trig["eligible_from"]) == ("2026-08-31", "2027-05-31", "2026-09-01")
    assert trig["detected_at"] == "2026-09-01T00:00:00+08:00"   # not the tick's time
    text = "".join(trig["reasons"])
    assert "第九条" in text and "第十二条" in text and "第十四条" in text and "2026-08-31" in text
    assert [e["ce_id"] for e in trig["evidence"]] == [i.ce_id for i in items]
    assert "_due" not in state      # nothing published: no tick can fire anything more
    json.dumps(trig, ensure_ascii=False)


def test_the_tick_spacing_does_not_change_the_trigger():
    items = _obliged(decided(MAY31))
    daily = [tick(f"2026-{m:02d}-{d:02d}T12:00:00+08:00") for m in (8, 9) for d in range(1, 31)]
    _, a = run(rule, items + daily)
    _, b = run(rule, items + [tick("2026-12-24T03:00:00+08:00")])
    assert a == b and codes(a) == [ELIGIBLE]


def test_obligations_met_after_the_minimum_period_date_the_trigger_by_the_event():
    items = _obliged(decided(MAY31), rectified="2026-10-05T09:00:00+08:00")
    _, out = run(rule, items[:2] + [tick("2026-09-15T00:00:00+08:00"), items[2]])
    assert out == []   # the clock (2026-09-15) has not reached the rectification yet
    _, out = run(rule, items[:2] + [tick("2026-09-15T00:00:00+08:00"), items[2], tick("2026-10-05T09:00:00+08:00")])
    trig = only(out, ELIGIBLE)
    assert (trig["detected_at"], trig["eligible_from"]) == ("2026-10-05T09:00:00+08:00", "2026-10-05")


def test_a_rectification_reported_late_fires_on_arrival_when_the_clock_is_past_it():
    items = _obliged(decided(MAY31), rectified="2026-10-05T09:00:00+08:00")
    _, out = run(rule, items[:2] + [tick("2026-10-20T00:00:00+08:00"), items[2]])
    assert only(out, ELIGIBLE)["detected_at"] == "2026-10-05T09:00:00+08:00"


def test_not_eligible_while_an_obligation_is_missing():
    items = [decided(MAY31), case_event("fulfilled", "2026-06-10T10:00:00+08:00")]
    state, out = run(rule, items + [tick("2026-12-01T00:00:00+08:00")])
    assert out == []


def test_a_running_penalty_duration_blocks_repair_until_it_ends():
    # 严重 (暂扣许可证件) decided 2026-04-01: minimum 1 year → 2027-04-01; licence held until 2027-06-30
    items = _obliged(decided("2026-04-01T10:00:00+08:00", types=["罚款", "暂扣许可证件"],
                             duration_until="2027-06-30"))
    _, out = run(rule, items + [tick("2027-04-02T00:00:01+08:00"), tick("2027-06-30T23:59:59+08:00")])
    assert out == []
    _, out = run(rule, items + [tick("2027-07-01T00:00:01+08:00")])
    trig = only(out, ELIGIBLE)
    assert (trig["tier"], trig["min_until"], trig["eligible_from"]) == ("严重", "2027-04-01", "2027-07-01")
    assert trig["detected_at"] == "2027-07-01T00:00:00+08:00"
    assert any("2027-06-30" in r and "第十二条" in r for r in trig["reasons"])


def test_a_duration_beyond_the_maximum_period_keeps_the_record_up():
    items = [decided("2026-05-01T10:00:00+08:00", types=["限制从业"], duration_until="2030-12-31"),
             published("2026-05-02T10:00:00+08:00")]
    state, out = run(rule, items + [tick("2029-05-02T00:00:01+08:00")])   # 3 years after: still running
    assert out == []
    _, out = run(rule, [tick("2031-01-01T00:00:01+08:00")], state=state)
    trig = only(out, EXPIRED)
    assert trig["max_until"] == "2030-12-31"


def test_order_58_and_order_36_on_either_side_of_the_switch_day():
    before = _obliged(decided("2026-03-31T10:00:00+08:00"), fulfilled="2026-04-10T10:00:00+08:00",
                      rectified="2026-04-10T11:00:00+08:00")
    after = _obliged(decided("2026-04-01T10:00:00+08:00"), fulfilled="2026-04-10T10:00:00+08:00",
                     rectified="2026-04-10T11:00:00+08:00")
    t58 = only(run(rule, before + [tick("2026-07-01T00:00:01+08:00")])[1], ELIGIBLE)
    assert (t58["min_until"], t58["max_until"], t58["eligible_from"]) == ("2026-06-30", "2029-03-31", "2026-07-01")
    assert any("令第58号" in r for r in t58["reasons"])
    assert run(rule, after + [tick("2026-07-01T23:59:59+08:00")])[1] == []
    t36 = only(run(rule, after + [tick("2026-07-02T00:00:01+08:00")])[1], ELIGIBLE)
    assert (t36["min_until"], t36["max_until"], t36["eligible_from"]) == ("2026-07-01", "2027-04-01", "2026-07-02")


def test_order_58_one_year_minimum_for_fire_safety_agencies():
    cfg = config(agencies=[{"agency_code": AGENCY, "name": "某某消防救援支队", "region_code": "350100", "domain": "消防"}])
    items = _obliged(decided("2025-09-30T10:00:00+08:00"), fulfilled="2025-10-10T10:00:00+08:00",
                     rectified="2025-10-11T10:00:00+08:00")
    assert run(rule, items + [tick("2026-09-30T23:59:59+08:00")], cfg)[1] == []
    trig = only(run(rule, items + [tick("2026-10-01T00:00:01+08:00")], cfg)[1], ELIGIBLE)
    assert trig["min_until"] == "2026-09-30"


def test_a_published_minor_decision_is_repairable_once_obligations_are_met():
    items = [decided("2026-04-20T10:00:00+08:00", procedure="简易", fine="200"),
             published("2026-04-21T10:00:00+08:00"),
             case_event("fulfilled", "2026-04-22T10:00:00+08:00"),
             case_event("rectified", "2026-04-23T15:00:00+08:00"), tick("2026-04-23T15:01:00+08:00")]
    _, out = run(rule, items)
    assert codes(out) == [NOT_PUBLISHABLE, ELIGIBLE]
    trig = out[1]
    assert (trig["tier"], trig["min_until"], trig["max_until"]) == ("轻微", "2026-04-20", "2026-07-20")
    assert (trig["eligible_from"], trig["detected_at"]) == ("2026-04-23", "2026-04-23T15:00:00+08:00")


def test_an_unpublished_minor_decision_needs_no_repair():
    _, out = run(rule, _obliged(decided(MAY31, types=["警告"], fine=None)) + [tick("2026-12-01T00:00:00+08:00")])
    assert out == []


def test_natural_persons_need_repair_only_for_what_was_published():
    items = _obliged(decided(MAY31, party=PERSON), party=PERSON)
    assert run(rule, items + [tick("2026-09-02T00:00:00+08:00")])[1] == []
    items.insert(1, published("2026-06-01T10:00:00+08:00", party=PERSON))
    assert codes(run(rule, items + [tick("2026-09-02T00:00:00+08:00")])[1]) == [ELIGIBLE]


def test_no_eligibility_after_revocation():
    items = _obliged(decided(MAY31)) + [case_event("revoked", "2026-07-01T10:00:00+08:00", by="诉讼")]
    assert run(rule, items + [tick("2026-09-02T00:00:00+08:00")])[1] == []


# ---- CR_PUBLICITY_EXPIRED ----

def test_expired_the_day_after_the_maximum_while_still_shown():
    # 轻微 max 3 months: 2026-04-20 → last day 2026-07-20
    items = [decided("2026-04-20T10:00:00+08:00", procedure="简易", fine="200"),
             published("2026-04-21T10:00:00+08:00")]
    _, out = run(rule, items + [tick("2026-07-20T23:59:59+08:00")])
    assert codes(out) == [NOT_PUBLISHABLE]
    _, out = run(rule, items + [tick("2026-07-21T00:00:01+08:00")])
    trig = only(out, EXPIRED)
    assert trig["detected_at"] == "2026-07-21T00:00:00+08:00"
    assert trig["max_until"] == "2026-07-20"


def test_taken_down_on_the_last_day_is_not_expired():
    items = [decided("2026-04-20T10:00:00+08:00", procedure="简易", fine="200"),
             published("2026-04-21T10:00:00+08:00"), case_event("unpublished", "2026-07-20T20:00:00+08:00")]
    assert codes(run(rule, items + [tick("2026-08-01T00:00:00+08:00")])[1]) == [NOT_PUBLISHABLE]


def test_general_expiry_in_2027_needs_no_working_day_calendar():
    items = [decided(MAY31), credit("publicity_started", "2026-06-02T10:00:00+08:00")]
    _, out = run(rule, items + [tick("2027-06-01T00:00:01+08:00")])
    trig = only(out, EXPIRED)
    assert (trig["max_until"], trig["detected_at"]) == ("2027-05-31", "2027-06-01T00:00:00+08:00")


# ---- CR_WITHDRAW_NOT_PUBLISHABLE ----

def test_a_natural_person_on_credit_china_must_come_down():
    items = [decided(MAY31, party=PERSON), credit("publicity_started", "2026-06-02T10:00:00+08:00",
                                                  uscc=PERSON["id_token"])]
    trig = only(run(rule, items)[1], NOT_PUBLISHABLE)
    # no USCC: the trigger names the person by the key token (the trigger schema needs a string)
    assert trig["uscc"] == PERSON["id_token"] and trig["decision_no"] == NO
    assert trig["detected_at"] == "2026-06-02T10:00:00+08:00"
    assert any("自然人" in r for r in trig["reasons"])


def test_a_natural_person_on_the_department_site_is_not_a_credit_trigger():
    items = [decided(MAY31, party=PERSON), published("2026-06-02T10:00:00+08:00", party=PERSON)]
    assert run(rule, items)[1] == []


def test_a_general_decision_of_a_company_may_be_published():
    assert run(rule, [decided(MAY31), published("2026-06-02T10:00:00+08:00")])[1] == []


# ---- CR_WITHDRAW_REVOKED ----

def test_a_published_decision_revoked_must_come_down():
    items = [decided(MAY31), published("2026-06-02T10:00:00+08:00"),
             case_event("revoked", "2026-08-03T10:00:00+08:00", by="复议")]
    trig = only(run(rule, items)[1], REVOKED)
    assert trig["detected_at"] == "2026-08-03T10:00:00+08:00"
    assert any("第十九条" in r and "复议" in r for r in trig["reasons"])


def test_revoking_an_unpublished_or_withdrawn_decision_triggers_nothing():
    assert run(rule, [decided(MAY31), case_event("revoked", "2026-08-03T10:00:00+08:00")])[1] == []
    items = [decided(MAY31), published("2026-06-02T10:00:00+08:00"),
             case_event("unpublished", "2026-07-02T10:00:00+08:00"),
             case_event("revoked", "2026-08-03T10:00:00+08:00")]
    assert run(rule, items)[1] == []


def test_a_changed_then_redecided_decision_is_a_new_decision():
    items = [decided(MAY31), published("2026-06-02T10:00:00+08:00"),
             case_event("changed", "2026-07-01T10:00:00+08:00", by="自行纠正"),
             decided("2026-07-02T10:00:00+08:00", fine="30000"),
             published("2026-07-03T10:00:00+08:00"),
             case_event("revoked", "2026-08-03T10:00:00+08:00", by="诉讼")]
    _, out = run(rule, items)
    assert codes(out) == [REVOKED, REVOKED]
    assert out[0]["trigger_id"] != out[1]["trigger_id"]
    assert [o["decided_at"] for o in out] == [MAY31, "2026-07-02T10:00:00+08:00"]


# ---- fire once, replays, out of order ----

def test_duplicates_and_replays_never_fire_twice():
    items = _obliged(decided(MAY31)) + [published("2026-06-02T10:00:00+08:00"),
                                        case_event("revoked", "2026-10-03T10:00:00+08:00")]
    stream = items + [items[0], tick("2026-09-02T00:00:00+08:00"), tick("2026-09-02T00:00:00+08:00"),
                      case_event("revoked", "2026-10-03T10:00:00+08:00"),   # same fact, new ce_id
                      tick("2026-10-10T00:00:00+08:00")]
    state, out = run(rule, stream)
    assert codes(out) == [REVOKED, ELIGIBLE]   # the revocation fires on its event; eligibility on the tick
    # replaying the whole log into the state again adds nothing
    _, again = run(rule, stream, state=copy.deepcopy(state))
    assert again == []
    # and a fresh replay yields the same triggers
    assert run(rule, stream)[1] == out


def test_out_of_order_obligations_give_the_same_trigger():
    d, f, r = _obliged(decided(MAY31))
    final = [tick("2026-09-02T00:00:00+08:00")]
    assert run(rule, [r, f, d] + final)[1] == run(rule, [d, f, r] + final)[1]


# ---- CR_REPAIR_SLA ----
# applied Tue 2026-09-29: 3 WD → 9-30, 10-8, 10-9 (National Day) → accept by 2026-10-09

SEP29 = "2026-09-29T10:00:00+08:00"


def test_acceptance_due_three_working_days_after_the_push():
    items = [credit("repair_applied", SEP29)]
    assert run(rule, items + [tick("2026-10-09T23:59:59+08:00")])[1] == []
    lead = only(run(rule, items + [tick("2026-10-10T00:00:01+08:00")])[1], SLA)
    assert lead["subject"] == {"type": "decision", "id": NO, "name": None}
    assert lead["detected_at"] == lead["due_at"] == "2026-10-09T23:59:59.999999+08:00"
    assert "第十六条" in lead["explanation"] and "2026-10-09" in lead["explanation"]


def test_accepting_on_the_last_day_is_on_time():
    items = [credit("repair_applied", SEP29), credit("repair_accepted", "2026-10-09T17:00:00+08:00")]
    state, out = run(rule, items + [tick("2026-10-10T00:00:01+08:00")])
    assert out == []
    # the result is now due 7 WD after 2026-10-09: 10-10 (调休), 12, 13, 14, 15, 16, 19
    assert state["_due"] == "2026-10-19T23:59:59.999999+08:00"


def test_a_late_acceptance_is_in_the_lead():
    items = [decided(MAY31), credit("repair_applied", SEP29), credit("repair_accepted", "2026-10-12T09:00:00+08:00"),
             tick("2026-10-12T10:00:00+08:00")]
    lead = only(run(rule, items)[1], SLA)
    assert lead["subject"]["name"] == ORG["name"] and lead["agency_code"] == AGENCY
    assert len(lead["evidence"]) == 2 and "2026-10-12" in lead["explanation"]


def test_result_due_seven_working_days_after_acceptance():
    # accepted Mon 2026-10-12: 10-13 … 10-21 is 7 WD
    items = [credit("repair_accepted", "2026-10-12T09:00:00+08:00")]
    assert run(rule, items + [tick("2026-10-21T23:59:59+08:00")])[1] == []
    assert codes(run(rule, items + [tick("2026-10-22T00:00:01+08:00")])[1]) == [SLA]
    on_time = items + [credit("repair_rejected", "2026-10-21T18:00:00+08:00"), tick("2026-11-30T00:00:00+08:00")]
    assert run(rule, on_time)[1] == []


def test_an_extended_acceptance_adds_ten_working_days():
    items = [credit("repair_accepted", "2026-10-12T09:00:00+08:00", details={"extended": True})]
    assert run(rule, items + [tick("2026-11-04T23:59:59+08:00")])[1] == []
    lead = only(run(rule, items + [tick("2026-11-05T00:00:01+08:00")])[1], SLA)
    assert lead["due_at"] == "2026-11-04T23:59:59.999999+08:00" and "延长10个工作日" in lead["explanation"]


def test_each_application_is_its_own_finding():
    items = [credit("repair_applied", "2026-06-01T10:00:00+08:00"), credit("repair_accepted", "2026-06-02T10:00:00+08:00"),
             credit("repair_rejected", "2026-06-05T10:00:00+08:00"),
             credit("repair_applied", SEP29), tick("2026-10-10T00:00:01+08:00"), tick("2026-10-11T00:00:01+08:00")]
    _, out = run(rule, items)
    assert codes(out) == [SLA]
    assert "2026-09-29" in out[0]["explanation"]


def test_sla_deadlines_in_2027_fail_loudly_unless_holidays_are_given():
    items = [credit("repair_applied", "2026-12-30T10:00:00+08:00")]
    state, _ = run(rule, items)
    with pytest.raises(CalendarYearNotCovered):
        rule.evaluate(state, tick("2026-12-31T00:00:01+08:00"), config())
    cfg = config(holidays=[{"year": 2027, "holidays": ["2027-01-01"], "workdays": []}])
    # 12-31, (1-1 holiday, weekend) 1-4, 1-5 → accept by 2027-01-05
    assert run(rule, items + [tick("2027-01-05T23:59:59+08:00")], cfg)[1] == []
    assert only(run(rule, items + [tick("2027-01-06T00:00:01+08:00")], cfg)[1], SLA)["due_at"].startswith("2027-01-05")


def test_a_prompt_answer_needs_no_calendar_for_the_next_year():
    items = [credit("repair_applied", "2026-12-30T10:00:00+08:00"), credit("repair_accepted", "2026-12-31T10:00:00+08:00"),
             credit("repair_granted", "2026-12-31T16:00:00+08:00"), tick("2027-03-01T00:00:00+08:00")]
    state, out = run(rule, items)
    assert out == [] and "_due" not in state


def test_a_penalty_duration_given_as_a_date_object_is_stored_as_text():
    from datetime import date

    state, _ = run(rule, [decided(MAY31, types=["暂扣许可证件"], duration_until=date(2026, 12, 31))])
    assert state["records"][NO]["decisions"][0]["duration_until"] == "2026-12-31"


def test_details_sent_as_a_json_string_are_read():
    items = [credit("repair_accepted", "2026-10-12T09:00:00+08:00", details='{"extended": true}'),
             tick("2026-10-22T00:00:01+08:00")]
    assert run(rule, items)[1] == []   # extended: due 2026-11-04


# ---- the enterprise state: records per decision, due, pruning, offsets ----

def test_the_state_due_is_the_earliest_of_its_decisions():
    other = "榕市监罚〔2026〕202号"
    items = _obliged(decided(MAY31)) + [
        decided("2026-06-15T10:00:00+08:00", no=other, case_id="CASE-2"),
        case_event("fulfilled", "2026-06-16T10:00:00+08:00", case_id="CASE-2", no=None),
        case_event("rectified", "2026-06-16T11:00:00+08:00", case_id="CASE-2", no=None)]
    state, _ = run(rule, items)
    assert state["records"][NO]["_due"] == "2026-08-31T23:59:59.999999+08:00"
    assert state["records"][other]["_due"] == "2026-09-15T23:59:59.999999+08:00"
    assert state["_due"] == "2026-08-31T23:59:59.999999+08:00"
    state, out = run(rule, [tick("2026-09-01T00:00:01+08:00")], state=state)
    assert [o["decision_no"] for o in out] == [NO]
    assert state["_due"] == "2026-09-15T23:59:59.999999+08:00"


def test_settled_records_are_dropped_after_the_retention_years():
    state, _ = run(rule, _obliged(decided(MAY31)) + [tick("2026-09-02T00:00:00+08:00")])
    assert NO in state["records"] and "_due" not in state
    later = decided("2031-07-01T10:00:00+08:00", no="榕市监罚〔2031〕1号", case_id="CASE-2031")
    state, _ = run(rule, [later], state=state)
    assert list(state["records"]) == ["榕市监罚〔2031〕1号"] and state["cases"] == {"CASE-2031": "榕市监罚〔2031〕1号"}


def test_the_senders_offset_is_kept_and_does_not_change_the_trigger_id():
    utc = _obliged(decided("2026-05-31T02:00:00+00:00"))
    cst = _obliged(decided(MAY31))
    a = only(run(rule, utc + [tick("2026-09-02T00:00:00+08:00")])[1], ELIGIBLE)
    b = only(run(rule, cst + [tick("2026-09-02T00:00:00+08:00")])[1], ELIGIBLE)
    assert a["decided_at"] == "2026-05-31T02:00:00+00:00" and b["decided_at"] == MAY31
    assert a["trigger_id"] == b["trigger_id"] and a["min_until"] == b["min_until"] == "2026-08-31"
