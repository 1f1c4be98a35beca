"""Automatic assignment per queue: round robin or least-open tickets, among the executives
of the ticket's current node who are available, on shift and serve the service.

It runs as a worker sweep rather than at intake, so a ticket waiting in a queue is picked up
as soon as someone comes on shift, and an escalated ticket re-queued at the district is
handed out there. Tickets waiting for a contract-exception decision are never assigned.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from sahaya.network import ExecutiveRow, NodeRow
from sahaya.network import services as network
from sahaya.persistence import UnitOfWork
from sahaya.sla import TicketClockRow
from sahaya.sla.domain import TIER_LADDER
from sahaya.tickets import domain
from sahaya.tickets.repository import TicketRepository
from sahaya.tickets.tables import AssignmentStatRow, TicketQueueRow, TicketRow

SYSTEM = "system:routing"
_WAITING = ("new", "open")
_ASSIGNABLE = ("not_needed", "approved")


async def set_mode(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, channel: domain.Channel, mode: domain.AssignMode
) -> None:
    statement = insert(TicketQueueRow).values(
        id=uuid.uuid4(), tenant_id=tenant_id, channel=channel.value, mode=mode.value
    )
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[TicketQueueRow.tenant_id, TicketQueueRow.channel],
            set_={"mode": mode.value},
        )
    )


async def modes(*, uow: UnitOfWork, tenant_id: uuid.UUID) -> dict[str, str]:
    rows = await uow.session.execute(
        select(TicketQueueRow.channel, TicketQueueRow.mode).where(
            TicketQueueRow.tenant_id == tenant_id
        )
    )
    found: dict[str, str] = {channel: mode for channel, mode in rows.all()}  # noqa: C416
    return {c.value: found.get(c.value, domain.AssignMode.MANUAL.value) for c in domain.Channel}


async def _candidates(
    uow: UnitOfWork, ticket: TicketRow, now: datetime
) -> list[tuple[domain.Candidate, ExecutiveRow]]:
    """On a tier ladder (clock level L1/L2/L3) only executives of that tier qualify."""
    node = await uow.session.get(NodeRow, ticket.node_id)
    if node is None or node.franchisee_id is None:
        return []
    executives = (
        await uow.session.scalars(
            select(ExecutiveRow).where(
                ExecutiveRow.franchisee_id == node.franchisee_id,
                ExecutiveRow.availability == "available",
                ExecutiveRow.services.contains([ticket.service_code]),
            )
        )
    ).all()
    clock = await uow.session.get(TicketClockRow, ticket.id)
    if clock is not None and clock.level in TIER_LADDER.levels:
        executives = [e for e in executives if e.support_tier == clock.level]
    on_shift = [e for e in executives if network.executive_view(e).hours.is_on_shift(now)]
    if not on_shift:
        return []
    ids = [e.id for e in on_shift]
    open_counts = dict(
        (
            await uow.session.execute(
                select(TicketRow.assignee_id, func.count())
                .where(
                    TicketRow.assignee_id.in_(ids), TicketRow.status.not_in(("resolved", "closed"))
                )
                .group_by(TicketRow.assignee_id)
            )
        ).all()
    )
    last = dict(
        (
            await uow.session.execute(
                select(AssignmentStatRow.executive_id, AssignmentStatRow.last_assigned_at).where(
                    AssignmentStatRow.executive_id.in_(ids)
                )
            )
        ).all()
    )
    return [
        (domain.Candidate(e.id, e.rank, int(open_counts.get(e.id, 0)), last.get(e.id)), e)
        for e in on_shift
    ]


async def sweep(*, uow: UnitOfWork, now: datetime, limit: int = 200) -> int:
    """Assign waiting tickets of automatic queues, oldest first; returns how many."""
    waiting = (
        await uow.session.execute(
            select(TicketRow, TicketQueueRow.mode)
            .join(
                TicketQueueRow,
                (TicketQueueRow.tenant_id == TicketRow.tenant_id)
                & (TicketQueueRow.channel == TicketRow.channel),
            )
            .where(
                TicketQueueRow.mode != domain.AssignMode.MANUAL.value,
                TicketRow.assignee_id.is_(None),
                TicketRow.status.in_(_WAITING),
                TicketRow.approval.in_(_ASSIGNABLE),
            )
            .order_by(TicketRow.created_at)
            .limit(limit)
            .with_for_update(of=TicketRow, skip_locked=True)
        )
    ).all()
    assigned = 0
    for ticket, mode in waiting:
        pairs = await _candidates(uow, ticket, now)
        chosen = domain.choose_assignee([c for c, _ in pairs], domain.AssignMode(mode))
        if chosen is None:
            continue
        changes: dict[str, Any] = {
            "assignee_id": [None, str(chosen.id)],
            "status": [ticket.status, domain.Status.ASSIGNED.value],
            "mode": mode,
        }
        ticket.assignee_id = chosen.id
        ticket.status = domain.Status.ASSIGNED.value
        ticket.updated_at = now
        stat = insert(AssignmentStatRow).values(
            executive_id=chosen.id, tenant_id=ticket.tenant_id, last_assigned_at=now
        )
        await uow.session.execute(
            stat.on_conflict_do_update(
                index_elements=[AssignmentStatRow.executive_id], set_={"last_assigned_at": now}
            )
        )
        TicketRepository(uow.session).record_event(
            ticket, actor=SYSTEM, action="auto_assigned", changes=changes, now=now
        )
        assigned += 1
    return assigned
