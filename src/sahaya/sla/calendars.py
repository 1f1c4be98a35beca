"""Build a `BusinessCalendar` from a stored row, with public holidays from `holidays`.

The default, when no node on a ticket's path has a calendar, is 24×5 with Kerala's public
holidays: seed 003's standard support is "24x5 … the business working days of the
concern geography".
"""

from __future__ import annotations

from datetime import date, time
from functools import lru_cache

import holidays as holiday_data

from sahaya.sla.domain import BusinessCalendar, InvalidCalendar
from sahaya.sla.tables import CalendarRow

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_REGION = "IN-KL"


@lru_cache(maxsize=64)
def public_holidays(region: str, year: int) -> frozenset[date]:
    country, _, subdivision = region.partition("-")
    try:
        found = holiday_data.country_holidays(country, subdiv=subdivision or None, years=year)
    except NotImplementedError:
        raise InvalidCalendar(f"no public holidays known for {region!r}") from None
    return frozenset(found.keys())


def holidays_around(region: str | None, years: range) -> frozenset[date]:
    if not region:
        return frozenset()
    days: set[date] = set()
    for year in years:
        days |= public_holidays(region, year)
    return frozenset(days)


def _hours(data: dict[str, object]) -> dict[int, tuple[tuple[time, time], ...]]:
    hours: dict[int, tuple[tuple[time, time], ...]] = {}
    for key, windows in data.items():
        if key not in _DAYS or not isinstance(windows, list):
            raise InvalidCalendar(f"hours: unknown day {key!r} or windows not a list")
        hours[_DAYS.index(key)] = tuple(
            (time.fromisoformat(str(w[0])), time.fromisoformat(str(w[1]))) for w in windows
        )
    return hours


@lru_cache(maxsize=8)
def default_calendar(years: range) -> BusinessCalendar:
    return BusinessCalendar.weekdays_24("Asia/Kolkata").with_holidays(
        holidays_around(DEFAULT_REGION, years)
    )


def from_row(row: CalendarRow, years: range) -> BusinessCalendar:
    calendar = BusinessCalendar(row.tz, _hours(row.hours), name=row.name)
    return calendar.with_holidays(
        holidays_around(row.holiday_region, years) | frozenset(row.extra_holidays)
    )
