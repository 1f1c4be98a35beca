"""Use cases of the ticketing context. Keyword-only, time passed in, no commits.

Every change writes an audit event (who, when, what changed: before → after) in the same
transaction as the change itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.access import Principal, Role
from sahaya.access.errors import NotAllowed
from sahaya.customers import CustomerRepository
from sahaya.messaging import replies
from sahaya.messaging.domain import Capabilities
from sahaya.messaging.domain import Channel as MessageChannel
from sahaya.network import NetworkRepository, NodeRow
from sahaya.network.errors import UnknownExecutive
from sahaya.network.repository import ancestor_paths
from sahaya.persistence import UnitOfWork
from sahaya.persistence.fast_insert import insert_new
from sahaya.tickets import domain
from sahaya.tickets import sla as clocks
from sahaya.tickets.attachments import AttachmentStore, Limits, NewAttachment, check
from sahaya.tickets.errors import IllegalTicketMove, InvalidTicket, UnknownTicket
from sahaya.tickets.repository import TicketRepository
from sahaya.tickets.tables import (
    TicketAttachmentRow,
    TicketEntryRow,
    TicketRow,
)

SEVERITIES = ("minor", "major", "critical")
DEFAULT_LIMITS = Limits()
# Seed 004: nothing proceeds to assignment before sales/management decide on an exception.
_BLOCKING_APPROVALS = {
    "pending": "waiting for a contract exception decision",
    "declined": "the exception was declined",
}


def actor_label(actor: Principal) -> str:
    who = actor.user_id or actor.token_id
    return f"{actor.role.value}:{who}:{actor.name}"


def _event(
    repo: TicketRepository,
    ticket: TicketRow,
    *,
    actor: str,
    action: str,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    repo.record_event(ticket, actor=actor, action=action, changes=changes, now=now)


def _entry(
    repo: TicketRepository,
    ticket: TicketRow,
    *,
    kind: domain.EntryKind,
    author: str,
    body: str,
    now: datetime,
) -> TicketEntryRow:
    entry = TicketEntryRow.fresh(
        id=uuid.uuid4(),
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        kind=kind.value,
        author=author,
        body=body,
        created_at=now,
    )
    repo.add(entry)
    return entry


async def _attach(
    uow: UnitOfWork,
    store: AttachmentStore | None,
    ticket: TicketRow,
    entry: TicketEntryRow,
    files: tuple[NewAttachment, ...],
    now: datetime,
) -> list[TicketAttachmentRow]:
    if not files or store is None:
        return []
    await insert_new(uow)  # the entry (and a new ticket) must exist before rows pointing at it
    rows = []
    for item in files:
        row = TicketAttachmentRow(
            id=uuid.uuid4(),
            tenant_id=ticket.tenant_id,
            ticket_id=ticket.id,
            entry_id=entry.id,
            filename=item.filename.strip(),
            content_type=item.content_type,
            size=len(item.data),
            sha256=store.put(item.data),
            created_at=now,
        )
        TicketRepository(uow.session).add(row)
        rows.append(row)
    return rows


async def get(
    *, uow: UnitOfWork, actor: Principal, number: str, lock: bool = False
) -> tuple[TicketRow, NodeRow]:
    found = await TicketRepository(uow.session).by_number(
        actor.tenant_id, number.strip().upper(), lock=lock
    )
    if found is None or not actor.sees(found[1].path):
        raise UnknownTicket(f"no ticket {number}")
    return found


async def add_entry(
    *,
    uow: UnitOfWork,
    actor: Principal,
    number: str,
    kind: domain.EntryKind,
    body: str,
    now: datetime,
    attachments: tuple[NewAttachment, ...] = (),
    store: AttachmentStore | None = None,
    limits: Limits = DEFAULT_LIMITS,
    reply_channel: str | None = None,
    template: replies.ReplyTemplate | None = None,
    capabilities: Mapping[MessageChannel, Capabilities] | None = None,
) -> TicketEntryRow:
    """Staff add replies and internal notes (with files); a reply is the first response,
    and goes to the customer on the ticket's channel (or `reply_channel`) via the outbox.
    A reply may be an approved `template` instead of a text (the thread describes it);
    `capabilities`: what each channel can carry (messaging.replies)."""
    if kind not in (domain.EntryKind.AGENT_REPLY, domain.EntryKind.INTERNAL_NOTE):
        raise InvalidTicket("kind: staff may add agent_reply or internal_note", field="kind")
    if template is not None:
        if kind != domain.EntryKind.AGENT_REPLY:
            raise InvalidTicket("template: only a reply goes to the customer", field="template")
        if body.strip():
            raise InvalidTicket(
                "body: a template is its own text; send other words as a reply of their own",
                field="body",
            )
        if attachments:
            raise InvalidTicket("attachments: a template carries no files", field="attachments")
        body = template.describe()
    if not body.strip():
        raise InvalidTicket("body: must not be empty", field="body")
    if reply_channel is not None and kind != domain.EntryKind.AGENT_REPLY:
        raise InvalidTicket("channel: only a reply goes to the customer", field="channel")
    check(attachments, limits)
    if attachments and store is None:
        raise InvalidTicket("attachments are not accepted here", field="attachments")
    ticket, node = await get(uow=uow, actor=actor, number=number, lock=True)
    repo = TicketRepository(uow.session)
    entry = _entry(repo, ticket, kind=kind, author=actor_label(actor), body=body, now=now)
    stored = await _attach(uow, store, ticket, entry, attachments, now)
    await repo.index_text(ticket.id, body)
    changes: dict[str, Any] = {"kind": kind.value}
    found = None
    if kind == domain.EntryKind.AGENT_REPLY and ticket.customer_id is not None:
        found = await CustomerRepository(uow.session).by_id(actor.tenant_id, ticket.customer_id)
    if template is not None and found is None:
        raise InvalidTicket("template: the ticket has no customer to send it to", field="template")
    if found is not None:
        queued = await replies.queue_reply(
            uow=uow,
            ticket=ticket,
            ticket_channel=ticket.channel,
            customer=found[0],
            body=body,
            now=now,
            channel=MessageChannel(reply_channel) if reply_channel else None,
            files=[
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "sha256": a.sha256,
                }
                for a in stored
            ],
            template=template,
            capabilities=capabilities,
        )
        changes["sent_via"] = queued.channel.value
        if template is not None:
            changes["template"] = template.name
        if queued.outbox is not None:
            changes["outbox_message"] = str(queued.outbox.id)
    if kind == domain.EntryKind.AGENT_REPLY and ticket.first_responded_at is None:
        ticket.first_responded_at = now
        changes["first_responded_at"] = [None, now.isoformat()]
        await clocks.on_first_response(uow=uow, ticket=ticket, node=node, now=now)
    ticket.updated_at = now
    _event(repo, ticket, actor=actor_label(actor), action=kind.value, changes=changes, now=now)
    await uow.flush()
    return entry


async def change_status(
    *,
    uow: UnitOfWork,
    actor: Principal,
    number: str,
    target: domain.Status,
    now: datetime,
    reason: str | None = None,
) -> TicketRow:
    ticket, node = await get(uow=uow, actor=actor, number=number, lock=True)
    current = domain.Status(ticket.status)
    try:
        stored = domain.transition(current, target, has_assignee=ticket.assignee_id is not None)
    except domain.IllegalTransition as exc:
        raise IllegalTicketMove(str(exc), field="status") from None
    changes: dict[str, Any] = {"status": [current.value, stored.value]}
    if current == domain.Status.ASSIGNED and stored == domain.Status.OPEN:
        changes["assignee_id"] = [str(ticket.assignee_id), None]
        ticket.assignee_id = None
    if stored == domain.Status.RESOLVED:
        ticket.resolved_at = now
    if stored == domain.Status.CLOSED:
        ticket.closed_at = now
    if current in domain.DONE and stored not in domain.DONE:
        ticket.resolved_at = None
        ticket.closed_at = None
    if reason:
        changes["reason"] = reason
    ticket.status = stored.value
    ticket.updated_at = now
    await clocks.on_status(uow=uow, ticket=ticket, node=node, before=current, after=stored, now=now)
    _event(
        repo := TicketRepository(uow.session),
        ticket,
        actor=actor_label(actor),
        action="status",
        changes=changes,
        now=now,
    )
    _entry(
        repo,
        ticket,
        kind=domain.EntryKind.SYSTEM_EVENT,
        author=actor_label(actor),
        body=f"status {current.value} → {stored.value}" + (f": {reason}" if reason else ""),
        now=now,
    )
    return ticket


async def assign(
    *,
    uow: UnitOfWork,
    actor: Principal,
    number: str,
    executive_id: uuid.UUID,
    now: datetime,
) -> TicketRow:
    """A lead (supervisor of the ticket's node or above) assigns an executive of the
    ticket's sub-district, district or state franchisee who serves the ticket's service."""
    if not actor.at_least(Role.SUPERVISOR):
        raise NotAllowed("only a supervisor or admin assigns tickets")
    ticket, node = await get(uow=uow, actor=actor, number=number, lock=True)
    if ticket.approval in _BLOCKING_APPROVALS:
        raise IllegalTicketMove(
            f"{ticket.number} cannot be assigned: {_BLOCKING_APPROVALS[ticket.approval]}",
            field="approval",
        )
    network = NetworkRepository(uow.session)
    executive = await network.executive(actor.tenant_id, executive_id)
    path_owners = {
        n.franchisee_id
        for n in await network.nodes_by_paths(actor.tenant_id, ancestor_paths(node.path))
    }
    if executive is None or executive.franchisee_id not in path_owners:
        raise UnknownExecutive(
            f"no executive {executive_id} on {node.path}'s escalation path", field="executive_id"
        )
    if ticket.service_code not in executive.services:
        raise InvalidTicket(
            f"{executive.name} does not handle {ticket.service_code}", field="executive_id"
        )
    current = domain.Status(ticket.status)
    if current in domain.DONE:
        raise IllegalTicketMove(f"a {current.value} ticket cannot be assigned; reopen it first")
    changes: dict[str, Any] = {
        "assignee_id": [str(ticket.assignee_id) if ticket.assignee_id else None, str(executive.id)]
    }
    ticket.assignee_id = executive.id
    if current in (domain.Status.NEW, domain.Status.OPEN):
        ticket.status = domain.Status.ASSIGNED.value
        changes["status"] = [current.value, ticket.status]
    ticket.updated_at = now
    _event(
        TicketRepository(uow.session),
        ticket,
        actor=actor_label(actor),
        action="assigned",
        changes=changes,
        now=now,
    )
    return ticket


async def search(
    *, uow: UnitOfWork, actor: Principal, query: str, limit: int
) -> list[tuple[TicketRow, NodeRow]]:
    """Full-text search inside the actor's subtree. The subtree's node ids come from the
    reference cache; scoping by id (not by path prefix) lets a taluk agent's search walk
    that taluk's own recency index."""

    async def load(session: AsyncSession) -> tuple[uuid.UUID, ...] | None:
        network = NetworkRepository(session)
        inside = await network.subtree(actor.tenant_id, actor.node_path)
        if len(inside) == await network.node_count(actor.tenant_id):
            return None  # the whole tenant: no node filter at all
        return tuple(n.id for n in inside)

    node_ids = await uow.cached(("subtree_ids", actor.tenant_id, actor.node_path), load)
    return await TicketRepository(uow.session).search(
        tenant_id=actor.tenant_id, node_ids=node_ids, query=query, limit=limit
    )
