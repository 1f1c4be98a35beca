"""The customer app's API under /api/v1/app: sign in with an SMS code, then one's own
tickets, messages (with attachments), inbox and a live stream of replies. The bearer
token is a customer token (customer_app.services), never a staff token."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from sahaya.customer_app import services as app
from sahaya.customer_app.services import CustomerPrincipal, SignedIn
from sahaya.customers import CustomerRow
from sahaya.errors import Invalid, NotFound, Unauthenticated
from sahaya.messaging.schemas import InboxItemOut
from sahaya.persistence import UnitOfWork
from sahaya.settings import Settings
from sahaya.tickets.attachments import Limits
from sahaya.tickets.schemas import AttachmentIn
from sahaya.tickets.tables import TicketRow
from sahaya.web.api.prefix import PREFIX
from sahaya.web.api.tickets import decode_attachments
from sahaya.web.deps import Now, UoW, settings

router = APIRouter(prefix=f"{PREFIX}/app", tags=["customer app"])
Config = Annotated[Settings, Depends(settings)]


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(min_length=6, max_length=40)


class CodeOut(BaseModel):
    expires_at: datetime
    resend_after: datetime
    detail: str = "If this number is registered, a code is on its way by SMS."


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(min_length=6, max_length=40)
    code: str = Field(min_length=4, max_length=10)


class MeOut(BaseModel):
    id: uuid.UUID
    name: str
    phone_e164: str
    email: str | None
    language: str
    verification: str
    verified_via: str | None
    verified_at: datetime | None


class SignedInOut(BaseModel):
    token: str
    expires_at: datetime
    customer: MeOut


class WriteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str | None = Field(default=None, max_length=300)
    message: str = Field(min_length=1, max_length=20_000)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=5)


class MyTicketOut(BaseModel):
    number: str
    subject: str
    status: str
    channel: str
    created_at: datetime
    updated_at: datetime


class MyFileOut(BaseModel):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int


class MyEntryOut(BaseModel):
    id: uuid.UUID
    kind: str
    body: str
    created_at: datetime
    files: list[MyFileOut] = Field(default_factory=list)


class MyThreadOut(MyTicketOut):
    entries: list[MyEntryOut]


class WrittenOut(BaseModel):
    number: str
    created: bool


async def me(
    uow: UoW, now: Now, authorization: Annotated[str | None, Header()] = None
) -> CustomerPrincipal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthenticated("send `Authorization: Bearer <app token>`")
    return await app.resolve(uow=uow, token=authorization[7:].strip(), now=now)


Me = Annotated[CustomerPrincipal, Depends(me)]


def _me_out(row: CustomerRow) -> MeOut:
    return MeOut.model_validate(row, from_attributes=True)


def _ticket_out(row: TicketRow) -> MyTicketOut:
    return MyTicketOut.model_validate(row, from_attributes=True)


@router.post("/sign-in/code", response_model=CodeOut, status_code=202)
async def request_code(
    body: CodeIn, request: Request, uow: UoW, now: Now, config: Config
) -> CodeOut:
    """Text a sign-in code to a registered number (the answer is the same for any number)."""
    sent = await app.request_code(
        uow=uow,
        tenant_id=request.app.state.tenant_id,
        phone=body.phone,
        address=request.client.host if request.client else "unknown",
        secret=config.secret_key.get_secret_value(),
        now=now,
    )
    await uow.commit()
    return CodeOut(expires_at=sent.expires_at, resend_after=sent.resend_after)


@router.post("/sign-in", response_model=SignedInOut)
async def sign_in(
    body: SignInIn, request: Request, uow: UoW, now: Now, config: Config
) -> SignedInOut:
    """Exchange a right code for an app token (and a verified number)."""
    result = await app.verify_code(
        uow=uow,
        tenant_id=request.app.state.tenant_id,
        phone=body.phone,
        code=body.code,
        secret=config.secret_key.get_secret_value(),
        now=now,
    )
    await uow.commit()  # a wrong try counts even though the request fails
    if not isinstance(result, SignedIn):
        left = f" ({result.attempts_left} tries left)" if result.attempts_left else ""
        raise Invalid(result.reason + left, field="code")
    return SignedInOut(
        token=result.token, expires_at=result.expires_at, customer=_me_out(result.customer)
    )


@router.post("/sign-out", status_code=204)
async def sign_out(uow: UoW, now: Now, caller: Me) -> None:
    await app.sign_out(uow=uow, me=caller, now=now)
    await uow.commit()


@router.get("/me", response_model=MeOut)
async def whoami(uow: UoW, caller: Me) -> MeOut:
    return _me_out(await app.my_customer(uow=uow, me=caller))


@router.get("/tickets", response_model=list[MyTicketOut])
async def my_tickets(
    uow: UoW, caller: Me, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[MyTicketOut]:
    return [_ticket_out(t) for t in await app.my_tickets(uow=uow, me=caller, limit=limit)]


async def _write(
    request: Request,
    uow: UnitOfWork,
    caller: CustomerPrincipal,
    body: WriteIn,
    now: datetime,
    config: Settings,
    number: str | None,
) -> WrittenOut:
    opened = await app.write(
        uow=uow,
        me=caller,
        subject=body.subject,
        message=body.message,
        number=number,
        attachments=decode_attachments(body.attachments),
        now=now,
        thread_window=timedelta(hours=config.ticket_thread_hours),
        store=request.app.state.attachments,
        limits=Limits(max_bytes=config.attachment_max_bytes),
    )
    await uow.commit()
    return WrittenOut(number=opened.ticket.number, created=opened.created)


@router.post("/tickets", response_model=WrittenOut, status_code=201)
async def open_ticket(
    body: WriteIn, request: Request, uow: UoW, now: Now, caller: Me, config: Config
) -> WrittenOut:
    """Open a ticket — or add to my open one for the service (the duplicate guard)."""
    return await _write(request, uow, caller, body, now, config, None)


@router.get("/tickets/{number}", response_model=MyThreadOut)
async def my_ticket(number: str, uow: UoW, caller: Me) -> MyThreadOut:
    """One of my tickets with its thread: my messages and the team's replies."""
    ticket, entries = await app.my_ticket(uow=uow, me=caller, number=number)
    files: dict[uuid.UUID, list[MyFileOut]] = {}
    for item in await app.my_attachments(uow=uow, ticket=ticket, entries=entries):
        files.setdefault(item.entry_id, []).append(
            MyFileOut.model_validate(item, from_attributes=True)
        )
    return MyThreadOut(
        **_ticket_out(ticket).model_dump(),
        entries=[
            MyEntryOut(
                id=e.id,
                kind=e.kind,
                body=e.body,
                created_at=e.created_at,
                files=files.get(e.id, []),
            )
            for e in entries
        ],
    )


@router.get("/tickets/{number}/files/{file_id}")
async def my_file(
    number: str, file_id: uuid.UUID, request: Request, uow: UoW, caller: Me
) -> Response:
    """A file of my ticket's thread (mine, or one the team sent me)."""
    ticket, entries = await app.my_ticket(uow=uow, me=caller, number=number)
    for item in await app.my_attachments(uow=uow, ticket=ticket, entries=entries):
        if item.id == file_id:
            safe_name = item.filename.replace('"', "")
            return Response(
                request.app.state.attachments.read(item.sha256),
                media_type=item.content_type,
                headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
            )
    raise NotFound(f"ticket {number} has no file {file_id}")


@router.post("/tickets/{number}/messages", response_model=WrittenOut, status_code=201)
async def post_message(
    number: str, body: WriteIn, request: Request, uow: UoW, now: Now, caller: Me, config: Config
) -> WrittenOut:
    """Add a message (and files) to one of my tickets; a resolved ticket reopens."""
    return await _write(request, uow, caller, body, now, config, number)


@router.get("/inbox", response_model=list[InboxItemOut])
async def my_inbox(
    uow: UoW, caller: Me, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[InboxItemOut]:
    return [
        InboxItemOut.model_validate(r) for r in await app.my_inbox(uow=uow, me=caller, limit=limit)
    ]


@router.post("/inbox/{item_id}/read", response_model=InboxItemOut)
async def read(item_id: uuid.UUID, uow: UoW, now: Now, caller: Me) -> InboxItemOut:
    item = await app.read_inbox_item(uow=uow, me=caller, item_id=item_id, now=now)
    await uow.commit()
    return InboxItemOut.model_validate(item)


@router.get("/stream")
async def stream(request: Request, caller: Me) -> StreamingResponse:
    """Server-Sent Events: a `reply` event for every new item in my inbox (acknowledgements
    and the team's replies), as it is committed by any Sahaya process."""
    feed = request.app.state.app_replies
    return StreamingResponse(
        feed.stream(caller.customer_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
