"""失信程度 and publicity periods (令第36号 Arts. 8–12; 令第58号 before 2026-04-01)."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from streams.rules.base import RuleConfig
from streams.rules.tiers import (
    REGIME_36, REGIME_58, TIER_GENERAL, TIER_MINOR, TIER_SERIOUS, add_months, classify, fine_lines,
    period_detail, periods, regime, tier,
)

try:
    from .credit_builders import config
except ImportError:  # tests/unit/rules is not a package
    from credit_builders import config

CFG = config()


# ---- month arithmetic (民法典 Art. 202) ----

@pytest.mark.parametrize("start, months, expected", [
    (date(2026, 5, 31), 3, date(2026, 8, 31)),
    (date(2026, 11, 30), 3, date(2027, 2, 28)),   # no 30 February: clamp to the month's end
    (date(2027, 11, 30), 3, date(2028, 2, 29)),   # leap year
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 2, 29), 12, date(2029, 2, 28)),
    (date(2026, 3, 31), 36, date(2029, 3, 31)),
    (date(2026, 12, 15), 1, date(2027, 1, 15)),   # year roll-over
    (date(2026, 8, 31), 6, date(2027, 2, 28)),
    (date(2026, 4, 1), 0, date(2026, 4, 1)),
])
def test_adding_months_lands_on_the_same_day_or_the_month_end(start, months, expected):
    assert add_months(start, months) == expected


# ---- tiers ----

def test_summary_procedure_is_minor_whatever_the_fine():
    assert tier(["罚款"], "简易", "200", CFG) == TIER_MINOR
    assert tier(["警告"], "简易程序", None, CFG) == TIER_MINOR


@pytest.mark.parametrize("types", [["警告"], ["通报批评"], ["警告", "通报批评"]])
def test_warning_or_criticism_only_under_the_ordinary_procedure_is_minor(types):
    assert tier(types, "普通", None, CFG) == TIER_MINOR


@pytest.mark.parametrize("fine, expected", [
    ("9999.99", TIER_MINOR),
    ("10000", TIER_GENERAL),        # exactly at small_below: not "below" the small line
    ("10000.00", TIER_GENERAL),
    (Decimal("999999.99"), TIER_GENERAL),
    (1000000, TIER_SERIOUS),        # exactly at huge_from
    ("2500000", TIER_SERIOUS),
    ("0.01", TIER_MINOR),
])
def test_fine_lines_split_minor_general_serious(fine, expected):
    assert tier(["罚款"], "普通", fine, CFG) == expected


@pytest.mark.parametrize("penalty", ["暂扣许可证件", "降低资质等级", "吊销许可证件", "限制开展生产经营活动",
                                     "责令停产停业", "责令关闭", "限制从业"])
def test_each_article_10_type_is_serious(penalty):
    result = classify([penalty], "普通", None, CFG)
    assert result.tier == TIER_SERIOUS
    assert "第十条" in result.reasons[0] and penalty in result.reasons[0]


def test_confiscating_illegal_property_is_general():
    result = classify(["没收非法财物"], "普通", None, CFG)
    assert result.tier == TIER_GENERAL and "第九条" in result.reasons[0]


def test_confiscating_illegal_gains_is_general_by_hub_judgement():
    result = classify(["没收违法所得"], "普通", None, CFG)
    assert result.tier == TIER_GENERAL and "未列明" in result.reasons[0]


def test_the_most_severe_type_sets_the_tier():
    assert tier(["警告", "罚款"], "普通", "5000", CFG) == TIER_MINOR
    assert tier(["警告", "罚款"], "普通", "50000", CFG) == TIER_GENERAL
    assert tier(["警告", "罚款", "吊销许可证件"], "普通", "5000", CFG) == TIER_SERIOUS
    result = classify(["罚款", "没收违法所得", "责令停产停业"], "普通", "50000", CFG)
    assert result.tier == TIER_SERIOUS
    assert any("最重者" in r for r in result.reasons)


def test_a_fine_amount_counts_even_if_the_type_list_forgets_it():
    assert tier(["警告"], "普通", "20000", CFG) == TIER_GENERAL


def test_a_fine_without_an_amount_is_general_and_no_penalty_at_all_is_minor():
    assert tier(["罚款"], "普通", None, CFG) == TIER_GENERAL
    assert tier([], "普通", None, CFG) == TIER_MINOR


def test_unknown_types_and_detention():
    assert tier(["其他"], "普通", None, CFG) == TIER_GENERAL
    assert tier(["行政拘留"], "普通", None, CFG) == TIER_SERIOUS


def test_sector_fine_lines_come_from_reference_data():
    cfg = config(fine_lines=[{"domain": "市场监管", "small_below": "50000", "huge_from": "5000000"},
                             {"small_below": "3000", "huge_from": "200000"}])
    assert fine_lines(cfg, "市场监管") == (Decimal("50000"), Decimal("5000000"))
    assert tier(["罚款"], "普通", "20000", cfg, domain="市场监管") == TIER_MINOR
    assert tier(["罚款"], "普通", "5000000", cfg, domain="市场监管") == TIER_SERIOUS
    # another sector falls back to the row without a domain
    assert fine_lines(cfg, "交通运输") == (Decimal("3000"), Decimal("200000"))
    assert tier(["罚款"], "普通", "3000", cfg, domain="交通运输") == TIER_GENERAL
    assert tier(["罚款"], "普通", "200000", cfg, domain=None) == TIER_SERIOUS


def test_without_reference_rows_the_toml_lines_apply():
    assert fine_lines(CFG, "市场监管") == (Decimal("10000"), Decimal("1000000"))
    assert fine_lines(None) == (Decimal("10000"), Decimal("1000000"))


# ---- regimes ----

@pytest.mark.parametrize("decided_at, expected", [
    ("2026-03-31T23:59:59+08:00", REGIME_58),
    ("2026-04-01T00:00:00+08:00", REGIME_36),
    ("2026-03-31T16:30:00+00:00", REGIME_36),   # 2026-04-01 00:30 in China time
    ("2025-06-01T10:00:00+08:00", REGIME_58),
    (date(2026, 4, 1), REGIME_36),
])
def test_the_regime_follows_the_decision_date_in_china_time(decided_at, expected):
    assert regime(decided_at, CFG) == expected


# ---- periods ----

def test_order_36_general_periods():
    assert periods(TIER_GENERAL, "2026-05-31T10:00:00+08:00", None, CFG) == (date(2026, 8, 31), date(2027, 5, 31))


def test_order_36_serious_periods():
    assert periods(TIER_SERIOUS, "2026-04-01T09:00:00+08:00", None, CFG) == (date(2027, 4, 1), date(2029, 4, 1))


def test_order_36_minor_has_no_minimum_and_three_months_maximum():
    p = period_detail(TIER_MINOR, "2026-11-30T10:00:00+08:00", None, CFG)
    assert (p.min_months, p.min_until, p.max_until) == (0, date(2026, 11, 30), date(2027, 2, 28))
    assert p.repair_from == date(2026, 11, 30)


def test_repair_may_be_applied_for_from_the_day_after_the_minimum_period():
    p = period_detail(TIER_GENERAL, "2026-11-30T10:00:00+08:00", None, CFG)
    assert p.min_until == date(2027, 2, 28)
    assert p.repair_from == date(2027, 3, 1)


def test_the_day_before_order_36_uses_order_58_periods_for_every_tier():
    for t in (TIER_MINOR, TIER_GENERAL, TIER_SERIOUS):
        p = period_detail(t, "2026-03-31T10:00:00+08:00", None, CFG)
        assert p.regime == REGIME_58
        assert (p.min_until, p.max_until) == (date(2026, 6, 30), date(2029, 3, 31))
    assert "令第58号" in p.reasons[0]


def test_order_36_and_order_58_differ_across_the_switch_day():
    before = period_detail(TIER_GENERAL, "2026-03-31T10:00:00+08:00", None, CFG)
    after = period_detail(TIER_GENERAL, "2026-04-01T10:00:00+08:00", None, CFG)
    assert (before.min_until, before.max_until) == (date(2026, 6, 30), date(2029, 3, 31))
    assert (after.min_until, after.max_until) == (date(2026, 7, 1), date(2027, 4, 1))


@pytest.mark.parametrize("domain", ["特种设备", "安全生产", "消防", "食品", "药品"])
def test_order_58_one_year_minimum_for_listed_sectors(domain):
    p = period_detail(TIER_GENERAL, "2025-08-31T10:00:00+08:00", domain, CFG)
    assert (p.min_until, p.max_until) == (date(2026, 8, 31), date(2028, 8, 31))
    assert domain in p.reasons[0]


def test_order_58_sector_list_does_not_apply_under_order_36():
    assert periods(TIER_GENERAL, "2026-04-02T10:00:00+08:00", "消防", CFG)[0] == date(2026, 7, 2)


def test_periods_are_configurable():
    cfg = config({"credit.order36": {"general_min_months": 6}, "credit": {"order36_from": "2026-06-01"}})
    assert regime("2026-05-31T10:00:00+08:00", cfg) == REGIME_58
    assert periods(TIER_GENERAL, "2026-06-01T10:00:00+08:00", None, cfg)[0] == date(2026, 12, 1)


def test_period_reasons_show_the_arithmetic():
    p = period_detail(TIER_GENERAL, "2026-05-31T10:00:00+08:00", None, CFG)
    text = p.reasons[0]
    assert "第十二条" in text and "2026-05-31" in text and "2026-08-31" in text and "2027-05-31" in text


def test_dotted_sections_read_nested_toml_tables():
    cfg = RuleConfig(thresholds={"credit": {"order36": {"general_min_months": 4}}})
    assert cfg.get("credit.order36", "general_min_months", 3) == 4
    assert cfg.get("credit.order58", "min_months", 3) == 3
    assert cfg.get("credit", "missing", "x") == "x"
    assert CFG.get("credit.order36", "serious_max_months") == 36


# ---- acting in time (working days, start day not counted) ----

def test_in_time_agrees_with_add_working_days_on_both_sides_of_the_due_day():
    from datetime import datetime

    from streams.rules.base import CST
    from streams.rules.calendar import WorkCalendar
    from streams.rules.tiers import in_time

    cal = WorkCalendar()
    start = date(2026, 9, 29)
    due = cal.add_working_days(start, 7)
    assert due == date(2026, 10, 14)
    at = lambda d, h=12: datetime(d.year, d.month, d.day, h, tzinfo=CST)
    assert in_time(cal, start, 7, at(due, 23))
    assert not in_time(cal, start, 7, at(due + timedelta(days=1), 0))
    assert in_time(cal, start, 7, at(date(2026, 10, 3)))          # a holiday before the due day
    assert in_time(cal, start, 7, at(start))
    assert not in_time(cal, date(2026, 10, 9), 1, at(date(2026, 10, 11)))   # Sunday after the 调休 Saturday
    assert in_time(cal, date(2026, 10, 9), 1, at(date(2026, 10, 10)))       # Sat 10-10 is a workday
