"""Pure SLA domain: severities, policies, deadlines with pauses, warnings and escalation.

A franchisee is judged on whether tickets get a first response and a resolution in time, so
the deadline rules (seed 003) live here as deterministic code: no database, no I/O and no
clock reads (``now`` is always a parameter).  Supervisors, the worker that escalates and the
tests all get the same answer for the same facts.

Time spent waiting on the customer or on hold does not count: pauses are subtracted, and a
due time moves out when the ticket resumes.  Targets are business time on the ticket's
calendar (see :mod:`sahaya.sla.calendar`); a target meant as calendar days belongs on a 24×7
calendar.  Datetimes returned follow the zone of the ``started``/``opened_at`` input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from sahaya.sla.calendar import (
    BusinessCalendar,
    InvalidCalendar,
    add_business_time,
    business_time_between,
    ensure_aware,
)

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_SEVERITY_RULES",
    "TIER_LADDER",
    "TREE_LADDER",
    "BusinessCalendar",
    "Clock",
    "ClockState",
    "Deadline",
    "Interval",
    "InvalidCalendar",
    "Ladder",
    "Severity",
    "SeverityRules",
    "SlaPolicy",
    "add_business_time",
    "business_time_between",
    "clocks",
    "due_at",
    "elapsed",
    "rca_due",
    "severity_for_impact",
    "state_at",
]

_ZERO = timedelta(0)


class Severity(StrEnum):
    """How bad a ticket is; picks the resolution target."""

    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class SeverityRules:
    """Seed 003 thresholds on the share of customers impacted (0..1)."""

    critical_at: float = 0.20
    major_above: float = 0.02

    def __post_init__(self) -> None:
        if not 0.0 <= self.major_above < self.critical_at <= 1.0:
            raise ValueError(
                "severity rules need 0 <= major_above < critical_at <= 1, got "
                f"major_above={self.major_above!r}, critical_at={self.critical_at!r}"
            )


DEFAULT_SEVERITY_RULES = SeverityRules()


def severity_for_impact(share: float, *, rules: SeverityRules = DEFAULT_SEVERITY_RULES) -> Severity:
    """Severity for an impacted *share*: ≥ critical_at critical, > major_above major, else minor."""
    if not 0.0 <= share <= 1.0:  # also rejects NaN
        raise ValueError(f"impact share must be between 0 and 1, got {share!r}")
    if share >= rules.critical_at:
        return Severity.CRITICAL
    if share > rules.major_above:
        return Severity.MAJOR
    return Severity.MINOR


@dataclass(frozen=True, slots=True)
class Interval:
    """A pause (pending customer, on hold) from *start*; ``end=None`` means still paused."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        ensure_aware(self.start, "pause start")
        if self.end is not None:
            ensure_aware(self.end, "pause end")
            if self.end < self.start:
                raise ValueError(f"pause end {self.end!r} is before its start {self.start!r}")


def _merged(pauses: Sequence[Interval]) -> list[tuple[datetime, datetime | None]]:
    """Pauses in UTC, sorted, with overlapping or touching ones merged."""
    out: list[tuple[datetime, datetime | None]] = []
    for pause in sorted(pauses, key=lambda p: p.start):
        start = pause.start.astimezone(UTC)
        end = None if pause.end is None else pause.end.astimezone(UTC)
        if out:
            last_start, last_end = out[-1]
            if last_end is None or start <= last_end:
                out[-1] = (
                    last_start,
                    None if end is None or last_end is None else max(end, last_end),
                )
                continue
        out.append((start, end))
    return out


def due_at(
    calendar: BusinessCalendar,
    *,
    started: datetime,
    target: timedelta,
    pauses: Sequence[Interval] = (),
) -> datetime | None:
    """When business time since *started*, excluding *pauses*, reaches *target*.

    ``None`` while a pause is open and the target was not already reached before it began
    (the clock is stopped); a target reached before a pause keeps its due time.
    """
    ensure_aware(started, "started")
    if target < _ZERO:
        raise ValueError(f"target must not be negative, got {target!r}")
    cursor, remaining = started.astimezone(UTC), target
    for start, end in _merged(pauses):
        if end is not None and end <= cursor:
            continue
        if start > cursor:
            run = business_time_between(calendar, cursor, start)
            if run >= remaining:
                break
            remaining -= run
        if end is None:
            return None
        cursor = end  # later than cursor: earlier pauses were skipped above
    return add_business_time(calendar, cursor, remaining).astimezone(started.tzinfo)


def elapsed(
    calendar: BusinessCalendar,
    *,
    started: datetime,
    now: datetime,
    pauses: Sequence[Interval] = (),
) -> timedelta:
    """Business time consumed from *started* to *now*, excluding *pauses*."""
    ensure_aware(started, "started")
    ensure_aware(now, "now")
    total = business_time_between(calendar, started, now)
    for start, end in _merged(pauses):
        lo, hi = max(start, started), now if end is None else min(end, now)
        total -= business_time_between(calendar, lo, hi)
    return total


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Targets (business time): first response, resolution per severity; warning fraction."""

    first_response: timedelta
    resolution: Mapping[Severity, timedelta] = field(hash=False)
    warn_at: float = 0.75

    def __post_init__(self) -> None:
        if self.first_response <= _ZERO:
            raise ValueError(f"first_response must be positive, got {self.first_response!r}")
        missing = [s.value for s in Severity if s not in self.resolution]
        if missing:
            raise ValueError(f"resolution target missing for severity {', '.join(missing)}")
        for severity, target in self.resolution.items():
            if target <= _ZERO:
                raise ValueError(f"resolution target for {severity} must be positive")
        if not 0.0 < self.warn_at < 1.0:
            raise ValueError(f"warn_at must be between 0 and 1 (exclusive), got {self.warn_at!r}")
        frozen = {Severity(s): self.resolution[s] for s in Severity}
        object.__setattr__(self, "resolution", MappingProxyType(frozen))


DEFAULT_POLICY = SlaPolicy(
    first_response=timedelta(minutes=90),
    resolution={
        Severity.CRITICAL: timedelta(hours=6),
        Severity.MAJOR: timedelta(hours=48),
        Severity.MINOR: timedelta(days=30),
    },
)


class Deadline(StrEnum):
    """Which promise a clock tracks."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


@dataclass(frozen=True, slots=True)
class Clock:
    """One SLA clock: due and warning instants (``None`` while stopped by a pause)."""

    kind: Deadline
    due_at: datetime | None
    warn_at: datetime | None
    target: timedelta


def clocks(
    *,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    severity: Severity,
    opened_at: datetime,
    pauses: Sequence[Interval] = (),
    first_responded_at: datetime | None = None,
) -> tuple[Clock, ...]:
    """The running clocks of a ticket: first response (until answered), then resolution."""
    ensure_aware(opened_at, "opened_at")
    targets: list[tuple[Deadline, timedelta]] = []
    if first_responded_at is None:
        targets.append((Deadline.FIRST_RESPONSE, policy.first_response))
    else:
        ensure_aware(first_responded_at, "first_responded_at")
    targets.append((Deadline.RESOLUTION, policy.resolution[Severity(severity)]))
    return tuple(
        Clock(
            kind=kind,
            due_at=due_at(calendar, started=opened_at, target=target, pauses=pauses),
            warn_at=due_at(
                calendar, started=opened_at, target=target * policy.warn_at, pauses=pauses
            ),
            target=target,
        )
        for kind, target in targets
    )


class ClockState(StrEnum):
    """Where a clock stands at an instant."""

    RUNNING = "running"
    WARNING = "warning"
    BREACHED = "breached"
    PAUSED = "paused"


def state_at(clock: Clock, now: datetime, *, paused: bool) -> ClockState:
    """State at *now*.  A breach stands even while paused; otherwise a pause wins over a warning."""
    ensure_aware(now, "now")
    if clock.due_at is not None and now >= clock.due_at:
        return ClockState.BREACHED
    if paused or clock.due_at is None:
        return ClockState.PAUSED
    if clock.warn_at is not None and now >= clock.warn_at:
        return ClockState.WARNING
    return ClockState.RUNNING


@dataclass(frozen=True, slots=True)
class Ladder:
    """Escalation levels, lowest first; on a breach the ticket climbs one level."""

    levels: tuple[str, ...]

    def __post_init__(self) -> None:
        levels = tuple(self.levels)
        if not levels:
            raise ValueError("ladder needs at least one level")
        for level in levels:
            if not isinstance(level, str) or not level:
                raise ValueError(f"ladder levels must be non-empty strings, got {level!r}")
        if len(set(levels)) != len(levels):
            raise ValueError(f"ladder levels must be unique, got {levels!r}")
        object.__setattr__(self, "levels", levels)

    def next_level(self, current: str) -> str | None:
        """The level above *current*; ``None`` at the top."""
        try:
            index = self.levels.index(current)
        except ValueError:
            raise ValueError(
                f"unknown level {current!r}; ladder is {' → '.join(self.levels)}"
            ) from None
        return self.levels[index + 1] if index + 1 < len(self.levels) else None


TREE_LADDER = Ladder(("sub_district", "district", "state"))
TIER_LADDER = Ladder(("L1", "L2", "L3"))


def rca_due(
    resolved_at: datetime, *, severity: Severity, after: timedelta = timedelta(hours=72)
) -> datetime | None:
    """RCA report due time: critical tickets only, *after* wall-clock hours past resolution."""
    ensure_aware(resolved_at, "resolved_at")
    if after < _ZERO:
        raise ValueError(f"after must not be negative, got {after!r}")
    if Severity(severity) is not Severity.CRITICAL:
        return None
    return (resolved_at.astimezone(UTC) + after).astimezone(resolved_at.tzinfo)


_RANK = {Severity.MINOR: 0, Severity.MAJOR: 1, Severity.CRITICAL: 2}


def severity_for_tags(tags: Iterable[str], rules: Mapping[str, Severity]) -> Severity | None:
    """The highest severity any of the ticket's tags maps to (category rules), if any."""
    matched = [rules[tag] for tag in tags if tag in rules]
    return max(matched, key=_RANK.__getitem__) if matched else None
