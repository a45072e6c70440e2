"""Indicator arithmetic without a database: ratios, the 7-working-day publication deadline
across holidays and 调休 make-up days, money as decimal strings."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from projections.auth import Principal, covers, scope_prefix
from projections.routes.indicators import DEFINITIONS, compute, published_on_time, ratio
from projections.routes.leads import TRANSITIONS, action_id_for
from streams.rules.calendar import WorkCalendar

CST = timezone(timedelta(hours=8))


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=CST)


def test_ratio_rounds_to_four_places_and_has_no_value_without_a_denominator():
    assert ratio(2, 3) == 0.6667 and ratio(0, 5) == 0.0 and ratio(3, 0) is None


@pytest.mark.parametrize("decided, published, on_time", [
    ("2026-03-02 10:00", "2026-03-11 23:59", True),    # Mon + 7 WD = the next Wednesday but one
    ("2026-03-02 10:00", "2026-03-12 00:00", False),
    ("2026-09-30 10:00", "2026-10-15 09:00", True),    # National Day 10-01..07 off, Sat 10-10 a make-up day
    ("2026-09-30 10:00", "2026-10-16 09:00", False),
    ("2026-03-31 10:00", "2026-04-10 09:00", True),    # Qingming 04-04..06 off
    ("2026-03-31 10:00", "2026-04-11 09:00", False),
])
def test_publication_deadline_counts_working_days_in_china_time(decided, published, on_time):
    assert published_on_time(at(decided), at(published), WorkCalendar()) is on_time


def test_a_decision_late_in_the_utc_day_counts_from_its_china_date():
    decided = datetime(2026, 3, 1, 17, 0, tzinfo=timezone.utc)  # 2026-03-02 01:00 in China
    assert published_on_time(decided, at("2026-03-11 10:00"), WorkCalendar())


def test_compute_states_numerator_denominator_and_formula():
    insp = {"total": 4, "random": 2, "joint": 2, "coded": 3, "credit_rule": 1, "visits_saved": 3}
    pubs = [(at("2026-09-30 10:00"), at("2026-10-15 10:00")), (at("2026-09-30 10:00"), at("2026-10-16 10:00"))]
    items = {i["code"]: i for i in compute(insp, 3, Decimal("6534.5"), pubs,
                                           [("PEN_DISCRETION", "裁量越档", 1), ("INSP_NO_CODE", "未亮码检查", 2)],
                                           WorkCalendar())}
    assert [d.code for d in DEFINITIONS] == list(items)
    assert (items["random_share"]["numerator"], items["random_share"]["denominator"],
            items["random_share"]["value"]) == (2, 4, 0.5)
    assert items["credit_rule_share"]["denominator"] == 2
    assert (items["publication_timeliness"]["numerator"], items["publication_timeliness"]["value"]) == (1, 0.5)
    assert items["fines"]["value"] == "6534.50" and items["fines"]["denominator"] is None
    assert items["leads_by_rule"]["value"] == 3
    assert [b["rule_code"] for b in items["leads_by_rule"]["breakdown"]] == ["INSP_NO_CODE", "PEN_DISCRETION"]
    assert all("分子" in i["definition"] and "公式" in i["definition"] for i in items.values())


def test_a_year_without_a_holiday_calendar_is_reported_not_guessed():
    far = [(at("2099-03-02 10:00"), at("2099-03-05 10:00"))]
    insp = {"total": 0, "random": 0, "joint": 0, "coded": 0, "credit_rule": 0, "visits_saved": 0}
    item = next(i for i in compute(insp, 0, None, far, [], WorkCalendar()) if i["code"] == "publication_timeliness")
    assert item["value"] is None and "2099" in item["error"]
    cal = WorkCalendar([{"year": 2099, "holidays": [], "workdays": []}])
    item = next(i for i in compute(insp, 0, None, far, [], cal) if i["code"] == "publication_timeliness")
    assert item["value"] == 1.0


def test_region_scope_prefixes():
    assert scope_prefix("330203") == "330203" and scope_prefix("330200") == "3302" and scope_prefix("330000") == "33"
    city, district = Principal("k", "supervisor", "330200"), Principal("k", "supervisor", "330203")
    assert city.sees_region("330212") and not district.sees_region("330212") and not district.sees_region(None)
    assert covers("330200", "330203") and not covers("330203", "330200") and covers(None, "110000")
    assert not covers("330203", None)


def test_lead_actions_have_deterministic_ids_and_legal_transitions():
    assert action_id_for("LD-1", 3) == action_id_for("LD-1", 3) != action_id_for("LD-1", 4)
    assert {p: (k, src, dst) for p, (k, src, dst) in TRANSITIONS.items()} == {
        "claim": ("claimed", ("待认领",), "处理中"),
        "resolve": ("resolved", ("处理中",), "已办结"),
        "dismiss": ("dismissed", ("处理中",), "已驳回"),
        "reopen": ("reopened", ("已办结", "已驳回"), "待认领"),
    }
