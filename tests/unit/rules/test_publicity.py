"""PEN_PUBLICITY_LATE / _SCOPE / _STALE: boundary days, holidays and 调休, replays."""
import copy

import pytest

from streams.rules import publicity
from streams.rules.calendar import CalendarYearNotCovered

try:
    from .credit_builders import (CASE, NO, ORG, PERSON, SOLE, case_event, codes, config, credit, decided,
                                  only, published, run, tick)
except ImportError:  # tests/unit/rules is not a package
    from credit_builders import (CASE, NO, ORG, PERSON, SOLE, case_event, codes, config, credit, decided,
                                 only, published, run, tick)

LATE, SCOPE, STALE = "PEN_PUBLICITY_LATE", "PEN_PUBLICITY_SCOPE", "PEN_PUBLICITY_STALE"

# National Day 2026: Oct 1–7 off, Sat Oct 10 a make-up workday. 7 WD after Tue 2026-09-29:
# 9-30, 10-8, 10-9, 10-10, 10-12, 10-13, 10-14 → due 2026-10-14.
SEP29 = "2026-09-29T10:00:00+08:00"


def test_module_contract():
    assert publicity.INPUTS == frozenset({"case", "credit"})
    assert publicity.CODES == (LATE, SCOPE, STALE)
    # keyed like the enterprise key space: credit events by uscc, forwarded case facts by the party
    assert publicity.key(decided(SEP29)) == ORG["uscc"]
    assert publicity.key(decided(SEP29, party=PERSON)) == PERSON["id_token"]
    assert publicity.key(published(SEP29)) == ORG["uscc"]
    assert publicity.key(credit("publicity_started", SEP29)) == ORG["uscc"]
    assert publicity.key(credit("repair_applied", SEP29)) is None      # not a publicity fact
    assert publicity.key(case_event("fulfilled", SEP29)) is None        # credit.py's business
    assert publicity.key(decided(SEP29, no=None)) is None


def test_case_events_find_their_decision_through_the_case():
    # the forwarded `published` carries only case_id: the case's `decided` names the decision
    p = published("2026-09-30T10:00:00+08:00", no=None)
    state, out = run(publicity, [decided(SEP29, procedure="简易", fine="100"), p])
    assert codes(out) == [SCOPE]
    assert state["cases"] == {CASE: NO} and list(state["records"]) == [NO]


def test_a_case_event_before_any_decision_is_ignored():
    state, out = run(publicity, [published("2026-09-30T10:00:00+08:00", no=None)])
    assert out == [] and state.get("records") == {}


def test_several_decisions_of_one_enterprise_are_judged_apart():
    other = "榕市监罚〔2026〕202号"
    items = [decided(SEP29), decided("2026-09-30T10:00:00+08:00", no=other, case_id="CASE-2"),
             published("2026-10-09T10:00:00+08:00"), tick("2026-10-16T00:00:01+08:00")]
    state, out = run(publicity, items)
    assert [o["subject"]["id"] for o in out] == ["CASE-2"]
    assert set(state["records"]) == {NO, other}


# ---- PEN_PUBLICITY_LATE ----

def test_late_is_judged_after_the_due_day_across_national_day_and_its_make_up_day():
    state, out = run(publicity, [decided(SEP29), tick("2026-10-14T23:00:00+08:00")])
    assert out == []
    state, out = run(publicity, [tick("2026-10-15T00:00:01+08:00")], state=state)
    lead = only(out, LATE)
    assert lead["detected_at"] == "2026-10-14T23:59:59.999999+08:00"
    assert lead["due_at"] == lead["detected_at"]
    assert lead["subject"] == {"type": "case", "id": CASE, "name": ORG["name"]}
    assert "2026-10-14" in lead["explanation"] and "118号" in lead["explanation"]
    assert lead["evidence"][0]["topic"] == "enforcement.cases"
    assert "_due" not in state


def test_publishing_on_the_due_day_is_on_time():
    _, out = run(publicity, [decided(SEP29), published("2026-10-14T22:00:00+08:00"),
                             tick("2026-10-15T00:00:01+08:00"), tick("2026-12-01T00:00:00+08:00")])
    assert codes(out, LATE) == []


def test_spring_festival_2026_and_its_two_saturday_make_up_days():
    # decided Thu 2026-02-12: 2-13, Sat 2-14 (make-up), 2-24 … 2-27, Sat 2-28 (make-up) → due 2-28
    items = [decided("2026-02-12T15:00:00+08:00", fine="80000")]
    _, out = run(publicity, items + [tick("2026-02-28T23:59:59+08:00")])
    assert out == []
    _, out = run(publicity, items + [tick("2026-03-01T00:00:00.500000+08:00")])
    assert only(out, LATE)["detected_at"] == "2026-02-28T23:59:59.999999+08:00"


def test_a_late_publication_extends_the_lead_raised_on_the_tick():
    d, p = decided(SEP29), published("2026-10-16T09:00:00+08:00")
    _, by_tick = run(publicity, [d, tick("2026-10-15T08:00:00+08:00"), p])
    # the tick raised it; the late publication re-sends it extended with its evidence (same lead)
    assert [o["lead_id"] for o in by_tick] == [by_tick[0]["lead_id"]] * 2
    assert "实际于2026-10-16" in by_tick[-1]["explanation"] and len(by_tick[-1]["evidence"]) == 2
    # a replay whose first tick comes only after the publication ends with the same lead
    _, sparse = run(publicity, [d, p, tick("2026-10-20T00:00:00+08:00")])
    assert sparse == [by_tick[-1]]


def test_deadlines_wait_for_a_tick_even_when_a_later_fact_arrives():
    # facts never move the clock: the late publication alone proves nothing until a tick
    _, out = run(publicity, [decided(SEP29), published("2026-10-16T09:00:00+08:00")])
    assert out == []


def test_minor_decisions_need_not_be_published():
    _, out = run(publicity, [decided(SEP29, types=["警告"], fine=None), tick("2026-12-01T00:00:00+08:00")])
    assert out == []


def test_natural_persons_are_not_counted_unless_configured():
    items = [decided(SEP29, party=PERSON), tick("2026-10-15T00:00:01+08:00")]
    assert run(publicity, items)[1] == []
    cfg = config({LATE: {"include_natural_persons": True}})
    assert codes(run(publicity, items, cfg)[1]) == [LATE]


def test_sole_proprietors_count_as_publishable():
    _, out = run(publicity, [decided(SEP29, party=SOLE), tick("2026-10-15T00:00:01+08:00")])
    assert codes(out) == [LATE]


def test_a_decision_revoked_before_the_deadline_needs_no_publication():
    _, out = run(publicity, [decided(SEP29), case_event("revoked", "2026-10-12T10:00:00+08:00", by="复议"),
                             tick("2026-10-20T00:00:00+08:00")])
    assert out == []


def test_due_tells_the_worker_when_a_tick_can_matter():
    state, _ = run(publicity, [decided(SEP29)])
    assert state["_due"] == "2026-09-29T23:59:59.999999+08:00"  # lower bound: the decision day
    state, _ = run(publicity, [tick("2026-09-30T00:00:01+08:00")], state=state)
    assert state["_due"] == "2026-10-14T23:59:59.999999+08:00"
    state, _ = run(publicity, [published("2026-10-09T10:00:00+08:00")], state=state)
    # on time; what is left is taking it down after the maximum period (一般: 1 year)
    assert state["_due"] == "2027-09-29T23:59:59.999999+08:00"
    state, _ = run(publicity, [case_event("unpublished", "2026-12-01T10:00:00+08:00")], state=state)
    assert "_due" not in state


def test_duplicates_and_repeated_ticks_raise_one_lead():
    d = decided(SEP29, ce_id="ce-dup")
    items = [d, d, decided(SEP29, ce_id="ce-other-id-same-fact"),
             tick("2026-10-15T00:00:01+08:00"), tick("2026-10-15T00:00:01+08:00"),
             tick("2026-10-16T00:00:00+08:00"), d]
    state, out = run(publicity, items)
    assert codes(out) == [LATE]
    assert len(state["records"][NO]["decisions"]) == 1


def test_replays_with_other_tick_spacing_give_the_same_leads():
    facts = [decided(SEP29), published("2026-10-20T10:00:00+08:00"),
             case_event("revoked", "2026-11-02T10:00:00+08:00", by="诉讼")]
    hourly = [tick(f"2026-10-{d:02d}T{h:02d}:00:00+08:00") for d in range(1, 31) for h in range(0, 24, 6)]
    dense = sorted(facts + hourly, key=_time) + [tick("2026-12-31T00:00:00+08:00")]
    sparse = facts + [tick("2026-12-31T00:00:00+08:00")]
    _, a = run(publicity, dense)
    _, b = run(publicity, sparse)
    final = lambda outs: {o["lead_id"]: o for o in outs}
    assert final(a) == final(b)
    assert sorted(codes(final(a).values())) == [LATE, STALE]


def _time(item):
    from streams.rules.base import Tick, event_time

    return item.at if isinstance(item, Tick) else event_time(item)


def test_year_not_covered_by_the_calendar_fails_loudly_unless_holidays_are_given():
    items = [decided("2026-12-28T10:00:00+08:00")]
    state, _ = run(publicity, items)
    before = copy.deepcopy(state)
    with pytest.raises(CalendarYearNotCovered, match="2027"):
        publicity.evaluate(state, tick("2026-12-29T00:00:01+08:00"), config())
    assert state == before  # the table value is untouched
    cfg = config(holidays=[{"year": 2027, "holidays": ["2027-01-01"], "workdays": []}])
    # 12-29, 12-30, 12-31, (1-1 holiday, weekend) 1-4, 1-5, 1-6, 1-7 → due 2027-01-07
    _, out = run(publicity, items + [tick("2027-01-07T23:00:00+08:00")], cfg)
    assert out == []
    _, out = run(publicity, items + [tick("2027-01-08T00:00:01+08:00")], cfg)
    assert only(out, LATE)["due_at"] == "2027-01-07T23:59:59.999999+08:00"


# ---- PEN_PUBLICITY_SCOPE ----

def test_publishing_a_minor_decision_is_over_scope():
    _, out = run(publicity, [decided(SEP29, procedure="简易", fine="200"),
                             published("2026-09-30T10:00:00+08:00")])
    lead = only(out, SCOPE)
    assert lead["detected_at"] == "2026-09-30T10:00:00+08:00"
    assert "第八条" in lead["explanation"] and "第十二条" in lead["explanation"]
    assert len(lead["evidence"]) == 2


def test_a_natural_persons_penalty_on_credit_china_is_over_scope():
    _, out = run(publicity, [decided(SEP29, party=PERSON), published("2026-09-30T10:00:00+08:00", channel="信用中国", party=PERSON)])
    assert "自然人" in only(out, SCOPE)["explanation"]


def test_credit_chinas_own_publicity_of_a_natural_person_is_over_scope():
    # correlated only when the credit platform names the person by the same token
    _, out = run(publicity, [decided(SEP29, party=PERSON), credit("publicity_started", "2026-10-08T10:00:00+08:00",
                                                                  uscc=PERSON["id_token"], details={"masked": True})])
    assert codes(out) == [SCOPE]


def test_an_unmasked_natural_person_is_over_scope_on_any_channel():
    _, out = run(publicity, [decided(SEP29, party=PERSON), published("2026-09-30T10:00:00+08:00", masked=False, party=PERSON)])
    assert "第五十条" in only(out, SCOPE)["explanation"]


def test_masked_natural_person_on_the_department_site_and_unmasked_companies_are_in_scope():
    assert run(publicity, [decided(SEP29, party=PERSON), published("2026-09-30T10:00:00+08:00", party=PERSON)])[1] == []
    assert run(publicity, [decided(SEP29), published("2026-09-30T10:00:00+08:00", masked=False)])[1] == []


def test_an_unmasked_natural_person_on_credit_china_gives_two_findings():
    _, out = run(publicity, [decided(SEP29, party=PERSON),
                             published("2026-09-30T10:00:00+08:00", channel="信用中国", masked=False, party=PERSON)])
    assert codes(out) == [SCOPE, SCOPE]
    assert len({o["lead_id"] for o in out}) == 2


def test_a_publication_seen_before_its_decision_is_judged_when_the_decision_arrives():
    _, out = run(publicity, [published("2026-09-30T10:00:00+08:00"),
                             decided(SEP29, procedure="简易", fine="100")])
    assert codes(out) == [SCOPE]


def test_a_second_publication_for_the_same_reason_extends_the_lead():
    _, out = run(publicity, [decided(SEP29, types=["警告"], fine=None),
                             published("2026-09-30T10:00:00+08:00"),
                             published("2026-10-08T10:00:00+08:00", channel="企业信用信息公示系统")])
    assert codes(out) == [SCOPE, SCOPE]
    assert out[0]["lead_id"] == out[1]["lead_id"]
    assert len(out[1]["evidence"]) == 3


# ---- PEN_PUBLICITY_STALE ----
# revoked Tue 2026-09-29: 3 WD → 9-30, 10-8, 10-9 → withdraw by 2026-10-09

def _published_then_revoked(kind="revoked"):
    return [decided("2026-09-10T10:00:00+08:00"), published("2026-09-11T10:00:00+08:00"),
            case_event(kind, SEP29, by="复议")]


def test_still_published_three_working_days_after_revocation():
    _, out = run(publicity, _published_then_revoked() + [tick("2026-10-09T23:59:59+08:00")])
    assert out == []
    _, out = run(publicity, _published_then_revoked() + [tick("2026-10-10T00:00:01+08:00")])
    lead = only(out, STALE)
    assert lead["detected_at"] == "2026-10-09T23:59:59.999999+08:00"
    assert "第四十八条" in lead["explanation"] and "2026-10-09" in lead["explanation"]


def test_withdrawn_on_the_last_day_is_on_time():
    _, out = run(publicity, _published_then_revoked()
                 + [case_event("unpublished", "2026-10-09T18:00:00+08:00"), tick("2026-10-20T00:00:00+08:00")])
    assert out == []


def test_a_late_withdrawal_is_a_finding_on_the_next_tick():
    _, out = run(publicity, _published_then_revoked() + [case_event("unpublished", "2026-10-10T09:00:00+08:00"),
                                                         tick("2026-10-30T00:00:00+08:00")])
    lead = only(out, STALE)
    assert lead["detected_at"] == "2026-10-09T23:59:59.999999+08:00" and len(lead["evidence"]) == 4


def test_a_corrected_republication_after_a_change_is_not_stale():
    items = _published_then_revoked("changed") + [
        decided("2026-09-30T10:00:00+08:00", fine="30000"),          # the changed decision
        published("2026-10-08T10:00:00+08:00"),                      # replaces the old record
        tick("2026-10-20T00:00:00+08:00")]
    _, out = run(publicity, items)
    assert out == []


def test_a_changed_decision_left_unchanged_online_is_stale():
    items = _published_then_revoked("changed") + [tick("2026-10-10T00:00:01+08:00")]
    assert codes(run(publicity, items)[1]) == [STALE]


def test_still_published_three_working_days_after_a_granted_repair():
    items = [decided("2026-04-15T10:00:00+08:00"), published("2026-04-16T10:00:00+08:00"),
             credit("repair_granted", SEP29)]
    assert run(publicity, items + [tick("2026-10-09T23:59:59+08:00")])[1] == []
    lead = only(run(publicity, items + [tick("2026-10-10T00:00:01+08:00")])[1], STALE)
    assert "信用修复" in lead["explanation"]


def test_credit_chinas_own_record_must_also_come_down_after_repair():
    items = [decided("2026-04-15T10:00:00+08:00"), credit("publicity_started", "2026-04-20T10:00:00+08:00"),
             credit("repair_granted", SEP29), credit("publicity_ended", "2026-10-09T10:00:00+08:00"),
             tick("2026-10-12T00:00:00+08:00")]
    assert run(publicity, items)[1] == []


def test_still_published_three_working_days_after_the_maximum_period():
    # 轻微 (简易程序) max 3 months: 2026-04-20 → 2026-07-20; +3 WD → 2026-07-23
    items = [decided("2026-04-20T10:00:00+08:00", procedure="简易", fine="200"),
             published("2026-04-21T10:00:00+08:00")]
    _, out = run(publicity, items + [tick("2026-07-23T23:59:59+08:00")])
    assert codes(out) == [SCOPE]
    _, out = run(publicity, items + [tick("2026-07-24T00:00:01+08:00")])
    assert sorted(codes(out)) == [SCOPE, STALE]
    assert only(out, STALE)["due_at"] == "2026-07-23T23:59:59.999999+08:00"


def test_a_far_maximum_date_needs_no_calendar_until_it_comes():
    # 一般 max 2027-05-31 lies in a year chinesecalendar lacks; nothing raises before then
    items = [decided("2026-05-31T10:00:00+08:00"), published("2026-06-01T10:00:00+08:00"),
             tick("2026-12-31T23:00:00+08:00")]
    state, out = run(publicity, items)
    assert out == [] and state["_due"] == "2027-05-31T23:59:59.999999+08:00"
    with pytest.raises(CalendarYearNotCovered):
        publicity.evaluate(state, tick("2027-06-01T00:00:01+08:00"), config())


def test_out_of_order_withdrawal_gives_the_in_order_answer():
    ordered = _published_then_revoked() + [case_event("unpublished", "2026-10-09T18:00:00+08:00")]
    shuffled = [ordered[2], ordered[3], ordered[0], ordered[1]]
    for items in (ordered, shuffled):
        assert run(publicity, items + [tick("2026-10-20T00:00:00+08:00")])[1] == []


def test_an_early_publication_needs_no_calendar_for_the_year_the_deadline_would_fall_in():
    items = [decided("2026-12-28T10:00:00+08:00"), published("2026-12-30T10:00:00+08:00"),
             case_event("unpublished", "2026-12-31T10:00:00+08:00"), tick("2027-01-20T00:00:00+08:00")]
    state, out = run(publicity, items)
    assert out == [] and "_due" not in state


def test_a_prompt_withdrawal_needs_no_calendar_for_the_next_year():
    items = [decided("2026-12-01T10:00:00+08:00"), published("2026-12-02T10:00:00+08:00"),
             case_event("revoked", "2026-12-29T10:00:00+08:00"),
             case_event("unpublished", "2026-12-31T10:00:00+08:00"), tick("2027-02-01T00:00:00+08:00")]
    assert run(publicity, items)[1] == []


def test_a_redelivery_under_a_new_id_after_the_lead_does_not_resend_it():
    items = [decided(SEP29, ce_id="ce-a"), tick("2026-10-15T00:00:01+08:00"), decided(SEP29, ce_id="ce-b"),
             tick("2026-10-16T00:00:01+08:00")]
    _, out = run(publicity, items)
    assert codes(out) == [LATE]


def test_a_corrected_decision_at_the_same_time_replaces_the_first():
    state, out = run(publicity, [decided(SEP29, fine="50000"), decided(SEP29, procedure="简易", fine="200"),
                                 published("2026-09-30T10:00:00+08:00")])
    assert len(state["records"][NO]["decisions"]) == 1 and codes(out) == [SCOPE]
