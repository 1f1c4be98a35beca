"""Ticket rules without I/O: statuses and the moves between them, channels, human numbers.

The lifecycle follows the seeds (osTicket, OTRS, Zoho Desk): a ticket is *new* until a lead
triages it, *open* in its queue, *assigned* to an executive, parked as *pending-customer*
(waiting on the customer) or *on-hold* (waiting on a third party) — both stop the SLA clock —
then *resolved* and finally *closed*. Resolved and closed tickets can be reopened.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    ASSIGNED = "assigned"
    PENDING_CUSTOMER = "pending_customer"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Channel(StrEnum):
    VOICE = "voice"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    EMAIL = "email"
    APP = "app"
    WEB = "web"
    API = "api"


class EntryKind(StrEnum):
    CUSTOMER_MESSAGE = "customer_message"
    AGENT_REPLY = "agent_reply"
    INTERNAL_NOTE = "internal_note"
    SYSTEM_EVENT = "system_event"


class IllegalTransition(ValueError):
    """A status move the lifecycle does not allow; the message names both ends."""


# Where each status may go. Reopening (resolved/closed → open or assigned) is a move too.
_MOVES: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.OPEN, Status.ASSIGNED, Status.RESOLVED, Status.CLOSED}),
    Status.OPEN: frozenset(
        {Status.ASSIGNED, Status.PENDING_CUSTOMER, Status.ON_HOLD, Status.RESOLVED}
    ),
    Status.ASSIGNED: frozenset(
        {Status.OPEN, Status.PENDING_CUSTOMER, Status.ON_HOLD, Status.RESOLVED}
    ),
    Status.PENDING_CUSTOMER: frozenset({Status.OPEN, Status.ASSIGNED, Status.RESOLVED}),
    Status.ON_HOLD: frozenset({Status.OPEN, Status.ASSIGNED, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.OPEN, Status.ASSIGNED}),
    Status.CLOSED: frozenset({Status.OPEN, Status.ASSIGNED}),
}
PAUSED = frozenset({Status.PENDING_CUSTOMER, Status.ON_HOLD})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DONE = frozenset({Status.RESOLVED, Status.CLOSED})


def allowed_moves(current: Status) -> frozenset[Status]:
    return _MOVES[current]


def transition(current: Status, target: Status, *, has_assignee: bool) -> Status:
    """Check a move and return the status to store.

    Moving to *assigned* needs an assignee; leaving *assigned* for *open* drops it (the
    caller clears the assignee). Resuming from a pause or reopening goes to *assigned* when
    someone still owns the ticket, else *open*.
    """
    if target == current:
        raise IllegalTransition(f"the ticket is already {current.value}")
    if target not in _MOVES[current]:
        allowed = ", ".join(sorted(s.value for s in _MOVES[current]))
        raise IllegalTransition(
            f"cannot move a ticket from {current.value} to {target.value} (allowed: {allowed})"
        )
    if target == Status.ASSIGNED and not has_assignee:
        raise IllegalTransition("cannot move to assigned without an assignee; assign someone")
    if target == Status.OPEN and has_assignee and current in PAUSED | DONE:
        return Status.ASSIGNED
    return target


def resume_status(*, has_assignee: bool) -> Status:
    """Where a paused ticket goes when the customer answers."""
    return Status.ASSIGNED if has_assignee else Status.OPEN


_PREFIX = re.compile(r"^[A-Z]{2,4}$")
_NUMBER = re.compile(r"^([A-Z]{2,4})-(\d{6,})$")


def service_prefix(service_code: str) -> str:
    """`apnafood` → `AF`, `apnaride` → `AR`: the first letters of 'apna' and the rest."""
    code = service_code.lower()
    rest = code.removeprefix("apna") or code
    return ("A" + rest[0]).upper() if code.startswith("apna") else code[:2].upper()


def format_number(prefix: str, sequence: int) -> str:
    if not _PREFIX.match(prefix):
        raise ValueError(f"ticket prefix {prefix!r} must be 2-4 capital letters")
    if sequence < 1:
        raise ValueError("ticket sequence starts at 1")
    return f"{prefix}-{sequence:06d}"


def parse_number(text: str) -> tuple[str, int] | None:
    match = _NUMBER.match(text.strip().upper())
    return (match.group(1), int(match.group(2))) if match else None


class AssignMode(StrEnum):
    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LEAST_OPEN = "least_open"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An executive who could take a ticket now (available, on shift, serving the service)."""

    id: uuid.UUID
    rank: int
    open_tickets: int
    last_assigned_at: datetime | None


def choose_assignee(candidates: Sequence[Candidate], mode: AssignMode) -> Candidate | None:
    """Round robin gives the ticket to whoever was assigned least recently (never first);
    least-open to whoever holds the fewest unresolved tickets. Ties go by rank."""
    if not candidates or mode == AssignMode.MANUAL:
        return None
    if mode == AssignMode.ROUND_ROBIN:
        return min(
            candidates,
            key=lambda c: (c.last_assigned_at is not None, c.last_assigned_at or _EPOCH, c.rank),
        )
    return min(candidates, key=lambda c: (c.open_tickets, c.rank))
