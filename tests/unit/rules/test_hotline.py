"""12345 热线规则: HOT_ENFORCEMENT_COMPLAINT and HOT_COMPLAINT_CLUSTER."""
import pytest

from streams.rules import hotline as rule
from streams.rules.calendar import CalendarYearNotCovered

from .conftest import (
    AGENCIES, AGY_SCJ, AGY_YJJ, AGY_ZHZF, ENT, ENT_NAME, HOLIDAYS_2027, REGION, codes, config,
    filed, inspection, latest, run, t, tick, workorder,
)

EOD = "T23:59:59.999999+08:00"


def cfg(thresholds=None, **ref):
    return config(thresholds, agencies=AGENCIES, **ref)


def complaint(oid, day, *, about=AGY_SCJ, ctype="乱检查", **kw):
    return workorder(oid, day, about=about, complaint_type=ctype, topic="执法行为", **kw)


def enforcement(out):
    return codes(out, "HOT_ENFORCEMENT_COMPLAINT")


def cluster(out):
    return codes(out, "HOT_COMPLAINT_CLUSTER")


def test_keys():
    assert rule.key(workorder("GD-1", "2026-03-02")) == ENT
    assert rule.key(workorder("GD-1", "2026-03-02", category="咨询")) is None
    assert rule.key(workorder("GD-1", "2026-03-02", target=None)) is None
    assert rule.key(inspection("JC-1", "2026-03-02")) == ENT
    assert rule.key(filed("AJ-1", "2026-03-02")) == ENT


# ---- HOT_ENFORCEMENT_COMPLAINT --------------------------------------------------------------

def test_complaint_about_an_agency_that_inspected_the_enterprise():
    _, out = run(rule, [inspection("JC-1", "2026-03-02"), complaint("GD-1", "2026-03-20")], cfg())
    [lead] = enforcement(out)
    assert lead["rule_name"] == "执法投诉印证" and lead["grade"] == "C" and lead["severity"] == "低"
    assert lead["subject"] == {"type": "agency", "id": AGY_SCJ, "name": "海曙区市场监督管理局"}
    assert lead["agency_code"] == AGY_SCJ and lead["region_code"] == REGION
    assert lead["detected_at"] == t("2026-03-20", "09:30:00") and len(lead["evidence"]) == 2
    assert "司办通〔2023〕90号" in lead["explanation"] and "C 类" in lead["explanation"]


def test_match_window_boundary_30_and_31_days_before():
    assert len(enforcement(run(rule, [inspection("JC-1", "2026-03-02"), complaint("GD-1", "2026-04-01")],
                               cfg())[1])) == 1
    assert enforcement(run(rule, [inspection("JC-1", "2026-03-02"), complaint("GD-1", "2026-04-02")],
                           cfg())[1]) == []


def test_case_filings_and_joint_inspections_match_other_agencies_do_not():
    assert len(enforcement(run(rule, [filed("AJ-1", "2026-03-02"), complaint("GD-1", "2026-03-20")],
                               cfg())[1])) == 1
    joint = inspection("JC-1", "2026-03-02", agency=AGY_ZHZF, joint=[AGY_SCJ])
    assert len(enforcement(run(rule, [joint, complaint("GD-1", "2026-03-20")], cfg())[1])) == 1
    other = inspection("JC-1", "2026-03-02", agency=AGY_YJJ)
    assert enforcement(run(rule, [other, complaint("GD-1", "2026-03-20")], cfg())[1]) == []
    later = inspection("JC-1", "2026-03-20", clock="15:00:00")  # same day, after the complaint
    assert enforcement(run(rule, [complaint("GD-1", "2026-03-20"), later], cfg())[1]) == []


def test_ordinary_complaints_are_not_enforcement_complaints():
    plain = workorder("GD-1", "2026-03-20")
    assert enforcement(run(rule, [inspection("JC-1", "2026-03-02"), plain], cfg())[1]) == []


def test_late_inspection_still_matches_the_complaint():
    _, out = run(rule, [complaint("GD-1", "2026-03-20"), inspection("JC-1", "2026-03-02")], cfg())
    [lead] = enforcement(out)
    assert lead["detected_at"] == t("2026-03-20", "09:30:00")


def test_status_change_fills_the_agency_and_does_not_duplicate():
    first = workorder("GD-1", "2026-03-20", topic="执法行为")
    update = complaint("GD-1", "2026-03-21", status="派单")
    state, out = run(rule, [inspection("JC-1", "2026-03-02"), first, update], cfg())
    [lead] = enforcement(out)
    assert lead["detected_at"] == t("2026-03-20", "09:30:00")  # the first receipt
    _, out = run(rule, [complaint("GD-1", "2026-03-25", status="办结")], cfg(), state)
    assert out == []


def test_grades_a_concentrated_and_b_repeated():
    facts = [inspection("JC-1", "2026-03-02"),
             complaint("GD-1", "2026-03-05"), complaint("GD-2", "2026-03-10", ctype="乱罚款"),
             complaint("GD-3", "2026-03-20", ctype="态度粗暴")]
    _, out = run(rule, facts, cfg())
    by_order = {o["explanation"].split("工单 ")[1][:4]: o for o in latest(out, "HOT_ENFORCEMENT_COMPLAINT").values()}
    assert by_order["GD-1"]["grade"] == "C" and by_order["GD-2"]["grade"] == "C"
    assert by_order["GD-3"]["grade"] == "A" and by_order["GD-3"]["severity"] == "高"
    assert len(by_order["GD-3"]["evidence"]) == 4  # the inspection and the three complaints
    facts = [inspection("JC-1", "2026-03-02"), complaint("GD-1", "2026-01-05"), complaint("GD-2", "2026-03-20")]
    lead = latest(run(rule, facts, cfg())[1], "HOT_ENFORCEMENT_COMPLAINT")
    [b] = lead.values()
    assert b["grade"] == "B" and b["severity"] == "中" and "B 类" in b["explanation"]


def test_late_earlier_complaint_regrades_the_later_lead():
    facts = [inspection("JC-1", "2026-03-02"), complaint("GD-2", "2026-03-20"), complaint("GD-1", "2026-03-10")]
    _, out = run(rule, facts, cfg())
    leads = enforcement(out)
    gd2 = [lead for lead in leads if "工单 GD-2" in lead["explanation"]]
    assert [lead["grade"] for lead in gd2] == ["C", "B"] and gd2[0]["lead_id"] == gd2[1]["lead_id"]


def test_grade_thresholds_are_configurable():
    facts = [inspection("JC-1", "2026-03-02"), complaint("GD-1", "2026-03-05", ctype="乱罚款"),
             complaint("GD-2", "2026-03-10", ctype="态度粗暴")]
    strict = cfg({"HOT_ENFORCEMENT_COMPLAINT": {"a_min_complaints": 2}})
    leads = latest(run(rule, facts, strict)[1], "HOT_ENFORCEMENT_COMPLAINT")
    assert sorted(lead["grade"] for lead in leads.values()) == ["A", "C"]


# ---- HOT_COMPLAINT_CLUSTER ------------------------------------------------------------------

def three(days=("2026-03-02", "2026-03-10", "2026-03-20"), topic="食品安全"):
    return [workorder(f"GD-{i}", d, topic=topic) for i, d in enumerate(days, start=1)]


def test_three_complaints_and_no_inspection_within_15_working_days():
    # third complaint Fri 2026-03-20; 15 WD skip Qingming (Apr 4–6) → due Mon 2026-04-13
    state, out = run(rule, [*three(), tick("2026-04-13" + EOD)], cfg())
    assert cluster(out) == [] and state["_due"] == "2026-04-13" + EOD
    state, out = run(rule, [tick("2026-04-14T00:00:00+08:00")], cfg(), state)
    [lead] = cluster(out)
    assert lead["rule_name"] == "投诉集中未处置" and lead["subject"] == {"type": "enterprise", "id": ENT,
                                                                         "name": ENT_NAME}
    assert lead["detected_at"] == "2026-04-13" + EOD and len(lead["evidence"]) == 3
    assert "期限届满 2026-04-13；截至 2026-04-14 未对该企业实施检查" in lead["explanation"]
    assert "_due" not in state


def test_inspection_on_the_due_day_settles_the_cluster():
    facts = [*three(), inspection("JC-1", "2026-04-13", agency=AGY_ZHZF, trigger="投诉举报"),
             tick("2026-05-30T00:00:00+08:00")]
    state, out = run(rule, facts, cfg())
    assert cluster(out) == [] and "_due" not in state


def test_inspection_before_the_third_complaint_does_not_count_and_a_late_one_fires():
    facts = [*three()[:2], inspection("JC-1", "2026-03-15"), three()[2], tick("2026-04-14T00:00:00+08:00")]
    assert len(cluster(run(rule, facts, cfg())[1])) == 1
    _, out = run(rule, [*three(), inspection("JC-1", "2026-04-14")], cfg())
    [lead] = cluster(out)
    assert "首次检查晚至 2026-04-14" in lead["explanation"] and len(lead["evidence"]) == 4


def test_cluster_negatives_two_complaints_other_topics_and_day_31():
    assert cluster(run(rule, [*three()[:2], tick("2026-06-01T00:00:00+08:00")], cfg())[1]) == []
    mixed = three()[:2] + [workorder("GD-3", "2026-03-20", topic="价格")]
    assert cluster(run(rule, [*mixed, tick("2026-06-01T00:00:00+08:00")], cfg())[1]) == []
    spread = three(days=("2026-03-02", "2026-03-10", "2026-04-02"))
    assert cluster(run(rule, [*spread, tick("2026-06-01T00:00:00+08:00")], cfg())[1]) == []
    on_30th = three(days=("2026-03-02", "2026-03-10", "2026-04-01"))
    assert len(cluster(run(rule, [*on_30th, tick("2026-06-01T00:00:00+08:00")], cfg())[1])) == 1


def test_enforcement_complaints_do_not_make_a_cluster():
    facts = [complaint(f"GD-{i}", d) for i, d in enumerate(("2026-03-02", "2026-03-05", "2026-03-09"))]
    assert cluster(run(rule, [*facts, tick("2026-06-01T00:00:00+08:00")], cfg())[1]) == []


def test_cluster_deadline_over_national_day_and_spring_festival():
    # Mon 2026-09-28: Oct 1–7 off, Sat Oct 10 make-up → 15th WD Fri Oct 23
    state, _ = run(rule, three(days=("2026-09-10", "2026-09-20", "2026-09-28")), cfg())
    assert state["_due"] == "2026-10-23" + EOD
    # Fri 2026-02-13: Sat Feb 14 make-up, Feb 15–23 off, Sat Feb 28 make-up → Thu Mar 12
    state, _ = run(rule, three(days=("2026-02-01", "2026-02-05", "2026-02-13")), cfg())
    assert state["_due"] == "2026-03-12" + EOD
    _, out = run(rule, [tick("2026-03-12" + EOD)], cfg(), state)
    assert out == []
    assert len(cluster(run(rule, [tick("2026-03-13T00:00:00+08:00")], cfg(), state)[1])) == 1


def test_cluster_deadline_in_an_uncovered_year_fails_loudly_unless_configured():
    facts = three(days=("2026-12-01", "2026-12-10", "2026-12-20"))
    with pytest.raises(CalendarYearNotCovered, match="2027"):
        run(rule, facts, cfg())
    state, _ = run(rule, facts, cfg(holidays=HOLIDAYS_2027))
    assert state["_due"] == "2027-01-11" + EOD  # Jan 1 off per the configured table


def test_fourth_complaint_extends_the_cluster_lead():
    facts = [*three(), tick("2026-04-14T00:00:00+08:00"), workorder("GD-4", "2026-03-25", topic="食品安全")]
    _, out = run(rule, facts, cfg())
    leads = cluster(out)
    assert len(leads) == 2 and leads[0]["lead_id"] == leads[1]["lead_id"]
    assert len(leads[1]["evidence"]) == 4 and leads[1]["detected_at"] == leads[0]["detected_at"]


# ---- duplicates, replay, bounds -------------------------------------------------------------

def test_duplicate_delivery_changes_nothing():
    facts = [inspection("JC-1", "2026-03-02"), complaint("GD-1", "2026-03-20"), *three()]
    state, _ = run(rule, facts, cfg())
    for f in facts:
        again, out = rule.evaluate(state, f, cfg())
        assert again == state and out == []


def test_replay_is_deterministic():
    facts = [inspection("JC-1", "2026-03-02"), complaint("GD-1", "2026-03-20"), *three(),
             tick("2026-04-20T00:00:00+08:00"), complaint("GD-9", "2026-03-25", ctype="乱罚款")]
    assert run(rule, facts, cfg()) == run(rule, facts, cfg())


def test_state_is_pruned():
    facts = [inspection("JC-1", "2026-03-02"), complaint("GD-1", "2026-03-20"), *three(),
             tick("2026-04-14T00:00:00+08:00"), workorder("GD-X", "2027-03-01", topic="其他")]
    state, _ = run(rule, facts, config(holidays=HOLIDAYS_2027))
    assert list(state["orders"]) == ["GD-X"] and state["insp"] == {}
    assert len(state["_seen"]) == 1 and state["_emitted"] == {}


def test_complaints_in_any_arrival_order_give_the_same_cluster_lead():
    forward = [*three(), tick("2026-04-14T00:00:00+08:00")]
    backward = [*reversed(three()), tick("2026-04-14T00:00:00+08:00")]
    [a] = cluster(run(rule, forward, cfg())[1])
    [b] = cluster(run(rule, backward, cfg())[1])
    assert a["lead_id"] == b["lead_id"] and a["detected_at"] == b["detected_at"]
    assert sorted(e["summary"] for e in a["evidence"]) == sorted(e["summary"] for e in b["evidence"])
