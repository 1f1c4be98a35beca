"""Pure rules of the voice context: call outcomes, what each rung executive did, the
busy-caller rule, the missed-calls-in-a-row rule and the dial budget. Standard library only;
time is passed in.

Exotel rings the dial list sequentially and reports only the end of the Connect applet: the
number it dialled last (`DialWhomNumber`) and that attempt's status (`DialCallStatus`). So
everyone before the last-dialled number was rung and did not pick up, and nobody after it
was rung at all (providers.md §1.a–1.c).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Outcome(StrEnum):
    """How a call ended for the caller, kept apart as contact centres report them."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"
    FAILED = "failed"
    CALLER_HUNG_UP = "caller_hung_up"
    NOT_CONNECTED = "not_connected"  # nobody reachable: the dial list was empty


# Calls that count towards the busy-caller rule: the caller tried and got nobody.
UNANSWERED = frozenset(Outcome) - {Outcome.ANSWERED}


class LegOutcome(StrEnum):
    """What happened to one executive offered the call."""

    ANSWERED = "answered"
    MISSED = "missed"  # rung before the last-dialled number: did not pick up
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"
    FAILED = "failed"
    CALLER_HUNG_UP = "caller_hung_up"  # the caller gave up while this one rang
    NOT_RUNG = "not_rung"  # after the answerer, or the caller hung up first
    UNREPORTED = "unreported"  # no outcome came within the horizon: released, not blamed


# A leg the executive let pass: three in a row set them away (Asterisk's auto-pause).
MISSES = frozenset({LegOutcome.MISSED, LegOutcome.NO_ANSWER, LegOutcome.BUSY, LegOutcome.REJECTED})

# Legs that say nothing about the executive: skipped by the missed-in-a-row rule.
NOT_BLAMED = frozenset({LegOutcome.NOT_RUNG, LegOutcome.CALLER_HUNG_UP, LegOutcome.UNREPORTED})

_DIAL_STATUS = {
    "completed": Outcome.ANSWERED,
    "answered": Outcome.ANSWERED,
    "no-answer": Outcome.NO_ANSWER,
    "busy": Outcome.BUSY,
    "rejected": Outcome.REJECTED,
    "failed": Outcome.FAILED,
    "canceled": Outcome.CALLER_HUNG_UP,
    "cancelled": Outcome.CALLER_HUNG_UP,
}


@dataclass(frozen=True, slots=True)
class CallReport:
    """What Exotel says about an inbound call at a step of its flow (gate, dial, outcome),
    numbers already read as E.164 where they could be."""

    call_sid: str
    caller: str
    caller_e164: str | None
    called: str
    digits: str | None = None
    call_type: str | None = None
    dial_status: str | None = None
    dialled: str | None = None
    dialled_e164: str | None = None
    duration: int | None = None
    recording_url: str | None = None

    @property
    def outcome(self) -> Outcome:
        return outcome_of(
            call_type=self.call_type, dial_status=self.dial_status, dialled=self.dialled
        )


def outcome_of(*, call_type: str | None, dial_status: str | None, dialled: str | None) -> Outcome:
    """The outcome of an inbound call from the Passthru after Connect (`CallType`,
    `DialCallStatus`, `DialWhomNumber`), as frappe's Exotel integration maps them."""
    kind = (call_type or "").strip().lower()
    status = (dial_status or "").strip().lower()
    if kind == "completed" or status in ("completed", "answered"):
        return Outcome.ANSWERED
    if kind == "client-hangup" or status in ("canceled", "cancelled"):
        return Outcome.CALLER_HUNG_UP
    if status in _DIAL_STATUS:
        return _DIAL_STATUS[status]
    if not dialled:
        return Outcome.NOT_CONNECTED
    return Outcome.NO_ANSWER  # `incomplete` without a status: rung, nobody picked up


def leg_outcomes(offered: Sequence[str], dialled: str | None, outcome: Outcome) -> list[LegOutcome]:
    """What each offered number (in dial order) did, given the last-dialled number."""
    if dialled not in offered:
        # Nobody was dialled (empty list, or the caller left before the first ring), or
        # Exotel named a number we did not offer: no executive can be blamed.
        return [LegOutcome.NOT_RUNG] * len(offered)
    last = offered.index(dialled)
    final = LegOutcome(outcome.value) if outcome != Outcome.NOT_CONNECTED else LegOutcome.NOT_RUNG
    result = []
    for position in range(len(offered)):
        if position < last:
            result.append(LegOutcome.MISSED)
        elif position == last:
            result.append(final)
        else:
            result.append(LegOutcome.NOT_RUNG)
    return result


def missed_in_a_row(recent: Iterable[LegOutcome], limit: int) -> bool:
    """True when the `limit` most recent rung legs (newest first) were all missed."""
    rung = [leg for leg in recent if leg not in NOT_BLAMED]
    return limit > 0 and len(rung) >= limit and all(leg in MISSES for leg in rung[:limit])


@dataclass(frozen=True, slots=True)
class BusyRule:
    """N unanswered calls within a window open a ticket and a callback (seed 000)."""

    calls: int = 3
    window: timedelta = timedelta(minutes=30)

    def triggered(self, unanswered_at: Iterable[datetime], now: datetime) -> bool:
        since = now - self.window
        return sum(1 for at in unanswered_at if since < at <= now) >= self.calls


@dataclass(frozen=True, slots=True)
class DialTiming:
    """Ring each executive `ring_seconds`; the whole call may ring `budget_seconds`."""

    ring_seconds: int = 20
    budget_seconds: int = 120

    def __post_init__(self) -> None:
        if not 5 <= self.ring_seconds <= 120:
            raise ValueError("ring_seconds must be within 5..120")
        if self.budget_seconds < self.ring_seconds:
            raise ValueError("budget_seconds must be at least ring_seconds")

    @property
    def max_numbers(self) -> int:
        return self.budget_seconds // self.ring_seconds


def timing_for(path: str, overrides: Mapping[str, DialTiming], default: DialTiming) -> DialTiming:
    """The timing of the nearest node on `path` (`a/b/c`, then `a/b`, then `a`) that sets
    one, else the default."""
    parts = path.split("/")
    for depth in range(len(parts), 0, -1):
        found = overrides.get("/".join(parts[:depth]))
        if found is not None:
            return found
    return default


class GateDecision(StrEnum):
    ALLOW = "allow"  # registered customer: the flow goes on (200)
    DENY = "deny"  # unknown or blocked number: the flow hangs up (302)
    FALLBACK = "fallback"  # could not decide (database down): the configured policy


def selected_service(active: Sequence[str], digits: str | None) -> str | None:
    """The service a call is about: the only active one, else the IVR menu's choice
    (`1` = the first active service in code order). None when the choice is missing or
    out of range."""
    if len(active) == 1:
        return active[0]
    choice = (digits or "").strip().strip('"').strip()
    if choice.isdigit() and 1 <= int(choice) <= len(active):
        return sorted(active)[int(choice) - 1]
    return None


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """Automatic callbacks: `tries` attempts, `spacing` apart; a placed call whose report
    has not come within `report_timeout` counts as a failed attempt."""

    tries: int = 3
    spacing: timedelta = timedelta(minutes=15)
    report_timeout: timedelta = timedelta(minutes=30)
    wait_for_executive: timedelta = timedelta(minutes=1)

    def after_failed_attempt(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again, or None when the tries are used up."""
        return now + self.spacing if attempts < self.tries else None


def conversation_happened(
    status: str, legs: Sequence[str | None], conversation_seconds: int | None
) -> bool:
    """A callback is done only when both the executive and the customer talked. Exotel
    documents `Legs` only in JSON reports (how a form flattens them is undocumented), so
    without them `ConversationDuration` — seconds both parties were connected — decides,
    and without that the call's status (providers.md §1.c)."""
    if legs:
        return status == "completed" and len(legs) >= 2 and all(leg == "completed" for leg in legs)
    if conversation_seconds is not None:
        return conversation_seconds > 0
    return status == "completed"
