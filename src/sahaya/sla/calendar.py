"""Business calendars and business-time arithmetic for SLA deadlines.

An SLA promise ("first response within 90 minutes") only counts the hours a franchisee is
open, so every deadline is computed over a calendar: weekly opening windows in a named time
zone, minus whole local days off (public holidays from the `holidays` package, plus custom
dates, are handed in by the caller).  The functions here are pure: no I/O and no clock
reads, so deadlines are reproducible and testable to the microsecond.

Arithmetic is done on UTC instants (real elapsed time, correct across DST changes in zones
that have them); results are returned in the time zone of the input datetime.  Iteration is
window by window and day by day, never minute by minute, so 30 days of business time costs a
few hundred steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIDNIGHT = time(0, 0)
_ZERO = timedelta(0)
_DAYS_KEPT = 4096
_ONE_DAY = timedelta(days=1)

Window = tuple[time, time]


class InvalidCalendar(ValueError):
    """Raised for malformed business-calendar data."""


def ensure_aware(value: datetime, name: str) -> None:
    """Reject naive datetimes: business hours are meaningless without a zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")


def _zone(tz: object) -> ZoneInfo:
    """Resolve *tz*, raising InvalidCalendar for unknown names."""
    if not isinstance(tz, str) or not tz:
        raise InvalidCalendar(f"time zone must be a non-empty string, got {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidCalendar(f"unknown time zone {tz!r}") from exc


def _fmt(value: time, *, end: bool = False) -> str:
    """HH:MM (seconds only when present); midnight as a window end reads 24:00."""
    if end and value == MIDNIGHT:
        return "24:00"
    return value.isoformat(timespec="seconds" if value.second or value.microsecond else "minutes")


def _check_day(weekday: object, windows: object) -> tuple[Window, ...]:
    """Validate one weekday's windows; return them sorted by start."""
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise InvalidCalendar(f"weekday must be an int 0-6 (0=Monday), got {weekday!r}")
    if not isinstance(windows, Iterable) or isinstance(windows, str | bytes):
        raise InvalidCalendar(f"weekday {weekday}: expected a sequence of (start, end) windows")
    checked: list[Window] = []
    for index, window in enumerate(windows):
        where = f"weekday {weekday} window {index}"
        if not isinstance(window, tuple | list) or len(window) != 2:
            raise InvalidCalendar(f"{where}: expected a (start, end) pair, got {window!r}")
        start, end = window
        for label, value in (("start", start), ("end", end)):
            if not isinstance(value, time) or value.tzinfo is not None:
                raise InvalidCalendar(f"{where}: {label} must be a naive time, got {value!r}")
        if end != MIDNIGHT and end <= start:
            raise InvalidCalendar(
                f"{where}: start {_fmt(start)} must be before end {_fmt(end)} "
                "(windows may not cross midnight; split them, end 00:00 means end of day)"
            )
        checked.append((start, end))
    checked.sort()
    for (s1, e1), (s2, e2) in pairwise(checked):
        if e1 == MIDNIGHT or s2 < e1:
            first, second = f"{_fmt(s1)}-{_fmt(e1, end=True)}", f"{_fmt(s2)}-{_fmt(e2, end=True)}"
            raise InvalidCalendar(f"weekday {weekday}: windows {first} and {second} overlap")
    return tuple(checked)


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Weekly opening windows in *tz* (weekday 0=Monday) minus whole local *holidays*.

    Each window is ``(start, end)`` on one local day; ``end == time(0, 0)`` means midnight at
    the end of that day.  Windows never cross midnight: split a night shift into two days.
    """

    tz: str
    hours: Mapping[int, tuple[Window, ...]] = field(hash=False)
    holidays: frozenset[date] = frozenset()
    name: str = "custom"
    # Each local day's windows in UTC, worked out once: a 30-day target walks ~36 days, two
    # zone conversions each, on every new ticket (5 % of intake's CPU before this).
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        _zone(self.tz)
        if not isinstance(self.hours, Mapping):
            raise InvalidCalendar(f"hours must be a mapping, got {type(self.hours).__name__}")
        checked = {day: _check_day(day, windows) for day, windows in self.hours.items()}
        normal = {day: checked[day] for day in sorted(checked) if checked[day]}
        if not normal:
            raise InvalidCalendar("calendar has no working hours")
        object.__setattr__(self, "hours", MappingProxyType(normal))
        object.__setattr__(self, "holidays", _check_holidays(self.holidays))
        if not isinstance(self.name, str):
            raise InvalidCalendar(f"name must be a string, got {self.name!r}")

    @classmethod
    def always(cls, tz: str) -> BusinessCalendar:
        """24×7: every instant counts."""
        return cls(tz, dict.fromkeys(range(7), ((MIDNIGHT, MIDNIGHT),)), name="24x7")

    @classmethod
    def weekdays_24(cls, tz: str) -> BusinessCalendar:
        """24×5: round the clock Monday to Friday, weekends off."""
        return cls(tz, dict.fromkeys(range(5), ((MIDNIGHT, MIDNIGHT),)), name="24x5")

    @classmethod
    def office(
        cls,
        tz: str,
        start: time = time(9, 0),
        end: time = time(18, 0),
        days: Iterable[int] = range(6),
    ) -> BusinessCalendar:
        """One window *start*-*end* on each of *days* (default Monday to Saturday, 09-18)."""
        return cls(tz, dict.fromkeys(days, ((start, end),)), name="office")

    def with_holidays(self, dates: Iterable[date]) -> BusinessCalendar:
        """A copy with *dates* added to the days off (e.g. India/Kerala public holidays)."""
        return replace(self, holidays=self.holidays | _check_holidays(dates))

    @property
    def zone(self) -> ZoneInfo:
        """The resolved time zone."""
        return ZoneInfo(self.tz)

    def windows_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening windows as UTC ``(start, end)`` pairs, from *instant* on (clipped), in order.

        Endless for any valid calendar (holidays are finite); callers stop when done.
        """
        ensure_aware(instant, "instant")
        if not self.hours:
            return
        zone = self.zone
        origin = instant.astimezone(UTC)
        day = origin.astimezone(zone).date()
        days = self._days
        while True:
            windows = days.get(day)
            if windows is None:
                if len(days) > _DAYS_KEPT:
                    days.clear()
                windows = days[day] = self._utc_windows(day, zone)
            for lo, hi in windows:
                lo = max(lo, origin)
                if hi > lo:
                    yield lo, hi
            day += _ONE_DAY

    def _utc_windows(self, day: date, zone: ZoneInfo) -> tuple[tuple[datetime, datetime], ...]:
        if day in self.holidays:
            return ()
        out = []
        for start, end in self.hours.get(day.weekday(), ()):
            lo = datetime.combine(day, start, zone).astimezone(UTC)
            end_day = day + _ONE_DAY if end == MIDNIGHT else day
            out.append((lo, datetime.combine(end_day, end, zone).astimezone(UTC)))
        return tuple(out)


def _check_holidays(dates: object) -> frozenset[date]:
    """Validate holidays: plain dates only (a datetime would silently mean its date)."""
    if not isinstance(dates, Iterable) or isinstance(dates, str | bytes):
        raise InvalidCalendar(f"holidays must be an iterable of dates, got {dates!r}")
    out = frozenset(dates)
    for value in out:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise InvalidCalendar(f"holidays must be datetime.date values, got {value!r}")
    return out


def add_business_time(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The earliest instant at which *duration* of business time has elapsed since *start*.

    Outside opening hours counting begins at the next opening; a target that is used up
    exactly at a closing time is due at that closing time.  Returned in *start*'s zone.
    """
    ensure_aware(start, "start")
    if duration < _ZERO:
        raise ValueError(f"duration must not be negative, got {duration!r}")
    if not duration:
        return start
    remaining = duration
    for lo, hi in calendar.windows_from(start):
        span = hi - lo
        if remaining <= span:
            return (lo + remaining).astimezone(start.tzinfo)
        remaining -= span
    raise InvalidCalendar("calendar has no working hours")


def business_time_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Business time inside ``[start, end)``; zero when *end* is not after *start*."""
    ensure_aware(start, "start")
    ensure_aware(end, "end")
    total = _ZERO
    if end <= start:
        return total
    for lo, hi in calendar.windows_from(start):
        if lo >= end:
            break
        total += min(hi, end) - lo
    return total
