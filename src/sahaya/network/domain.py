"""Pure escalation-chain domain for the Sahaya contact centre.

A call rings the caller's Sub-District franchisee first, then the District, then the
State.  Who is rung, and why anyone was passed over, is the heart of the product, so
it lives here as deterministic code with no database, I/O or clock reads (time is
passed in): trivially testable, and supervisors see the dialler's exact reasoning.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TZ = "Asia/Kolkata"
DAY_KEYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DASH = "\u2013"  # en dash, used in human-readable ranges
_HHMM = re.compile(r"(\d{2}):(\d{2})")
_MIDNIGHT = time(0, 0)


class Level(StrEnum):
    """Tier of the franchise network."""

    STATE = "state"
    DISTRICT = "district"
    SUB_DISTRICT = "sub_district"


_LEVEL_ORDER: dict[Level, int] = {Level.SUB_DISTRICT: 0, Level.DISTRICT: 1, Level.STATE: 2}
_LEVEL_LABEL = {
    Level.SUB_DISTRICT: "Sub-District",
    Level.DISTRICT: "District",
    Level.STATE: "State",
}


class Availability(StrEnum):
    """Presence an executive has set for themself."""

    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class InvalidWorkingHours(ValueError):
    """Raised for malformed working-hours data."""


def _parse_hhmm(value: object, where: str) -> time:
    """Parse a strict "HH:MM" string, naming *where* in the error."""
    if not isinstance(value, str):
        raise InvalidWorkingHours(f"{where}: expected an 'HH:MM' string, got {value!r}")
    match = _HHMM.fullmatch(value)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise InvalidWorkingHours(f"{where}: invalid time {value!r} (expected 'HH:MM')")
    return time(int(match[1]), int(match[2]))


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """One shift starting on *weekday* (0=Monday).

    ``end <= start`` means the shift crosses midnight into the next day;
    ``start == end`` means a full 24 hours from *start*.
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        day = self.weekday
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise InvalidWorkingHours(f"weekday must be 0-6 (0=Monday), got {day!r}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise InvalidWorkingHours(f"{name} must be a naive datetime.time, got {value!r}")

    @property
    def crosses_midnight(self) -> bool:
        """True when the shift spills into the following day."""
        return self.end <= self.start

    def covers(self, weekday: int, moment: time) -> bool:
        """Whether local *weekday*/*moment* (naive wall-clock) falls in this shift."""
        if weekday == self.weekday:
            if self.crosses_midnight:
                return moment >= self.start
            return self.start <= moment < self.end
        if self.crosses_midnight and weekday == (self.weekday + 1) % 7:
            return moment < self.end
        return False

    def describe(self) -> str:
        """Human text for the time range only, e.g. "22:00-06:00" (en dash)."""
        if self.start == self.end:
            return "all day" if self.start == _MIDNIGHT else f"24h from {self.start:%H:%M}"
        return f"{self.start:%H:%M}{_DASH}{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """A weekly roster of shift windows interpreted in time zone *tz*."""

    windows: tuple[ShiftWindow, ...]
    tz: str = DEFAULT_TZ

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(self.windows))
        for window in self.windows:
            if not isinstance(window, ShiftWindow):
                raise InvalidWorkingHours(f"windows must be ShiftWindow, got {window!r}")
        _zone(self.tz)

    def is_on_shift(self, at: datetime) -> bool:
        """Whether the timezone-aware instant *at* falls inside any window."""
        _require_aware(at, "at")
        local = at.astimezone(_zone(self.tz))
        moment = local.time().replace(tzinfo=None)
        return any(w.covers(local.weekday(), moment) for w in self.windows)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], tz: str = DEFAULT_TZ) -> WeeklyHours:
        """Build from ``{"mon": [["09:00", "18:00"]], ...}``; strict validation."""
        if not isinstance(data, Mapping):
            raise InvalidWorkingHours(f"working hours must be a mapping, got {type(data).__name__}")
        windows: list[ShiftWindow] = []
        for key, ranges in data.items():
            if key not in DAY_KEYS:
                expected = ", ".join(DAY_KEYS)
                raise InvalidWorkingHours(f"unknown day {key!r} (expected one of {expected})")
            if not isinstance(ranges, list | tuple):
                raise InvalidWorkingHours(f"{key}: expected a list of [start, end] pairs")
            for index, pair in enumerate(ranges):
                where = f"{key}[{index}]"
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    raise InvalidWorkingHours(f"{where}: expected [start, end], got {pair!r}")
                start = _parse_hhmm(pair[0], f"{where} start")
                end = _parse_hhmm(pair[1], f"{where} end")
                windows.append(ShiftWindow(DAY_KEYS.index(key), start, end))
        windows.sort(key=lambda w: w.weekday)  # stable: keeps per-day order
        return cls(tuple(windows), tz)

    def to_mapping(self) -> dict[str, list[list[str]]]:
        """Inverse of :meth:`from_mapping` (days in Monday-first order)."""
        out: dict[str, list[list[str]]] = {}
        for window in sorted(self.windows, key=lambda w: w.weekday):
            out.setdefault(DAY_KEYS[window.weekday], []).append(
                [f"{window.start:%H:%M}", f"{window.end:%H:%M}"]
            )
        return out

    def describe(self) -> str:
        """Short text such as "Mon-Sat 09:00-18:00" (en dashes); runs of equal days merge."""
        per_day = [
            ", ".join(w.describe() for w in self.windows if w.weekday == day) for day in range(7)
        ]
        if all(text == "all day" for text in per_day):
            return "24x7"
        parts: list[str] = []
        for text, run in itertools.groupby(enumerate(per_day), key=lambda item: item[1]):
            days = [DAY_KEYS[day].title() for day, _ in run]
            if text:
                span = days[0] if len(days) == 1 else f"{days[0]}{_DASH}{days[-1]}"
                parts.append(f"{span} {text}")
        return "; ".join(parts) if parts else "no working hours"

    @classmethod
    def always(cls, tz: str = DEFAULT_TZ) -> WeeklyHours:
        """Round the clock, every day."""
        return cls(tuple(ShiftWindow(day, _MIDNIGHT, _MIDNIGHT) for day in range(7)), tz)

    @classmethod
    def office_hours(cls, tz: str = DEFAULT_TZ) -> WeeklyHours:
        """Preset: Monday to Saturday, 09:00-21:00."""
        return cls(tuple(ShiftWindow(day, time(9, 0), time(21, 0)) for day in range(6)), tz)


def _zone(tz: str) -> ZoneInfo:
    """Resolve *tz*, raising InvalidWorkingHours for unknown names."""
    if not isinstance(tz, str) or not tz:
        raise InvalidWorkingHours(f"time zone must be a non-empty string, got {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidWorkingHours(f"unknown time zone {tz!r}") from exc


def _require_aware(value: datetime, name: str) -> None:
    """Reject naive datetimes: local wall-clock time is ambiguous without a zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")


OFFICE_HOURS = WeeklyHours.office_hours()


@dataclass(frozen=True, slots=True)
class ExecutiveView:
    """Read-only snapshot of an executive, as the chain builder needs it."""

    id: uuid.UUID
    name: str
    rank: int
    phone_e164: str
    services: frozenset[str]
    hours: WeeklyHours
    availability: Availability


@dataclass(frozen=True, slots=True)
class NodeView:
    """A geography node plus the executives of the franchisee that owns it."""

    id: uuid.UUID
    name: str
    level: Level
    executives: tuple[ExecutiveView, ...]


@dataclass(frozen=True, slots=True)
class ChainDepth:
    """How many executives to keep per level (configuration, not code)."""

    sub_district: int = 2
    district: int = 2
    state: int = 1

    def __post_init__(self) -> None:
        for name in ("sub_district", "district", "state"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ChainDepth.{name} must be an int >= 0, got {value!r}")

    def for_level(self, level: Level) -> int:
        """Depth configured for *level*."""
        return int(getattr(self, Level(level).value))


class SkipReason(StrEnum):
    """Why an executive was not put on the dial list (in precedence order)."""

    NOT_SERVING_SERVICE = "not_serving_service"
    OFFLINE = "offline"
    AWAY = "away"
    OFF_SHIFT = "off_shift"
    ON_CALL = "on_call"
    BEYOND_DEPTH = "beyond_depth"


@dataclass(frozen=True, slots=True)
class ChainStep:
    """One executive considered for the chain, kept or skipped, with a reason."""

    executive: ExecutiveView
    node: NodeView
    level: Level
    kept: bool
    position: int | None
    skip: SkipReason | None
    reason: str


@dataclass(frozen=True, slots=True)
class EscalationChain:
    """Every considered executive in order, plus notes about empty nodes."""

    steps: tuple[ChainStep, ...]
    gaps: tuple[str, ...]

    @property
    def kept(self) -> tuple[ChainStep, ...]:
        """Kept steps, in dial order."""
        return tuple(step for step in self.steps if step.kept)

    @property
    def dial_list(self) -> tuple[ExecutiveView, ...]:
        """Executives to ring, in order."""
        return tuple(step.executive for step in self.kept)


def _skip_for(
    executive: ExecutiveView, service: str, now: datetime, on_call: frozenset[uuid.UUID]
) -> tuple[SkipReason, str] | None:
    """First applicable ineligibility reason, or None when eligible."""
    if service not in executive.services:
        return SkipReason.NOT_SERVING_SERVICE, f"does not serve {service}"
    if executive.availability is Availability.OFFLINE:
        return SkipReason.OFFLINE, "offline"
    if executive.availability is Availability.AWAY:
        return SkipReason.AWAY, "away"
    if not executive.hours.is_on_shift(now):
        return SkipReason.OFF_SHIFT, f"off shift ({executive.hours.describe()})"
    if executive.id in on_call:
        return SkipReason.ON_CALL, "on another call"
    return None


def _validate_path(path: Sequence[NodeView]) -> None:
    """Path must be non-empty and strictly ascend sub_district -> district -> state."""
    if not path:
        raise ValueError("path must contain at least one node")
    order = [_LEVEL_ORDER[Level(node.level)] for node in path]
    if any(later <= earlier for earlier, later in itertools.pairwise(order)):
        levels = " -> ".join(Level(node.level).value for node in path)
        raise ValueError(f"path levels must ascend sub_district -> district -> state: {levels}")


def _gap_note(where: str, service: str, steps: Sequence[ChainStep]) -> str:
    """Explain why a node contributes nobody to the dial list."""
    skips = {step.skip for step in steps}
    if not steps:
        return f"{where} has no executives"
    if skips == {SkipReason.NOT_SERVING_SERVICE}:
        return f"{where} has no executives for {service}"
    if SkipReason.BEYOND_DEPTH in skips:
        return f"{where} is excluded by chain depth 0"
    return f"{where} has no executive available for {service}"


def escalation_chain(
    *,
    path: Sequence[NodeView],
    service: str,
    now: datetime,
    depth: ChainDepth,
    on_call: frozenset[uuid.UUID] = frozenset(),
) -> EscalationChain:
    """Build the ordered dial list (and the full reasoning) for one call."""
    _require_aware(now, "now")
    _validate_path(path)
    steps: list[ChainStep] = []
    gaps: list[str] = []
    position = 0
    for node in path:
        level = Level(node.level)
        where = f"{_LEVEL_LABEL[level]} {node.name}"
        limit = depth.for_level(level)
        node_steps: list[ChainStep] = []
        kept_here = 0
        for executive in sorted(node.executives, key=lambda e: (e.rank, e.name, str(e.id))):
            label = f"{where} #{executive.rank}"
            skip = _skip_for(executive, service, now, on_call)
            if skip is None and kept_here >= limit:
                beyond = f"available but beyond chain depth {limit} for {_LEVEL_LABEL[level]}"
                skip = (SkipReason.BEYOND_DEPTH, beyond)
            if skip is not None:
                reason = f"{label}: {skip[1]}"
                node_steps.append(ChainStep(executive, node, level, False, None, skip[0], reason))
                continue
            kept_here += 1
            position += 1
            reason = f"{label}: available and on shift"
            node_steps.append(ChainStep(executive, node, level, True, position, None, reason))
        if kept_here == 0:
            gaps.append(_gap_note(where, service, node_steps))
        steps.extend(node_steps)
    return EscalationChain(tuple(steps), tuple(gaps))
