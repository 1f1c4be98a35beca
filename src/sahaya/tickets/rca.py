"""RCA follow-ups: a critical ticket that is resolved owes a root-cause analysis within
72 h (seed 003). Reminders go out a day before it is due, when it is due, and daily after,
each an audit event, until the RCA text is filed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from sahaya.access import Principal
from sahaya.persistence import UnitOfWork
from sahaya.sla import RcaFollowUpRow
from sahaya.tickets.errors import IllegalTicketMove, InvalidTicket, UnknownTicket
from sahaya.tickets.repository import TicketRepository
from sahaya.tickets.services import actor_label, get
from sahaya.tickets.sla import RCA_REMIND_EVERY
from sahaya.tickets.tables import TicketRow

SYSTEM = "system:rca"


def _event(
    uow: UnitOfWork,
    ticket: TicketRow,
    action: str,
    changes: dict[str, object],
    now: datetime,
    actor: str,
) -> None:
    TicketRepository(uow.session).record_event(
        ticket, actor=actor, action=action, changes=dict(changes), now=now
    )


async def file(
    *, uow: UnitOfWork, actor: Principal, number: str, text: str, now: datetime
) -> RcaFollowUpRow:
    if not text.strip():
        raise InvalidTicket("text: the RCA must not be empty", field="text")
    ticket, _ = await get(uow=uow, actor=actor, number=number, lock=True)
    row = await uow.session.get(RcaFollowUpRow, ticket.id, with_for_update=True)
    if row is None:
        raise UnknownTicket(f"ticket {number} owes no RCA (only resolved critical tickets do)")
    if row.filed_at is not None:
        raise IllegalTicketMove(f"the RCA for {number} was filed on {row.filed_at:%Y-%m-%d}")
    row.text, row.filed_at, row.filed_by, row.next_reminder_at = text, now, actor_label(actor), None
    _event(uow, ticket, "rca_filed", {"late": now > row.due_at}, now, actor_label(actor))
    return row


async def status(*, uow: UnitOfWork, actor: Principal, number: str) -> RcaFollowUpRow:
    ticket, _ = await get(uow=uow, actor=actor, number=number)
    row = await uow.session.get(RcaFollowUpRow, ticket.id)
    if row is None:
        raise UnknownTicket(f"ticket {number} owes no RCA (only resolved critical tickets do)")
    return row


async def remind(*, uow: UnitOfWork, now: datetime, limit: int = 200) -> int:
    """Send the reminders that are due (locked rows are skipped: another worker has them)."""
    rows = (
        await uow.session.scalars(
            select(RcaFollowUpRow)
            .where(RcaFollowUpRow.next_reminder_at <= now, RcaFollowUpRow.filed_at.is_(None))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        ticket = await uow.session.get(TicketRow, row.ticket_id)
        assert ticket is not None  # noqa: S101 - foreign key
        row.reminders += 1
        action = "rca_overdue" if now >= row.due_at else "rca_reminder"
        _event(
            uow,
            ticket,
            action,
            {"due_at": row.due_at.isoformat(), "reminder": row.reminders},
            now,
            SYSTEM,
        )
        while row.next_reminder_at is not None and row.next_reminder_at <= now:
            row.next_reminder_at += RCA_REMIND_EVERY
    return len(rows)
