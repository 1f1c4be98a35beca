"""Tickets: open, read, reply, note, change status, assign, queues and history."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from sahaya.channels import registry
from sahaya.contracts.schemas import DecisionIn
from sahaya.customers import services as customers
from sahaya.messaging.replies import ReplyTemplate
from sahaya.network import NodeRow
from sahaya.settings import Settings
from sahaya.tickets import TicketRepository, TicketRow, approvals, domain
from sahaya.tickets import intake as ticket_intake
from sahaya.tickets import services as tickets
from sahaya.tickets.attachments import Limits, NewAttachment
from sahaya.tickets.errors import InvalidTicket, UnknownTicket
from sahaya.tickets.schemas import (
    AssignIn,
    AttachmentIn,
    AttachmentOut,
    EntryIn,
    EntryOut,
    EventOut,
    StatusIn,
    TicketIn,
    TicketOut,
    TicketPage,
)
from sahaya.web.api.network import visible_node
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import DB, Caller, Now, UoW, settings

router = APIRouter(prefix=PREFIX, tags=["tickets"])
_ACTIVE = tuple(s.value for s in domain.Status if s not in domain.DONE)
# What each provider channel can carry (templates, a reply window): replies are checked by it.
_CAPABILITIES = {channel: capabilities for channel, (capabilities, _) in registry.CHANNELS.items()}


def decode_attachments(items: list[AttachmentIn]) -> tuple[NewAttachment, ...]:
    files = []
    for index, item in enumerate(items):
        try:
            data = base64.b64decode(item.data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidTicket(
                f"attachments/{index}/data: {item.filename} is not valid base64",
                field=f"attachments/{index}/data",
            ) from None
        files.append(NewAttachment(item.filename, item.content_type.lower(), data))
    return tuple(files)


def ticket_out(row: TicketRow, node: NodeRow, *, threaded: bool = False) -> TicketOut:
    return TicketOut(
        id=row.id,
        number=row.number,
        customer_id=row.customer_id,
        service=row.service_code,
        channel=row.channel,
        node=node.path,
        subject=row.subject,
        severity=row.severity,
        status=row.status,
        assignee_id=row.assignee_id,
        tags=list(row.tags),
        created_at=row.created_at,
        updated_at=row.updated_at,
        first_responded_at=row.first_responded_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        entitlement=row.entitlement,
        entitlement_note=row.entitlement_note,
        approval=row.approval,
        approval_reason=row.approval_reason,
        threaded=threaded,
    )


@router.post("/tickets", response_model=TicketOut, status_code=201)
async def open_ticket(
    body: TicketIn,
    request: Request,
    uow: UoW,
    db: DB,
    now: Now,
    caller: Caller,
    response: Response,
    config: Annotated[Settings, Depends(settings)],
) -> TicketOut:
    """Open a ticket for a registered customer (by id or phone). A message from a customer
    who already has an unresolved ticket for the service joins it (200, `threaded`)."""
    if (body.customer_id is None) == (body.phone is None):
        raise InvalidTicket("give exactly one of customer_id or phone", field="customer_id")
    customer_id = body.customer_id
    if customer_id is None:
        assert body.phone is not None  # noqa: S101 - checked above
        card = await customers.lookup_by_phone(database=db, actor=caller, phone=body.phone)
        customer_id = card.id
    opened = await ticket_intake.open_ticket(
        uow=uow,
        actor=caller,
        intake=ticket_intake.Intake(
            customer_id=customer_id,
            service_code=body.service,
            channel=body.channel,
            subject=body.subject,
            message=body.message,
            severity=body.severity,
            tags=body.tags,
            attachments=decode_attachments(body.attachments),
        ),
        now=now,
        thread_window=timedelta(hours=config.ticket_thread_hours),
        store=request.app.state.attachments,
        limits=Limits(max_bytes=config.attachment_max_bytes),
    )
    await uow.commit()
    response.headers["Location"] = f"{PREFIX}/tickets/{opened.ticket.number}"
    if not opened.created:
        response.status_code = 200
    return ticket_out(opened.ticket, opened.node, threaded=not opened.created)


@router.get("/tickets", response_model=TicketPage)
async def queue(
    uow: UoW,
    caller: Caller,
    channel: domain.Channel | None = None,
    status: Annotated[list[domain.Status] | None, Query()] = None,
    severity: str | None = None,
    node: Annotated[str | None, Query(description="Id or path inside your subtree")] = None,
    after: Annotated[str | None, Query(description="Cursor from next_after")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketPage:
    """A queue: tickets oldest first (FIFO). Defaults to every unresolved status."""
    node_path = None
    if node:
        node_path = (await visible_node(uow, caller, node)).path
    cursor = _parse_cursor(after) if after else None
    rows = await TicketRepository(uow.session).queue(
        tenant_id=caller.tenant_id,
        root_path=caller.node_path,
        channel=channel.value if channel else None,
        statuses=[s.value for s in status] if status else _ACTIVE,
        severity=severity,
        node_path=node_path,
        after=cursor,
        limit=limit,
    )
    items = [ticket_out(t, n) for t, n in rows]
    last = rows[-1][0] if len(rows) == limit else None
    return TicketPage(
        items=items, next_after=f"{last.created_at.isoformat()}~{last.id}" if last else None
    )


def _parse_cursor(text: str) -> tuple[datetime, uuid.UUID]:
    try:
        stamp, _, ident = text.partition("~")
        return datetime.fromisoformat(stamp), uuid.UUID(ident)
    except ValueError:
        raise InvalidTicket(f"after: {text!r} is not a cursor from next_after") from None


@router.get("/tickets/search", response_model=list[TicketOut])
async def search(
    uow: UoW,
    caller: Caller,
    q: Annotated[str, Query(min_length=1, max_length=200, description='Words, "phrases", -not')],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[TicketOut]:
    """Full-text search over number, subject, thread, customer name and phone."""
    rows = await tickets.search(uow=uow, actor=caller, query=q, limit=limit)
    return [ticket_out(t, n) for t, n in rows]


@router.get("/tickets/{number}", response_model=TicketOut)
async def get_ticket(number: str, uow: UoW, caller: Caller) -> TicketOut:
    row, node = await tickets.get(uow=uow, actor=caller, number=number)
    return ticket_out(row, node)


@router.get("/tickets/{number}/entries", response_model=list[EntryOut])
async def thread(number: str, uow: UoW, caller: Caller) -> list[EntryOut]:
    row, _ = await tickets.get(uow=uow, actor=caller, number=number)
    return [
        EntryOut(id=e.id, kind=e.kind, author=e.author, body=e.body, created_at=e.created_at)
        for e in await TicketRepository(uow.session).entries(row.id)
    ]


@router.post("/tickets/{number}/entries", response_model=EntryOut, status_code=201)
async def add_entry(
    number: str,
    body: EntryIn,
    request: Request,
    uow: UoW,
    now: Now,
    caller: Caller,
    config: Annotated[Settings, Depends(settings)],
) -> EntryOut:
    entry = await tickets.add_entry(
        uow=uow,
        actor=caller,
        number=number,
        kind=domain.EntryKind(body.kind),
        body=body.body or "",
        now=now,
        attachments=decode_attachments(body.attachments),
        store=request.app.state.attachments,
        limits=Limits(max_bytes=config.attachment_max_bytes),
        reply_channel=body.channel,
        template=(
            ReplyTemplate(
                body.template.name, body.template.language, tuple(body.template.parameters)
            )
            if body.template is not None
            else None
        ),
        capabilities=_CAPABILITIES,
    )
    await uow.commit()
    return EntryOut(
        id=entry.id,
        kind=entry.kind,
        author=entry.author,
        body=entry.body,
        created_at=entry.created_at,
    )


@router.post("/tickets/{number}/status", response_model=TicketOut)
async def change_status(
    number: str, body: StatusIn, uow: UoW, now: Now, caller: Caller
) -> TicketOut:
    await tickets.change_status(
        uow=uow, actor=caller, number=number, target=body.status, now=now, reason=body.reason
    )
    await uow.commit()
    row, node = await tickets.get(uow=uow, actor=caller, number=number)
    return ticket_out(row, node)


@router.post("/tickets/{number}/assign", response_model=TicketOut)
async def assign(number: str, body: AssignIn, uow: UoW, now: Now, caller: Caller) -> TicketOut:
    await tickets.assign(
        uow=uow, actor=caller, number=number, executive_id=body.executive_id, now=now
    )
    await uow.commit()
    row, node = await tickets.get(uow=uow, actor=caller, number=number)
    return ticket_out(row, node)


@router.get("/tickets/{number}/history", response_model=list[EventOut])
async def history(number: str, uow: UoW, caller: Caller) -> list[EventOut]:
    """Every change to the ticket: who, when, what changed (before → after)."""
    row, _ = await tickets.get(uow=uow, actor=caller, number=number)
    return [
        EventOut(actor=e.actor, action=e.action, changes=e.changes, created_at=e.created_at)
        for e in await TicketRepository(uow.session).events(row.id)
    ]


@router.get("/tickets/{number}/attachments", response_model=list[AttachmentOut])
async def attachments(number: str, uow: UoW, caller: Caller) -> list[AttachmentOut]:
    row, _ = await tickets.get(uow=uow, actor=caller, number=number)
    return [
        AttachmentOut(
            id=a.id,
            entry_id=a.entry_id,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            sha256=a.sha256,
            created_at=a.created_at,
        )
        for a in await TicketRepository(uow.session).attachments(row.id)
    ]


@router.get("/tickets/{number}/attachments/{attachment_id}")
async def download(
    number: str, attachment_id: uuid.UUID, request: Request, uow: UoW, caller: Caller
) -> Response:
    row, _ = await tickets.get(uow=uow, actor=caller, number=number)
    for item in await TicketRepository(uow.session).attachments(row.id):
        if item.id == attachment_id:
            data = request.app.state.attachments.read(item.sha256)
            safe_name = item.filename.replace('"', "")
            return Response(
                data,
                media_type=item.content_type,
                headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
            )
    raise UnknownTicket(f"ticket {number} has no attachment {attachment_id}")


@router.post("/tickets/{number}/approval", response_model=TicketOut)
async def decide_exception(
    number: str, body: DecisionIn, uow: UoW, now: Now, caller: Caller
) -> TicketOut:
    """Sales/management approve a contract exception (the ticket may proceed) or decline it
    (the ticket is resolved and the customer is owed a notice). Always with a reason."""
    await approvals.decide(
        uow=uow, actor=caller, number=number, approve=body.approve, reason=body.reason, now=now
    )
    await uow.commit()
    row, node = await tickets.get(uow=uow, actor=caller, number=number)
    return ticket_out(row, node)
