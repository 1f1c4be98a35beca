"""A ticket's SLA clocks: started at intake, paused and resumed with the ticket's status,
stopped on resolution, and fired — warnings, breaches, escalation up the ladder.

Deadlines are indexed columns on `sla_ticket_clocks`; `tickets.escalation` fires them (the
sweep: each fired column set once, so two workers, or a re-run after a crash, never act
twice).
The default ladder climbs the franchise tree: the ticket moves to the parent node (L1 = the
sub-district team, L2 = district, L3 = state), is re-queued as *open*, and its clocks
restart there.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.network import NodeRow
from sahaya.network.repository import ancestor_paths
from sahaya.persistence import UnitOfWork
from sahaya.sla import RcaFollowUpRow, SlaRepository, TicketClockRow, calendars
from sahaya.sla import domain as sla
from sahaya.tickets import domain
from sahaya.tickets.repository import TicketRepository
from sahaya.tickets.tables import TicketEventRow, TicketRow

log = logging.getLogger(__name__)
SYSTEM = "system:sla"
RCA_REMIND_EVERY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class SlaConfig:
    policy: sla.SlaPolicy = sla.DEFAULT_POLICY
    ladder: sla.Ladder = field(default=sla.TREE_LADDER)

    @classmethod
    def named(cls, ladder: str) -> SlaConfig:
        """`tree` (sub-district → district → state) or `tiers` (L1 → L2 → L3 engineers)."""
        return cls(ladder=sla.TIER_LADDER if ladder == "tiers" else sla.TREE_LADDER)


DEFAULT = SlaConfig()


def _years(now: datetime) -> range:
    return range(now.year - 1, now.year + 3)


async def _calendar(
    uow: UnitOfWork, node: NodeRow, now: datetime
) -> tuple[uuid.UUID | None, sla.BusinessCalendar]:
    """The calendar attached nearest to the node (inherited down the tree), or the default.
    The tenant's attachments come from the per-process reference cache."""
    years = _years(now)

    async def load(session: AsyncSession) -> dict[str, tuple[uuid.UUID, sla.BusinessCalendar]]:
        rows = await SlaRepository(session).calendars_by_node_path(node.tenant_id)
        return {path: (row.id, calendars.from_row(row, years)) for path, row in rows.items()}

    attached = await uow.cached(("calendars", node.tenant_id, years.start), load)
    for path in reversed(ancestor_paths(node.path)):  # nearest first
        if path in attached:
            return attached[path]
    return None, calendars.default_calendar(years)


def _pauses(row: TicketClockRow) -> list[sla.Interval]:
    return [
        sla.Interval(datetime.fromisoformat(str(s)), datetime.fromisoformat(e) if e else None)
        for s, e in row.pauses
    ]


def _schedule(row: TicketClockRow, calendar: sla.BusinessCalendar, policy: sla.SlaPolicy) -> None:
    """Recompute due and warning instants, and the next instant anything must fire."""
    if row.stopped_at is not None:
        row.fr_due_at = row.fr_warn_at = row.res_due_at = row.res_warn_at = None
        row.next_fire_at = None
        return
    clocks = {
        c.kind: c
        for c in sla.clocks(
            policy=policy,
            calendar=calendar,
            severity=sla.Severity(row.severity),
            opened_at=row.started_at,
            pauses=_pauses(row),
            first_responded_at=row.first_responded_at,
        )
    }
    first = clocks.get(sla.Deadline.FIRST_RESPONSE)
    row.fr_due_at, row.fr_warn_at = (first.due_at, first.warn_at) if first else (None, None)
    res = clocks[sla.Deadline.RESOLUTION]
    row.res_due_at, row.res_warn_at = res.due_at, res.warn_at
    pending = [
        at
        for at, fired in (
            (row.fr_warn_at, row.fr_warned_at),
            (row.fr_due_at, row.fr_breached_at),
            (row.res_warn_at, row.res_warned_at),
            (row.res_due_at, row.res_breached_at),
        )
        if at is not None and fired is None
    ]
    row.next_fire_at = min(pending) if pending else None


async def start(
    *, uow: UnitOfWork, ticket: TicketRow, node: NodeRow, now: datetime, config: SlaConfig = DEFAULT
) -> TicketClockRow:
    calendar_id, calendar = await _calendar(uow, node, now)
    row = TicketClockRow.fresh(
        ticket_id=ticket.id,
        tenant_id=ticket.tenant_id,
        calendar_id=calendar_id,
        severity=ticket.severity,
        started_at=now,
        pauses=[],
        level=node.level,
        escalations=0,
    )
    _schedule(row, calendar, config.policy)
    SlaRepository(uow.session).add(row)
    return row


async def _refresh(
    uow: UnitOfWork, row: TicketClockRow, node: NodeRow, now: datetime, config: SlaConfig
) -> None:
    _, calendar = await _calendar(uow, node, now)
    _schedule(row, calendar, config.policy)


async def on_status(
    *,
    uow: UnitOfWork,
    ticket: TicketRow,
    node: NodeRow,
    before: domain.Status,
    after: domain.Status,
    now: datetime,
    config: SlaConfig = DEFAULT,
) -> None:
    """Pause while waiting on the customer or a third party; stop when done; resume."""
    row = await SlaRepository(uow.session).clock(ticket.id, lock=True)
    if row is None:
        return
    pauses = [list(p) for p in row.pauses]
    if after in domain.PAUSED and before not in domain.PAUSED:
        pauses.append([now.isoformat(), None])
    if before in domain.PAUSED and after not in domain.PAUSED and pauses and pauses[-1][1] is None:
        pauses[-1][1] = now.isoformat()
    row.pauses = pauses
    row.stopped_at = now if after in domain.DONE else None
    if after == domain.Status.RESOLVED:
        await _request_rca(uow, ticket, now)
    row.severity = ticket.severity
    await _refresh(uow, row, node, now, config)


async def on_severity(
    *, uow: UnitOfWork, ticket: TicketRow, node: NodeRow, now: datetime, config: SlaConfig = DEFAULT
) -> None:
    """A new severity means a new resolution target, counted from the same start."""
    row = await SlaRepository(uow.session).clock(ticket.id, lock=True)
    if row is None:
        return
    row.severity = ticket.severity
    row.res_warned_at = row.res_breached_at = None
    await _refresh(uow, row, node, now, config)


async def on_first_response(
    *, uow: UnitOfWork, ticket: TicketRow, node: NodeRow, now: datetime, config: SlaConfig = DEFAULT
) -> None:
    row = await SlaRepository(uow.session).clock(ticket.id, lock=True)
    if row is None or row.first_responded_at is not None:
        return
    row.first_responded_at = now
    await _refresh(uow, row, node, now, config)


async def _request_rca(uow: UnitOfWork, ticket: TicketRow, now: datetime) -> None:
    """A resolved critical ticket owes an RCA within 72 h (seed 003); tickets.rca tracks it."""
    due = sla.rca_due(now, severity=sla.Severity(ticket.severity))
    if due is None or await uow.session.get(RcaFollowUpRow, ticket.id) is not None:
        return
    uow.session.add(
        RcaFollowUpRow(
            ticket_id=ticket.id,
            tenant_id=ticket.tenant_id,
            due_at=due,
            next_reminder_at=due - RCA_REMIND_EVERY,
            reminders=0,
            created_at=now,
        )
    )
    _event(uow, ticket, "rca_requested", {"due_at": due.isoformat()}, now)


def _event(
    uow: UnitOfWork, ticket: TicketRow, action: str, changes: dict[str, Any], now: datetime
) -> TicketEventRow:
    return TicketRepository(uow.session).record_event(
        ticket, actor=SYSTEM, action=action, changes=changes, now=now
    )
