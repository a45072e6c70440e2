"""The working-day calendar keeps its answers (work_calendar: one per rule configuration); a
kept answer must be the answer, on every day of a year with 法定节假日 and 调休."""
from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest

from streams.rules.calendar import CalendarYearNotCovered, WorkCalendar, work_calendar

from .conftest import config


def _naive_add(start: date, n: int) -> date:
    d = start
    while n:
        d += timedelta(days=1)
        n -= chinese_calendar.is_workday(d)
    return d


def test_kept_answers_are_the_official_calendars_on_every_day_of_2026_asked_twice():
    cal = work_calendar(config())
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    for _ in range(2):
        assert [cal.is_workday(d) for d in days] == [chinese_calendar.is_workday(d) for d in days]
        for start in days[:330:3]:  # 20 working days on stay inside 2026 (2027 is not covered)
            for n in (0, 1, 5, 10, 15, 20):
                assert cal.add_working_days(start, n) == _naive_add(start, n), (start, n)


def test_one_calendar_per_configuration_and_a_new_one_for_new_holidays():
    cfg = config()
    assert work_calendar(cfg) is work_calendar(cfg)
    given = config(holidays=[{"year": 2099, "holidays": ["2099-01-02"], "workdays": ["2099-01-03"]}])
    cal = work_calendar(given)
    assert cal is not work_calendar(cfg)
    assert not cal.is_workday(date(2099, 1, 2)) and cal.is_workday(date(2099, 1, 3))  # a Friday off, a Saturday on


def test_a_year_the_calendar_does_not_cover_fails_every_time_it_is_asked():
    cal = WorkCalendar()
    for _ in range(2):
        with pytest.raises(CalendarYearNotCovered, match="2098"):
            cal.add_working_days(date(2098, 12, 30), 5)
