"""行政检查规则: INSP_* codes (国办发〔2024〕54号; 行政处罚法第四十二条)."""
from streams.rules import inspection as rule

from .conftest import (
    AGENCIES, AGY_SCJ, AGY_XFJ, AGY_YJJ, AGY_ZHZF, ENT, ENT_NAME, REGION, codes, config, credit,
    inspection, latest, run, t, tick,
)

OFFICERS = [
    {"cert_no": "33020001", "agency_code": AGY_SCJ, "valid_from": "2024-01-01", "valid_until": "2028-12-31"},
    {"cert_no": "33020002", "agency_code": AGY_SCJ, "valid_from": "2024-01-01", "valid_until": "2028-12-31"},
    {"cert_no": "33020003", "agency_code": AGY_SCJ, "valid_from": "2022-01-01", "valid_until": "2026-03-31"},
    {"cert_no": "33020004", "agency_code": AGY_SCJ, "valid_from": "2022-01-01", "valid_until": "2028-12-31",
     "revoked_at": "2026-02-01"},
]
PLANS = [{"plan_id": "PLAN-2026-SCJ-01", "agency_code": AGY_SCJ, "year": 2026}]


def cfg(**over):
    ref = {"agencies": AGENCIES, "officers": OFFICERS, "inspection_plans": PLANS}
    ref.update(over)
    return config(**ref)


def test_key_is_the_target_enterprise_and_falls_back_to_the_inspection():
    assert rule.key(inspection("JC-1", "2026-03-02")) == ENT
    assert rule.key(inspection("JC-2", "2026-03-02", target=None)) == "INSP:JC-2"
    assert rule.key(credit(ENT, "risk_class_changed", t("2026-01-01"), risk_class="B")) == ENT
    assert rule.key(credit(ENT, "repair_applied", t("2026-01-01"))) is None


# ---- INSP_DUPLICATE --------------------------------------------------------------------------

def test_same_agency_inspecting_twice_within_30_days_is_a_duplicate():
    _, out = run(rule, [inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-03-20")], cfg())
    [lead] = codes(out, "INSP_DUPLICATE")
    assert lead["rule_name"] == "重复检查"
    assert lead["subject"] == {"type": "enterprise", "id": ENT, "name": ENT_NAME}
    assert lead["agency_code"] == AGY_SCJ and lead["region_code"] == REGION
    assert lead["detected_at"] == t("2026-03-20")
    assert [e["summary"][:10] for e in lead["evidence"]] == ["海曙区市场监督管理局"[:10]] * 2
    assert "国办发〔2024〕54号" in lead["explanation"] and "2026-04-01" in lead["explanation"]


def test_duplicate_window_boundary_day_30_counts_and_day_31_does_not():
    _, out = run(rule, [inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-04-01")], cfg())
    assert len(codes(out, "INSP_DUPLICATE")) == 1
    _, out = run(rule, [inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-04-02")], cfg())
    assert codes(out, "INSP_DUPLICATE") == []


def test_duplicate_window_uses_china_dates_not_utc():
    # 2026-04-01 23:30 +08:00 is 15:30 UTC the same day; 2026-04-02 00:30 +08:00 is 04-01 UTC
    _, out = run(rule, [inspection("JC-1", "2026-03-02"),
                        inspection("JC-2", "2026-04-02", clock="00:30:00")], cfg())
    assert codes(out, "INSP_DUPLICATE") == []


def test_excluded_triggers_joint_and_other_agencies_are_not_duplicates():
    for second in (
        inspection("JC-2", "2026-03-10", trigger="投诉举报"),
        inspection("JC-2", "2026-03-10", trigger="复查"),
        inspection("JC-2", "2026-03-10", joint=[AGY_ZHZF]),
        inspection("JC-2", "2026-03-10", agency=AGY_ZHZF),
    ):
        _, out = run(rule, [inspection("JC-1", "2026-03-02"), second], cfg())
        assert codes(out, "INSP_DUPLICATE") == [], second.value


def test_third_inspection_in_the_window_updates_the_same_lead():
    _, out = run(rule, [inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-03-10"),
                        inspection("JC-3", "2026-03-25")], cfg())
    dup = codes(out, "INSP_DUPLICATE")
    assert len(dup) == 2 and dup[0]["lead_id"] == dup[1]["lead_id"]
    assert len(dup[0]["evidence"]) == 2 and len(dup[1]["evidence"]) == 3
    assert dup[1]["detected_at"] == t("2026-03-10")


def test_a_chain_beyond_the_first_window_raises_a_second_lead():
    _, out = run(rule, [inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-03-27"),
                        inspection("JC-3", "2026-04-21")], cfg())
    leads = latest(out, "INSP_DUPLICATE")
    assert sorted(len(v["evidence"]) for v in leads.values()) == [2, 2]


def test_late_earlier_inspection_joins_the_window():
    _, out = run(rule, [inspection("JC-2", "2026-03-20"), inspection("JC-1", "2026-03-02")], cfg())
    [lead] = codes(out, "INSP_DUPLICATE")
    assert ["JC-1" in e["summary"] for e in lead["evidence"]] == [True, False]  # date order
    assert "2026-03-02、2026-03-20" in lead["explanation"]
    _, in_order = run(rule, [inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-03-20")], cfg())
    assert lead["lead_id"] == codes(in_order, "INSP_DUPLICATE")[0]["lead_id"]


def test_duplicate_delivery_changes_nothing():
    first, second = inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-03-20")
    state, out = run(rule, [first, second], cfg())
    again, out2 = rule.evaluate(state, second, cfg())
    assert again == state and out2 == []
    again, out2 = rule.evaluate(state, first, cfg())
    assert again == state and out2 == []


def test_replay_is_deterministic():
    facts = [inspection("JC-1", "2026-03-02", action_code=None), inspection("JC-2", "2026-03-20"),
             inspection("JC-3", "2026-03-21", agency=AGY_ZHZF, risk_class="B"),
             inspection("JC-4", "2026-03-22", agency=AGY_YJJ), inspection("JC-5", "2026-04-10", risk_class="B"),
             tick(t("2026-05-01"))]
    assert run(rule, facts, cfg()) == run(rule, facts, cfg())


# ---- INSP_MULTI_AGENCY ----------------------------------------------------------------------

def test_three_agencies_within_30_days_is_multi_agency():
    _, out = run(rule, [inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-03-15", agency=AGY_ZHZF),
                        inspection("JC-3", "2026-04-01", agency=AGY_YJJ)], cfg())
    [lead] = codes(out, "INSP_MULTI_AGENCY")
    assert lead["rule_name"] == "多头检查" and lead["subject"]["id"] == ENT
    assert len(lead["evidence"]) == 3 and lead["detected_at"] == t("2026-04-01")
    assert "海曙区应急管理局" in lead["explanation"]


def test_multi_agency_boundary_and_negatives():
    base = [inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-03-15", agency=AGY_ZHZF)]
    _, out = run(rule, base + [inspection("JC-3", "2026-04-02", agency=AGY_YJJ)], cfg())
    assert codes(out, "INSP_MULTI_AGENCY") == []  # day 31
    _, out = run(rule, base + [inspection("JC-3", "2026-03-20", agency=AGY_YJJ, joint=[AGY_XFJ])], cfg())
    assert codes(out, "INSP_MULTI_AGENCY") == []  # the third one was joint
    _, out = run(rule, base + [inspection("JC-3", "2026-03-20", agency=AGY_ZHZF)], cfg())
    assert codes(out, "INSP_MULTI_AGENCY") == []  # only two agencies


def test_fourth_agency_updates_the_multi_agency_lead():
    _, out = run(rule, [inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-03-15", agency=AGY_ZHZF),
                        inspection("JC-3", "2026-03-20", agency=AGY_YJJ),
                        inspection("JC-4", "2026-03-25", agency=AGY_XFJ)], cfg())
    multi = codes(out, "INSP_MULTI_AGENCY")
    assert len({m["lead_id"] for m in multi}) == 1 and len(multi[-1]["evidence"]) == 4


# ---- INSP_OVER_CAP --------------------------------------------------------------------------

def test_class_b_enterprise_inspected_twice_in_a_year_exceeds_the_cap():
    _, out = run(rule, [inspection("JC-1", "2026-03-02", risk_class="B"),
                        inspection("JC-2", "2026-09-10", risk_class="B")], cfg())
    [lead] = codes(out, "INSP_OVER_CAP")
    assert lead["rule_name"] == "超频检查" and lead["agency_code"] == AGY_SCJ
    assert lead["detected_at"] == t("2026-09-10") and len(lead["evidence"]) == 2
    assert "B 类，年度上限 1 次" in lead["explanation"]


def test_caps_per_class_and_unknown_class():
    two = lambda cls: [inspection("JC-1", "2026-03-02", risk_class=cls),  # noqa: E731
                       inspection("JC-2", "2026-09-10", risk_class=cls)]
    assert codes(run(rule, two("C"), cfg())[1], "INSP_OVER_CAP") == []  # C: 2 a year
    assert codes(run(rule, two("D"), cfg())[1], "INSP_OVER_CAP") == []  # D: as needed
    assert codes(run(rule, two(None), cfg())[1], "INSP_OVER_CAP") == []  # no class, no cap
    three_c = two("C") + [inspection("JC-3", "2026-11-10", risk_class="C")]
    assert len(codes(run(rule, three_c, cfg())[1], "INSP_OVER_CAP")) == 1


def test_cap_counts_per_calendar_year():
    _, out = run(rule, [inspection("JC-1", "2025-12-31", risk_class="A", plan_id=None, trigger="专项"),
                        inspection("JC-2", "2026-01-01", risk_class="A")], cfg())
    assert codes(out, "INSP_OVER_CAP") == []


def test_cap_uses_the_class_from_credit_events_and_reference_caps():
    facts = [credit(ENT, "risk_class_changed", t("2026-01-05"), risk_class="C"),
             inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-05-02")]
    assert codes(run(rule, facts, cfg())[1], "INSP_OVER_CAP") == []
    caps = [{"domain": "市场监管", "risk_class": "C", "per_year": 1},
            {"domain": None, "risk_class": "C", "per_year": 3}]
    [lead] = codes(run(rule, facts, cfg(inspection_caps=caps))[1], "INSP_OVER_CAP")
    assert "参考数据 inspection-caps（市场监管）" in lead["explanation"]


def test_cap_ignores_complaint_triggered_inspections_and_counts_joint_participation():
    facts = [inspection("JC-1", "2026-03-02", risk_class="A"),
             inspection("JC-2", "2026-04-02", risk_class="A", trigger="投诉举报")]
    assert codes(run(rule, facts, cfg())[1], "INSP_OVER_CAP") == []
    facts = [inspection("JC-1", "2026-03-02", risk_class="A"),
             inspection("JC-2", "2026-08-02", agency=AGY_ZHZF, joint=[AGY_SCJ], risk_class="A")]
    [lead] = codes(run(rule, facts, cfg())[1], "INSP_OVER_CAP")
    assert lead["agency_code"] == AGY_SCJ


# ---- per-inspection codes -------------------------------------------------------------------

def test_planned_inspection_without_plan_or_with_unregistered_plan():
    [lead] = codes(run(rule, [inspection("JC-1", "2026-03-02", trigger="计划", plan_id=None)], cfg())[1],
                   "INSP_NO_PLAN")
    assert lead["subject"] == {"type": "agency", "id": AGY_SCJ, "name": "海曙区市场监督管理局"}
    assert "plan_id 为空" in lead["explanation"]
    [lead] = codes(run(rule, [inspection("JC-1", "2026-03-02", plan_id="PLAN-2025-SCJ-01")], cfg())[1],
                   "INSP_NO_PLAN")
    assert "未登记" in lead["explanation"]
    other_agency = inspection("JC-1", "2026-03-02", agency=AGY_ZHZF)
    assert len(codes(run(rule, [other_agency], cfg())[1], "INSP_NO_PLAN")) == 1


def test_registered_plan_special_triggers_and_unconfigured_plans_pass():
    assert codes(run(rule, [inspection("JC-1", "2026-03-02")], cfg())[1], "INSP_NO_PLAN") == []
    assert codes(run(rule, [inspection("JC-1", "2026-03-02", trigger="投诉举报", plan_id=None)], cfg())[1],
                 "INSP_NO_PLAN") == []
    no_plans = cfg(inspection_plans=[])
    assert codes(run(rule, [inspection("JC-1", "2026-03-02", plan_id="ANY")], no_plans)[1],
                 "INSP_NO_PLAN") == []


def test_inspection_without_action_code():
    [lead] = codes(run(rule, [inspection("JC-1", "2026-03-02", action_code=None)], cfg())[1], "INSP_NO_CODE")
    assert lead["severity"] == "低" and lead["rule_name"] == "未亮码检查"
    assert codes(run(rule, [inspection("JC-1", "2026-03-02")], cfg())[1], "INSP_NO_CODE") == []


def test_inspection_by_a_single_officer_or_with_bad_certificates():
    [lead] = codes(run(rule, [inspection("JC-1", "2026-03-02", officers=["33020001"])], cfg())[1],
                   "INSP_UNCERTIFIED")
    assert lead["severity"] == "高" and "少于 2 人" in lead["explanation"]
    assert "33020001（有效）" in lead["evidence"][0]["summary"]
    assert "行政处罚法》第四十二条" in lead["explanation"]
    for cert, words in (("33020004", "吊销"), ("99999999", "未登记")):
        [lead] = codes(run(rule, [inspection("JC-1", "2026-03-02", officers=["33020001", cert])], cfg())[1],
                       "INSP_UNCERTIFIED")
        assert words in lead["explanation"]


def test_certificate_valid_on_its_last_day_and_expired_the_day_after():
    ok = inspection("JC-1", "2026-03-31", officers=["33020001", "33020003"], clock="23:00:00")
    assert codes(run(rule, [ok], cfg())[1], "INSP_UNCERTIFIED") == []
    late = inspection("JC-2", "2026-04-01", officers=["33020001", "33020003"], clock="00:10:00")
    [lead] = codes(run(rule, [late], cfg())[1], "INSP_UNCERTIFIED")
    assert "已于 2026-03-31 过期" in lead["explanation"]


def test_inspection_without_target_uscc_still_gets_per_inspection_checks():
    f = inspection("JC-9", "2026-03-02", target=None, action_code=None)
    state, out = run(rule, [f], cfg())
    assert [o["rule_code"] for o in out] == ["INSP_NO_CODE"]


def test_state_is_pruned_and_has_no_due():
    facts = [inspection(f"JC-{i}", f"2026-{m:02d}-05", risk_class="C") for i, m in enumerate(range(1, 13))]
    facts.append(tick(t("2027-06-30")))
    state, _ = run(rule, facts, cfg())
    assert state.get("insp") == {} and "_due" not in state
    assert state["_seen"] == {} and state["_emitted"] == {}


def test_late_class_change_applies_to_inspections_already_seen():
    facts = [inspection("JC-1", "2026-03-02"), inspection("JC-2", "2026-05-02"),
             credit(ENT, "risk_class_changed", t("2026-01-05"), risk_class="A")]
    state, out = run(rule, facts, cfg())
    [lead] = codes(out, "INSP_OVER_CAP")
    assert "A 类，年度上限 1 次" in lead["explanation"]
    assert rule.evaluate(state, facts[-1], cfg()) == (state, [])


def test_late_inspection_completing_multi_agency_and_old_inspections_still_checked_singly():
    facts = [inspection("JC-2", "2026-03-15", agency=AGY_ZHZF), inspection("JC-3", "2026-03-20", agency=AGY_YJJ),
             inspection("JC-1", "2026-03-02")]
    [lead] = codes(run(rule, facts, cfg())[1], "INSP_MULTI_AGENCY")
    assert "JC-1" in lead["evidence"][0]["summary"] and lead["detected_at"] == t("2026-03-20")
    old = inspection("JC-0", "2025-06-02", action_code=None, plan_id=None, trigger="专项")
    state, out = run(rule, [inspection("JC-9", "2026-09-01"), old], cfg())
    assert [o["rule_code"] for o in out] == ["INSP_NO_CODE"]
