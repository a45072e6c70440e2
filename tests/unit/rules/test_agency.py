"""机关指标规则: AGY_FINE_SURGE (罚没异常增长)."""
from streams.rules import agency as rule

from .conftest import AGENCIES, AGY_SCJ, AGY_ZHZF, REGION, codes, config, decided, filed, run, tick

EOD = "T23:59:59.999999+08:00"
FILING = filed("AJ-2025-000", "2025-08-01")


def cfg(thresholds=None, **ref):
    return config(thresholds, agencies=AGENCIES, **ref)


def fine(case_no: int, day: str, amount: str, *, confiscated="0", agency=AGY_SCJ):
    filing = {**FILING.value, "agency_code": agency}
    return decided(f"AJ-{day[:4]}-{case_no:03d}", day, filing=filing, fine_amount=amount,
                   confiscated_amount=confiscated)


def baseline(amount="50000", months=("2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02")):
    return [fine(i, f"{m}-15", amount) for i, m in enumerate(months, start=1)]


def surge(out):
    return codes(out, "AGY_FINE_SURGE")


def test_key_is_the_deciding_agency_from_the_attached_filing():
    assert rule.key(fine(1, "2026-03-02", "100")) == AGY_SCJ
    assert rule.key(FILING) is None


def test_month_at_twice_the_mean_and_the_floor_fires_when_complete():
    facts = baseline() + [fine(20, "2026-03-10", "60000"), fine(21, "2026-03-31", "40000")]
    state, out = run(rule, facts + [tick("2026-03-31" + EOD)], cfg())
    assert surge(out) == [] and state["_due"] == "2026-03-31" + EOD
    state, out = run(rule, [tick("2026-04-01T00:00:00+08:00")], cfg(), state)
    [lead] = surge(out)
    assert lead["rule_name"] == "罚没异常增长"
    assert lead["subject"] == {"type": "agency", "id": AGY_SCJ, "name": "海曙区市场监督管理局"}
    assert lead["agency_code"] == AGY_SCJ and lead["region_code"] == REGION
    assert lead["detected_at"] == "2026-03-31" + EOD and len(lead["evidence"]) == 2
    assert "2026-03 作出处罚决定 2 件，罚没金额 100,000.00 元" in lead["explanation"]
    assert "前 6 个月（2025-09 至 2026-02）" in lead["explanation"] and "月均 50,000.00 元" in lead["explanation"]
    assert "_due" not in state


def test_just_below_twice_the_mean_does_not_fire():
    facts = baseline() + [fine(20, "2026-03-10", "99999.99"), tick("2026-04-01T00:00:00+08:00")]
    assert surge(run(rule, facts, cfg())[1]) == []


def test_months_without_decisions_count_zero_but_the_floor_applies():
    facts = baseline(amount="10000", months=("2025-09",))
    facts_hi = facts + [fine(20, "2026-03-10", "100000"), tick("2026-04-01T00:00:00+08:00")]
    [lead] = surge(run(rule, facts_hi, cfg())[1])
    assert "10,000.00、0.00、0.00、0.00、0.00、0.00 元" in lead["explanation"]
    assert "月均 1,666.67 元" in lead["explanation"]
    facts_lo = facts + [fine(20, "2026-03-10", "99999"), tick("2026-04-01T00:00:00+08:00")]
    assert surge(run(rule, facts_lo, cfg())[1]) == []


def test_a_decision_in_the_next_month_completes_the_month():
    facts = baseline() + [fine(20, "2026-03-10", "300000"), fine(21, "2026-04-01", "100", )]
    [lead] = surge(run(rule, facts, cfg())[1])
    assert lead["detected_at"] == "2026-03-31" + EOD and len(lead["evidence"]) == 1


def test_month_with_less_than_six_months_of_history_is_not_judged():
    short = baseline(months=("2025-10", "2025-11", "2025-12", "2026-01", "2026-02"))
    assert surge(run(rule, short + [fine(20, "2026-03-10", "900000"),
                                    tick("2026-04-01T00:00:00+08:00")], cfg())[1]) == []
    assert len(surge(run(rule, short + [fine(20, "2026-04-10", "900000"),
                                        tick("2026-05-01T00:00:00+08:00")], cfg())[1])) == 1
    relaxed = cfg({"AGY_FINE_SURGE": {"min_history_months": 0}})
    assert len(surge(run(rule, [fine(20, "2026-03-10", "900000"), tick("2026-04-01T00:00:00+08:00")],
                         relaxed)[1])) == 1


def test_confiscation_counts_unless_configured_off():
    facts = baseline() + [fine(20, "2026-03-10", "50000", confiscated="50000"),
                          tick("2026-04-01T00:00:00+08:00")]
    assert len(surge(run(rule, facts, cfg())[1])) == 1
    assert surge(run(rule, facts, cfg({"AGY_FINE_SURGE": {"include_confiscated": False}}))[1]) == []


def test_late_decision_for_a_judged_month_updates_the_lead():
    facts = baseline() + [fine(20, "2026-03-10", "150000"), tick("2026-04-02T00:00:00+08:00"),
                          fine(21, "2026-03-30", "20000")]
    leads = surge(run(rule, facts, cfg())[1])
    assert len(leads) == 2 and leads[0]["lead_id"] == leads[1]["lead_id"]
    assert "170,000.00 元" in leads[1]["explanation"] and len(leads[1]["evidence"]) == 2


def test_late_decision_completing_a_surge_after_the_month_ended():
    facts = baseline() + [fine(20, "2026-03-10", "90000"), tick("2026-04-02T00:00:00+08:00")]
    state, out = run(rule, facts, cfg())
    assert surge(out) == []
    _, out = run(rule, [fine(21, "2026-03-30", "20000")], cfg(), state)
    [lead] = surge(out)
    assert lead["detected_at"] == "2026-03-31" + EOD


def test_each_agency_is_its_own_state():
    other = [fine(i, f"{m}-15", "1000", agency=AGY_ZHZF)
             for i, m in enumerate(("2025-09", "2025-10", "2026-03"))]
    assert rule.key(other[0]) == AGY_ZHZF


def test_duplicate_delivery_changes_nothing():
    facts = baseline() + [fine(20, "2026-03-10", "150000"), tick("2026-04-02T00:00:00+08:00")]
    state, _ = run(rule, facts, cfg())
    again, out = rule.evaluate(state, facts[-2], cfg())
    assert again == state and out == []


def test_replay_is_deterministic_and_independent_of_tick_spacing():
    facts = baseline() + [fine(20, "2026-03-10", "150000")]
    daily = [tick(f"2026-04-{d:02d}T06:00:00+08:00") for d in range(1, 10)]
    a = run(rule, facts + daily, cfg())
    assert a == run(rule, facts + daily, cfg())
    b = run(rule, facts + [tick("2026-04-20T00:00:00+08:00")], cfg())
    assert surge(a[1]) == surge(b[1])


def test_state_and_evidence_stay_bounded():
    facts = [fine(i, f"2026-03-{1 + i % 28:02d}", str(1000 + i)) for i in range(80)]
    state, _ = run(rule, facts, cfg({"AGY_FINE_SURGE": {"evidence_limit": 10}}))
    assert len(state["months"]["2026-03"]["top"]) == 10 and state["months"]["2026-03"]["n"] == 80
    state, _ = run(rule, [tick("2027-06-01T00:00:00+08:00")], cfg(), state)
    assert state["months"] == {} and state["_seen"] == {}
