"""`POST /api/tickets.json`, answering exactly as osTicket does, so its scripts work unchanged.

Differences from upstream osTicket, by design: the `X-API-Key` is a Sahaya integration token
(`sahaya token create --role agent --node …`) rather than a key bound to one source IP, and
the submitter must be a registered customer (matched by phone, else by email): anyone else
gets osTicket's `403 Ticket denied`. A message from a customer with an open ticket for the
service joins that ticket and its number is returned.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from sahaya.access import Principal
from sahaya.channels.osticket import intake
from sahaya.customers import CustomerRepository, CustomerRow, InvalidPhone, to_e164
from sahaya.customers.repository import with_home
from sahaya.errors import SahayaError, Unauthenticated
from sahaya.network import NodeRow
from sahaya.persistence import Database, UnitOfWork
from sahaya.persistence.uow import NeedsSession
from sahaya.settings import Settings
from sahaya.tickets import intake as ticket_intake
from sahaya.tickets.attachments import Limits, NewAttachment
from sahaya.tickets.domain import Channel
from sahaya.web.deps import clock, resolve_token
from sahaya.web.hotlane import HOT

router = APIRouter(tags=["osticket"])
log = logging.getLogger(__name__)


def _text(status: int, message: str) -> PlainTextResponse:
    return PlainTextResponse(message, status_code=status)


async def _customer(
    uow: UnitOfWork, caller: Principal, request: intake.OsTicketRequest
) -> tuple[CustomerRow, NodeRow] | None:
    """The registered customer behind the request: by phone when it is a valid number,
    else by email."""
    repo = CustomerRepository(uow.session)
    if request.phone:
        try:
            e164 = to_e164(request.phone)
        except InvalidPhone:
            pass  # osTicket takes any phone text; fall back to the email
        else:
            found = await with_home(await uow.driver(), caller.tenant_id, by="phone", value=e164)
            if found is not None and caller.sees(found[1].path):
                return found
    for row, node in await repo.by_email(caller.tenant_id, request.email):
        if caller.sees(node.path):
            return row, node
    return None


@HOT.route(router, "POST", "/api/tickets.{fmt}", status_code=201)
@HOT.route(router, "POST", "/api/http.php/tickets.{fmt}", include_in_schema=False, status_code=201)
async def create_ticket(fmt: str, request: Request) -> PlainTextResponse:
    """Create a ticket from an osTicket API request; `201` with the ticket number."""
    if fmt != "json":
        return _text(415, "Unsupported data format")
    key = request.headers.get("x-api-key", "").strip()
    if not key:
        return _text(401, "Valid API key required")
    database: Database = request.app.state.database
    now = await clock()
    try:
        caller = await resolve_token(request, database, now, key)
    except Unauthenticated:
        return _text(401, "API key not found/active or source IP not authorized")
    try:
        parsed = intake.parse(await request.body())
    except intake.OsTicketError as exc:
        return _text(exc.status, exc.message)
    # The common case — a new ticket for a customer found by phone — only inserts: a lean
    # unit of work (ADR 0011). Anything else (threading into an open ticket, a match by
    # email) needs the ORM and runs again in a full one, nothing having been written.
    try:
        async with UnitOfWork(database, lean=True) as uow:
            return await _create(uow, request, caller, parsed, now)
    except NeedsSession:
        async with UnitOfWork(database) as uow:
            return await _create(uow, request, caller, parsed, now)


async def _create(
    uow: UnitOfWork,
    request: Request,
    caller: Principal,
    parsed: intake.OsTicketRequest,
    now: datetime,
) -> PlainTextResponse:
    settings: Settings = request.app.state.settings
    customer = await _customer(uow, caller, parsed)
    if customer is None:
        return _text(403, "Ticket denied: the submitter is not a registered customer")
    try:
        opened = await ticket_intake.open_ticket(
            uow=uow,
            actor=caller,
            intake=ticket_intake.Intake(
                customer_id=customer[0].id,
                service_code=str(parsed.custom_fields.get("service", "apnafood")),
                channel=Channel(parsed.channel),
                subject=parsed.subject,
                message=parsed.message,
                severity=parsed.severity,
                tags=[f"topic:{parsed.topic_id}"] if parsed.topic_id is not None else [],
                attachments=tuple(
                    NewAttachment(a.filename, a.content_type, a.data) for a in parsed.attachments
                ),
                custom_fields=parsed.custom_fields,
                contact_email=parsed.email.lower(),
                autorespond=parsed.autorespond,
            ),
            now=now,
            thread_window=timedelta(hours=settings.ticket_thread_hours),
            store=request.app.state.attachments,
            limits=Limits(max_bytes=settings.attachment_max_bytes),
            known=customer,
        )
    except SahayaError as exc:
        return _text(400, exc.detail)
    await uow.commit()
    return _text(201, opened.ticket.number)
