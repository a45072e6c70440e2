"""Working days (工作日) on the official calendar: 法定节假日 off, 调休 make-up days on.

The State Council publishes each year's holidays in the preceding autumn; `chinesecalendar`
ships them for the years it knows. A year it does not cover must fail loudly — a guessed
calendar would put deadlines on the wrong day — unless a `holidays` reference set supplies it.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable, Mapping

import chinese_calendar


class CalendarYearNotCovered(LookupError):
    pass


def work_calendar(config) -> "WorkCalendar":
    """The calendar of a rule configuration (its `holidays` reference set), built once per
    configuration: its answers are kept, and every deadline of every record asks again."""
    return config.memo("work calendar", lambda: WorkCalendar(config.ref("holidays")))


class WorkCalendar:
    def __init__(self, holiday_sets: Iterable[Mapping] = ()):
        # reference.holidays rows: {"year", "holidays": [dates], "workdays": [make-up dates]}
        self._years: dict[int, tuple[set[date], set[date]]] = {}
        self._workday: dict[date, bool] = {}
        self._after: dict[tuple[date, int], date] = {}
        for row in holiday_sets:
            off = {_as_date(d) for d in row.get("holidays", [])}
            on = {_as_date(d) for d in row.get("workdays", [])}
            self._years[int(row["year"])] = (off, on)

    def is_workday(self, d: date) -> bool:
        known = self._workday.get(d)
        if known is None:
            known = self._workday[d] = self._is_workday(d)
        return known

    def _is_workday(self, d: date) -> bool:
        if d.year in self._years:
            off, on = self._years[d.year]
            if d in on:
                return True
            if d in off:
                return False
            return d.weekday() < 5
        try:
            return chinese_calendar.is_workday(d)
        except NotImplementedError as exc:
            raise CalendarYearNotCovered(
                f"no official holiday calendar for {d.year}: chinesecalendar does not cover it; "
                f"PUT /api/v1/reference/holidays with that year's holidays and make-up workdays"
            ) from exc

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (the start day itself is not counted)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        known = self._after.get((start, n))
        if known is not None:
            return known
        d, left = start, n
        while left > 0:
            d += timedelta(days=1)
            if self.is_workday(d):
                left -= 1
        self._after[(start, n)] = d
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many have elapsed by `end`."""
        count, d = 0, start
        while d < end:
            d += timedelta(days=1)
            if self.is_workday(d):
                count += 1
        return count


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
