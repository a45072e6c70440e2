"""行政处罚办案规则: PEN_* codes of streams/rules/case.py (行政处罚法 Arts. 33, 34, 51, 58, 60)."""
import pytest

from streams.rules import case as rule
from streams.rules.calendar import CalendarYearNotCovered

from .conftest import (
    AGY_SCJ, ENT, ENT_NAME, HOLIDAYS_2027, REGION, case_event, codes, config, decided, filed,
    run, t, tick,
)

EOD = "T23:59:59.999999+08:00"
PERSON = {"type": "自然人", "id_token": "pid-7f3a9c", "name": "张某某"}
BUSINESS = {"type": "个体工商户", "uscc": "92330203MA2J8B6K4Y", "name": "海曙区鼓楼小吃店"}


def overdue(out):
    return codes(out, "PEN_DECISION_OVERDUE")


# ---- PEN_SUMMARY_LIMIT ----------------------------------------------------------------------

@pytest.mark.parametrize("party,fine,fires", [
    (None, "3000.00", False), (None, "3000.01", True),
    (PERSON, "200", False), (PERSON, "201", True),
    (BUSINESS, "201", True),
])
def test_summary_procedure_fine_limits(party, fine, fires):
    f = filed("AJ-2026-001", "2026-03-02", **({"party": party} if party else {}))
    d = decided("AJ-2026-001", "2026-03-02", filing=f, procedure="简易", fine_amount=fine)
    leads = codes(run(rule, [f, d], config())[1], "PEN_SUMMARY_LIMIT")
    assert bool(leads) == fires
    if fires:
        assert leads[0]["rule_name"] == "简易程序超限" and "第五十一条" in leads[0]["explanation"]
        assert leads[0]["subject"]["type"] == "case" and leads[0]["subject"]["id"] == "AJ-2026-001"
        assert len(leads[0]["evidence"]) == 2


def test_individual_business_can_be_configured_as_an_organisation():
    f = filed("AJ-2026-001", "2026-03-02", party=BUSINESS)
    d = decided("AJ-2026-001", "2026-03-02", filing=f, procedure="简易", fine_amount="201")
    cfg = config({"PEN_SUMMARY_LIMIT": {"individual_business_as": "organisation"}})
    assert codes(run(rule, [f, d], cfg)[1], "PEN_SUMMARY_LIMIT") == []


def test_summary_procedure_with_a_licence_revocation_or_ordinary_procedure():
    f = filed("AJ-2026-001", "2026-03-02")
    d = decided("AJ-2026-001", "2026-03-02", procedure="简易", fine_amount="0",
                penalty_types=["吊销许可证件"])
    [lead] = codes(run(rule, [f, d], config())[1], "PEN_SUMMARY_LIMIT")
    assert "吊销许可证件" in lead["explanation"]
    d = decided("AJ-2026-001", "2026-03-02", procedure="普通", fine_amount="50000")
    assert codes(run(rule, [f, d], config())[1], "PEN_SUMMARY_LIMIT") == []


# ---- PEN_DECISION_OVERDUE -------------------------------------------------------------------

def test_decision_overdue_fires_only_after_the_90th_day():
    f = filed("AJ-2026-002", "2026-01-05")
    state, out = run(rule, [f, tick("2026-04-05" + EOD)], config())
    assert overdue(out) == [] and state["_due"] == "2026-04-05" + EOD
    state, out = run(rule, [tick("2026-04-06T00:00:00+08:00")], config(), state)
    [lead] = overdue(out)
    assert lead["rule_name"] == "办案超期" and lead["detected_at"] == "2026-04-05" + EOD
    assert lead["due_at"] == "2026-04-05" + EOD and lead["agency_code"] == AGY_SCJ
    assert lead["subject"] == {"type": "case", "id": "AJ-2026-002", "name": ENT_NAME}
    assert "第六十条" in lead["explanation"]
    assert "立案日 2026-01-05，90日期限届满 2026-04-05；截至 2026-04-06 未作出处罚决定" in lead["explanation"]
    assert "_due" not in state
    _, out = run(rule, [tick("2026-04-20T00:00:00+08:00")], config(), state)
    assert out == []


def test_decision_on_the_due_day_is_on_time():
    f = filed("AJ-2026-002", "2026-01-05")
    state, out = run(rule, [f, decided("AJ-2026-002", "2026-04-05", clock="23:30:00"),
                            tick("2026-06-01T00:00:00+08:00")], config())
    assert overdue(out) == [] and "_due" not in state


def test_approved_extension_moves_the_deadline():
    f = filed("AJ-2026-002", "2026-01-05")
    ext = case_event("AJ-2026-002", "extended", days=30, approved_at=t("2026-03-20"))
    _, out = run(rule, [f, ext, tick("2026-05-05" + EOD)], config())
    assert overdue(out) == []
    _, out = run(rule, [f, ext, tick("2026-05-06T00:00:01+08:00")], config())
    [lead] = overdue(out)
    assert ("立案日 2026-01-05，90日期限届满 2026-04-05，2026-03-20 批准延长 30 日至 2026-05-05；"
            "截至 2026-05-06 未作出处罚决定") in lead["explanation"]
    assert len(lead["evidence"]) == 2


def test_extension_approved_after_expiry_does_not_count():
    f = filed("AJ-2026-002", "2026-01-05")
    ext = case_event("AJ-2026-002", "extended", days=30, approved_at=t("2026-04-06"))
    [lead] = overdue(run(rule, [f, ext, tick("2026-04-07T00:00:00+08:00")], config())[1])
    assert "晚于期限届满日，不予计入" in lead["explanation"]


def test_suspended_time_is_not_counted_and_an_open_suspension_stops_the_clock():
    f = filed("AJ-2026-002", "2026-01-05")
    susp = case_event("AJ-2026-002", "suspended", at=t("2026-02-01"))
    res = case_event("AJ-2026-002", "resumed", at=t("2026-02-11"))
    state, out = run(rule, [f, susp, tick("2026-06-01T00:00:00+08:00")], config())
    assert overdue(out) == [] and "_due" not in state
    state, out = run(rule, [res], config(), state)
    [lead] = overdue(out)  # resumed: due 2026-04-15, long past at the last tick
    assert lead["detected_at"] == "2026-04-15" + EOD
    assert "2026-02-01 至 2026-02-11 中止 10 日不计入，顺延至 2026-04-15" in lead["explanation"]
    _, out = run(rule, [f, susp, res, tick("2026-04-15" + EOD)], config())
    assert overdue(out) == []


def test_late_extension_event_is_applied_in_time_order():
    f = filed("AJ-2026-002", "2026-01-05")
    susp = case_event("AJ-2026-002", "suspended", at=t("2026-02-01"))
    res = case_event("AJ-2026-002", "resumed", at=t("2026-02-11"))
    ext = case_event("AJ-2026-002", "extended", days=30, approved_at=t("2026-01-20"))
    state, _ = run(rule, [f, susp, res, ext], config())
    assert state["_due"] == "2026-05-15" + EOD


def test_late_decision_fires_the_same_lead_with_or_without_ticks():
    f = filed("AJ-2026-002", "2026-01-05")
    d = decided("AJ-2026-002", "2026-04-20")
    _, no_ticks = run(rule, [f, d], config())
    _, with_ticks = run(rule, [f, tick("2026-04-06T08:00:00+08:00"), tick("2026-04-10T08:00:00+08:00"), d],
                        config())
    assert len(overdue(no_ticks)) == 1 and len(overdue(with_ticks)) == 2
    assert overdue(no_ticks)[-1] == overdue(with_ticks)[-1]
    assert "2026-04-20 作出处罚决定，超期 15 日" in overdue(no_ticks)[0]["explanation"]
    _, hourly = run(rule, [f] + [tick(f"2026-04-06T{h:02d}:00:00+08:00") for h in range(24)], config())
    assert overdue(hourly) == overdue(with_ticks)[:1]


def test_filing_attached_by_the_worker_is_enough():
    d = decided("AJ-2026-002", "2026-04-20", filing=filed("AJ-2026-002", "2026-01-05"))
    [lead] = overdue(run(rule, [d], config())[1])
    assert lead["region_code"] == REGION and len(lead["evidence"]) == 1


# ---- PEN_NO_LEGAL_REVIEW --------------------------------------------------------------------

def test_major_case_decided_without_legal_review():
    f = filed("AJ-2026-003", "2026-02-02")
    [lead] = codes(run(rule, [f, decided("AJ-2026-003", "2026-03-02", major=True)], config())[1],
                   "PEN_NO_LEGAL_REVIEW")
    assert lead["severity"] == "高" and "第五十八条" in lead["explanation"] and "无法制审核记录" in lead["explanation"]


def test_legal_review_before_or_at_the_decision_passes():
    f = filed("AJ-2026-003", "2026-02-02")
    review = case_event("AJ-2026-003", "legal_reviewed", reviewed_at=t("2026-03-02", "10:00:00"), passed=True)
    d = decided("AJ-2026-003", "2026-03-02", hearing_held=True)
    assert codes(run(rule, [f, review, d], config())[1], "PEN_NO_LEGAL_REVIEW") == []


def test_failed_or_later_review_and_unflagged_cases():
    f = filed("AJ-2026-003", "2026-02-02")
    failed = case_event("AJ-2026-003", "legal_reviewed", reviewed_at=t("2026-02-28"), passed=False)
    [lead] = codes(run(rule, [f, failed, decided("AJ-2026-003", "2026-03-02", complex=True)], config())[1],
                   "PEN_NO_LEGAL_REVIEW")
    assert "未通过即作出决定" in lead["explanation"] and len(lead["evidence"]) == 3
    after = case_event("AJ-2026-003", "legal_reviewed", reviewed_at=t("2026-03-02", "10:00:01"), passed=True)
    [lead] = codes(run(rule, [f, after, decided("AJ-2026-003", "2026-03-02", major=True)], config())[1],
                   "PEN_NO_LEGAL_REVIEW")
    assert "晚于处罚决定" in lead["explanation"]
    assert codes(run(rule, [f, decided("AJ-2026-003", "2026-03-02")], config())[1],
                 "PEN_NO_LEGAL_REVIEW") == []


# ---- PEN_NOT_RECORDED -----------------------------------------------------------------------

def test_major_penalty_recorded_on_the_15th_day_is_on_time():
    f = filed("AJ-2026-004", "2026-01-10")
    d = decided("AJ-2026-004", "2026-03-02", major=True)
    state, out = run(rule, [f, d, tick("2026-03-17" + EOD)], config())
    assert codes(out, "PEN_NOT_RECORDED") == [] and state["_due"] == "2026-03-17" + EOD
    rec = case_event("AJ-2026-004", "recorded", at=t("2026-03-17", "17:00:00"))
    state, out = run(rule, [rec, tick("2026-04-30T00:00:00+08:00")], config(), state)
    assert codes(out, "PEN_NOT_RECORDED") == [] and "_due" not in state


def test_major_penalty_not_recorded_by_day_16():
    f = filed("AJ-2026-004", "2026-01-10")
    d = decided("AJ-2026-004", "2026-03-02", major=True)
    _, out = run(rule, [f, d, tick("2026-03-18T00:00:00+08:00")], config())
    [lead] = codes(out, "PEN_NOT_RECORDED")
    assert lead["detected_at"] == "2026-03-17" + EOD and "截至 2026-03-18 未备案" in lead["explanation"]
    _, out = run(rule, [f, d, case_event("AJ-2026-004", "recorded", at=t("2026-03-18"))], config())
    [lead] = codes(out, "PEN_NOT_RECORDED")
    assert "2026-03-18 才备案" in lead["explanation"] and len(lead["evidence"]) == 3
    minor = decided("AJ-2026-004", "2026-03-02")
    assert codes(run(rule, [f, minor, tick("2026-05-01T00:00:00+08:00")], config())[1],
                 "PEN_NOT_RECORDED") == []


def test_recording_deadline_in_working_days_skips_national_day():
    cfg = config({"PEN_NOT_RECORDED": {"day_kind": "working"}})
    f = filed("AJ-2026-004", "2026-08-10")
    d = decided("AJ-2026-004", "2026-09-28", major=True)
    # 15 WD from Mon 2026-09-28: Oct 1–7 off, Sat Oct 10 a make-up workday → due Fri Oct 23
    state, out = run(rule, [f, d, tick("2026-10-23" + EOD)], cfg)
    assert codes(out, "PEN_NOT_RECORDED") == [] and state["_due"] == "2026-10-23" + EOD
    [lead] = codes(run(rule, [tick("2026-10-24T00:00:00+08:00")], cfg, state)[1], "PEN_NOT_RECORDED")
    assert "15 个工作日" in lead["explanation"]


def test_working_day_deadline_in_an_uncovered_year_fails_loudly():
    cfg = config({"PEN_NOT_RECORDED": {"day_kind": "working"}})
    f = filed("AJ-2026-004", "2026-11-10")
    d = decided("AJ-2026-004", "2026-12-24", major=True)
    with pytest.raises(CalendarYearNotCovered, match="2027"):
        run(rule, [f, d], cfg)
    cfg = config({"PEN_NOT_RECORDED": {"day_kind": "working"}}, holidays=HOLIDAYS_2027)
    state, _ = run(rule, [f, d], cfg)
    # Dec 25, 28–31 (5), Jan 1 off, Jan 4–8 (10), Jan 11–15 (15)
    assert state["_due"] == "2027-01-15" + EOD


# ---- PEN_DISCRETION -------------------------------------------------------------------------

BENCH = [{"matter_code": "330217001000", "circumstance_level": "一般", "min_fine": "2000", "max_fine": "10000"}]


@pytest.mark.parametrize("fine,fires,word", [
    ("2000", False, ""), ("10000", False, ""), ("10000.01", True, "高于"), ("1999", True, "低于"),
])
def test_fine_outside_the_benchmark(fine, fires, word):
    f = filed("AJ-2026-005", "2026-02-02")
    d = decided("AJ-2026-005", "2026-03-02", fine_amount=fine)
    leads = codes(run(rule, [f, d], config(benchmarks=BENCH))[1], "PEN_DISCRETION")
    assert bool(leads) == fires
    if fires:
        assert word in leads[0]["explanation"] and "国办发〔2022〕27号" in leads[0]["explanation"]


def test_no_benchmark_for_the_level_means_no_judgement():
    f = filed("AJ-2026-005", "2026-02-02")
    d = decided("AJ-2026-005", "2026-03-02", fine_amount="50000", circumstance_level="严重")
    assert codes(run(rule, [f, d], config(benchmarks=BENCH))[1], "PEN_DISCRETION") == []


# ---- duplicates and replay ------------------------------------------------------------------

def test_duplicate_delivery_changes_nothing():
    f = filed("AJ-2026-006", "2026-01-05")
    d = decided("AJ-2026-006", "2026-04-20", major=True, procedure="简易")
    state, out = run(rule, [f, d], config())
    assert out
    again, out2 = rule.evaluate(state, d, config())
    assert again == state and out2 == []


def test_replay_is_deterministic():
    facts = [filed("AJ-2026-007", "2026-01-05"),
             case_event("AJ-2026-007", "suspended", at=t("2026-02-01")),
             case_event("AJ-2026-007", "resumed", at=t("2026-02-11")), tick("2026-04-30T00:00:00+08:00"),
             decided("AJ-2026-007", "2026-05-02", major=True, fine_amount="20000"),
             tick("2026-06-30T00:00:00+08:00")]
    assert run(rule, facts, config(benchmarks=BENCH)) == run(rule, facts, config(benchmarks=BENCH))


# ---- PEN_FIRST_VIOLATION (party state) ------------------------------------------------------

NO_PENALTY = [{"matter_code": "330217001000", "conditions": "首次违法、危害后果轻微并及时改正"}]


def party_decision(case_id, day, *, matter="330217001000", party=None, **over):
    f = filed(case_id, "2026-01-02", matter_code=matter, **({"party": party} if party else {}))
    base = {"first_violation": True, "corrected": True, "fine_amount": "800"}
    base.update(over)
    return decided(case_id, day, filing=f, **base)


def run_party(facts, cfg=None, state=None):
    state = state or {}
    out = []
    for f in facts:
        state, o = rule.evaluate_party(state, f, cfg or config(no_penalty_items=NO_PENALTY))
        out.extend(o)
    return state, out


def test_party_key_is_the_uscc_or_the_id_token():
    assert rule.party_key(party_decision("AJ-1", "2026-03-02")) == ENT
    assert rule.party_key(party_decision("AJ-1", "2026-03-02", party=PERSON)) == "pid-7f3a9c"
    assert rule.party_key(filed("AJ-1", "2026-03-02")) is None


def test_listed_first_violation_corrected_but_fined():
    _, out = run_party([party_decision("AJ-2026-010", "2026-03-02")])
    [lead] = out
    assert lead["rule_code"] == "PEN_FIRST_VIOLATION" and lead["rule_name"] == "应免未免"
    assert lead["subject"] == {"type": "case", "id": "AJ-2026-010", "name": ENT_NAME}
    assert "第三十三条" in lead["explanation"] and "2024-03-02 至 2026-03-02" in lead["explanation"]


@pytest.mark.parametrize("over", [
    {"first_violation": False}, {"corrected": False}, {"fine_amount": "0", "penalty_types": ["警告"]},
    {"matter": "330217009999"},
])
def test_first_violation_negatives(over):
    assert run_party([party_decision("AJ-2026-010", "2026-03-02", **over)])[1] == []


def test_earlier_penalty_for_the_same_matter_within_two_years():
    earlier = party_decision("AJ-2024-001", "2024-03-02", first_violation=False)
    assert run_party([earlier, party_decision("AJ-2026-010", "2026-03-02")])[1] == []
    older = party_decision("AJ-2024-001", "2024-03-01", first_violation=False)
    assert len(run_party([older, party_decision("AJ-2026-010", "2026-03-02")])[1]) == 1
    other = party_decision("AJ-2025-001", "2025-06-01", matter="330217002000")
    assert len(run_party([other, party_decision("AJ-2026-010", "2026-03-02")])[1]) == 1


def test_later_case_arriving_first_is_not_an_earlier_penalty():
    later = party_decision("AJ-2026-020", "2026-03-20", first_violation=False)
    _, out = run_party([later, party_decision("AJ-2026-010", "2026-03-02")])
    assert [o["subject"]["id"] for o in out] == ["AJ-2026-010"]


def test_party_duplicate_and_replay():
    facts = [party_decision("AJ-2025-001", "2025-01-02", first_violation=False),
             party_decision("AJ-2026-010", "2026-03-02"), party_decision("AJ-2026-011", "2026-04-02",
                                                                          matter="330217003000")]
    state, out = run_party(facts)
    assert run_party(facts) == (state, out)
    again, out2 = rule.evaluate_party(state, facts[1], config(no_penalty_items=NO_PENALTY))
    assert again == state and out2 == []


def test_party_state_keeps_only_the_look_back():
    state, _ = run_party([party_decision("AJ-2023-001", "2023-01-02"), party_decision("AJ-2026-010", "2026-03-02")])
    assert list(state["pen"]) == ["AJ-2026-010"]
    state, _ = rule.evaluate_party(state, tick("2029-01-01T00:00:00+08:00"), config())
    assert state["pen"] == {} and state["_emitted"] == {}


def test_filing_arriving_after_the_decision_completes_the_summary_check():
    d = decided("AJ-2026-008", "2026-03-02", procedure="简易", fine_amount="500")
    state, out = run(rule, [d], config())
    assert codes(out, "PEN_SUMMARY_LIMIT") == []  # party unknown: the organisation line (3,000)
    _, out = run(rule, [filed("AJ-2026-008", "2026-03-02", party=PERSON)], config(), state)
    [lead] = codes(out, "PEN_SUMMARY_LIMIT")
    assert "当事人类型：自然人" in lead["explanation"]


def test_late_filing_brings_the_matter_code_for_the_benchmark():
    d = decided("AJ-2026-009", "2026-03-02", fine_amount="20000")
    state, out = run(rule, [d], config(benchmarks=BENCH))
    assert codes(out, "PEN_DISCRETION") == []
    _, out = run(rule, [filed("AJ-2026-009", "2026-02-02")], config(benchmarks=BENCH), state)
    assert len(codes(out, "PEN_DISCRETION")) == 1


def test_review_dated_before_the_decision_arriving_late_does_not_withdraw_the_lead():
    f = filed("AJ-2026-003", "2026-02-02")
    state, out = run(rule, [f, decided("AJ-2026-003", "2026-03-02", major=True)], config())
    assert len(codes(out, "PEN_NO_LEGAL_REVIEW")) == 1
    review = case_event("AJ-2026-003", "legal_reviewed", reviewed_at=t("2026-02-27"), passed=True)
    state, out = run(rule, [review], config(), state)
    assert out == []  # no retraction in the lead contract; the supervisor dismisses it
