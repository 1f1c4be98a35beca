"""A lead's triage: set a ticket's severity — directly, or from the share of production
affected (seed 003: ≥ 20 % critical, 2–20 % major, else minor) — always with a reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sahaya.access import Principal, Role
from sahaya.access.errors import NotAllowed
from sahaya.persistence import UnitOfWork
from sahaya.sla import domain as sla_domain
from sahaya.tickets import sla
from sahaya.tickets.errors import InvalidTicket
from sahaya.tickets.repository import TicketRepository
from sahaya.tickets.services import actor_label, get
from sahaya.tickets.tables import TicketRow


async def set_severity(
    *,
    uow: UnitOfWork,
    actor: Principal,
    number: str,
    reason: str,
    now: datetime,
    severity: sla_domain.Severity | None = None,
    impact_share: float | None = None,
) -> TicketRow:
    if not actor.at_least(Role.SUPERVISOR):
        raise NotAllowed("only a lead (supervisor or admin) sets a ticket's severity")
    if not reason.strip():
        raise InvalidTicket("reason: say why the severity changes", field="reason")
    if (severity is None) == (impact_share is None):
        raise InvalidTicket("give exactly one of severity or impact_share", field="severity")
    if impact_share is not None:
        try:
            severity = sla_domain.severity_for_impact(impact_share)
        except ValueError as exc:
            raise InvalidTicket(f"impact_share: {exc}", field="impact_share") from None
    assert severity is not None  # noqa: S101 - one of the two was given
    ticket, node = await get(uow=uow, actor=actor, number=number, lock=True)
    changes: dict[str, Any] = {"severity": [ticket.severity, severity.value], "reason": reason}
    if impact_share is not None:
        changes["impact_share"] = impact_share
    ticket.severity = severity.value
    ticket.updated_at = now
    await sla.on_severity(uow=uow, ticket=ticket, node=node, now=now)
    TicketRepository(uow.session).record_event(
        ticket, actor=actor_label(actor), action="severity", changes=changes, now=now
    )
    return ticket
