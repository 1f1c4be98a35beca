"""Contract exception decisions (seed 004, "AMC expired flow").

A ticket opened without an active AMC on a service that requires one waits in approval
`pending`; nothing assigns it until sales/management decide. There is no sales role yet, so
"sales/management" is modelled as: an admin (at any node that sees the ticket) or a
supervisor at the ticket's state root. District and sub-district leads cannot decide.

Approving lets the ticket proceed. Declining resolves it with a system entry; telling the
customer belongs to the outbox (a later issue), so for now a `customer_notice_pending` audit
event records that a notice is owed.
"""

from __future__ import annotations

from datetime import datetime

from sahaya.access import Principal, Role
from sahaya.access.errors import NotAllowed
from sahaya.network import NodeRow
from sahaya.persistence import UnitOfWork
from sahaya.tickets import domain
from sahaya.tickets import sla as clocks
from sahaya.tickets.errors import IllegalTicketMove, InvalidTicket
from sahaya.tickets.repository import TicketRepository
from sahaya.tickets.services import _entry, _event, actor_label, get
from sahaya.tickets.tables import TicketRow


def may_decide(actor: Principal, node: NodeRow) -> bool:
    """Admins anywhere above the ticket; supervisors only at its state root."""
    if actor.role == Role.ADMIN:
        return True
    state_root = node.path.split("/", 1)[0]
    return actor.role == Role.SUPERVISOR and actor.node_path == state_root


async def decide(
    *,
    uow: UnitOfWork,
    actor: Principal,
    number: str,
    approve: bool,
    reason: str,
    now: datetime,
) -> TicketRow:
    reason = reason.strip()
    if not reason:
        raise InvalidTicket("reason: say why the exception is approved or declined", field="reason")
    ticket, node = await get(uow=uow, actor=actor, number=number, lock=True)
    if not may_decide(actor, node):
        raise NotAllowed(
            "only sales/management decide contract exceptions: an admin, or a supervisor "
            f"at {node.path.split('/', 1)[0]}"
        )
    if ticket.approval != "pending":
        raise IllegalTicketMove(
            f"{ticket.number} has no contract exception decision pending "
            f"(approval: {ticket.approval})",
            field="approval",
        )
    repo = TicketRepository(uow.session)
    who = actor_label(actor)
    decision = "approved" if approve else "declined"
    changes: dict[str, object] = {"approval": [ticket.approval, decision], "reason": reason}
    ticket.approval = decision
    ticket.approval_reason = reason
    ticket.updated_at = now
    if approve:
        body = f"Contract exception approved — {reason}"
    else:
        body = f"Declined: no active maintenance contract — {reason}"
        await _resolve(uow, ticket, node, changes, now)
    _event(repo, ticket, actor=who, action=f"exception_{decision}", changes=changes, now=now)
    _entry(repo, ticket, kind=domain.EntryKind.SYSTEM_EVENT, author=who, body=body, now=now)
    if not approve:
        _event(
            repo,
            ticket,
            actor=who,
            action="customer_notice_pending",
            changes={
                "notice": "contract_exception_declined",
                "channel": ticket.channel,
                "email": ticket.contact_email,
                "phone": ticket.contact_phone,
                "reason": reason,
            },
            now=now,
        )
    await uow.flush()
    return ticket


async def _resolve(
    uow: UnitOfWork, ticket: TicketRow, node: NodeRow, changes: dict[str, object], now: datetime
) -> None:
    """A declined exception closes the case: resolved, SLA clock stopped."""
    before = domain.Status(ticket.status)
    if before in domain.DONE:
        return
    after = domain.transition(
        before, domain.Status.RESOLVED, has_assignee=ticket.assignee_id is not None
    )
    ticket.status = after.value
    ticket.resolved_at = now
    changes["status"] = [before.value, after.value]
    await clocks.on_status(uow=uow, ticket=ticket, node=node, before=before, after=after, now=now)
