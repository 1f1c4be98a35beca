"""Use cases of the messaging context. Keyword-only, time passed in, no commits.

Messages are queued in the caller's unit of work, so they exist exactly when their cause
(a new ticket) commits — the transactional outbox. Delivery runs later in a worker: each
due row is claimed with `FOR UPDATE SKIP LOCKED`, handed to the channel's sender, and its
state set in the same transaction, so two workers never send one row and a sent row is
never picked again. A crash between the send and the commit can repeat one send; email
carries a Message-ID derived from the row id, so the copy is recognisable as the same mail.

A message whose files go out as messages of their own (WhatsApp, Telegram) records each
part the sender reports in `parts`, also when a later part fails, so a retry resumes with
that part and a permanent failure says what the customer got and what they did not. A
message with `expires_at` (a sign-in code) is failed, never sent, once that has passed.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sahaya.access import Principal
from sahaya.customers import CustomerRow
from sahaya.customers import services as customers
from sahaya.messaging import domain
from sahaya.messaging.errors import UnknownInboxItem
from sahaya.messaging.ports import (
    FileReader,
    OutboundFile,
    OutboundMessage,
    PermanentSendError,
    Sender,
    TransientSendError,
)
from sahaya.messaging.repository import MessagingRepository
from sahaya.messaging.tables import AppInboxRow, OutboxMessageRow
from sahaya.persistence import UnitOfWork

log = logging.getLogger(__name__)
_ERROR_LENGTH = 1000
# NOTIFY channel of new app-inbox items (the app's live stream listens; web.live).
APP_CHANNEL = "sahaya_app"
_NOTIFY_BODY = 2000  # NOTIFY payloads stay under PostgreSQL's 8000 bytes


async def announce(uow: UnitOfWork, item: AppInboxRow) -> None:
    """Tell live app streams about an inbox item; delivered when the transaction commits
    (so a rolled-back reply is never announced)."""
    payload = {
        "customer_id": str(item.customer_id),
        "id": str(item.id),
        "ticket_id": str(item.ticket_id) if item.ticket_id else None,
        "title": item.title,
        "body": item.body[:_NOTIFY_BODY],
        "created_at": item.created_at.isoformat(),
    }
    # Every new ticket announces: sent with the ticket's inserts, not on its own.
    uow.defer("SELECT pg_notify(%s, %s)", (APP_CHANNEL, json.dumps(payload, ensure_ascii=False)))


class TicketRef(Protocol):
    """What messaging needs of a ticket (the tickets context depends on us, not back)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def number(self) -> str: ...
    @property
    def subject(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message goes: the channel, the account it leaves from (None: the channel's
    default sender, SMTP for email) and the recipient's address on that channel."""

    channel: domain.Channel
    account_id: uuid.UUID | None
    address: str


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    email: OutboxMessageRow | None  # None: the customer has no email address
    inbox: AppInboxRow
    channel: OutboxMessageRow | None = None  # on the channel the customer wrote from


def channel_message(
    *,
    tenant_id: uuid.UUID,
    route: Route,
    body: str,
    now: datetime,
    subject: str = "",
    kind: domain.OutboundKind = domain.OutboundKind.TEXT,
    payload: dict[str, object] | None = None,
    template: str | None = None,
    language: str = "en",
    reference: str | None = None,
    ticket_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    expires_at: datetime | None = None,
) -> OutboxMessageRow:
    """An outbox row, due now; with `expires_at`, never sent after that."""
    return OutboxMessageRow.fresh(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        channel=route.channel.value,
        account_id=route.account_id,
        recipient=route.address,
        subject=subject[:500],
        body=body,
        kind=kind.value,
        payload=payload,
        template=template,
        language=language,
        reference=reference,
        ticket_id=ticket_id,
        customer_id=customer_id,
        state=domain.OutboundState.QUEUED.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        expires_at=expires_at,
    )


async def queue_acknowledgement(
    *,
    uow: UnitOfWork,
    ticket: TicketRef,
    customer: CustomerRow,
    now: datetime,
    route: Route | None = None,
) -> Acknowledgement:
    """Queue "we have your ticket" to the customer's email and app inbox — and, with a
    `route`, on the channel they wrote from — in their language, in the caller's
    transaction: a ticket that rolls back leaves no message behind."""
    language = domain.language_or_default(customer.language)
    text = domain.render(
        domain.ACKNOWLEDGEMENT,
        language,
        number=ticket.number,
        subject=ticket.subject,
        name=customer.name,
    )
    repo = MessagingRepository(uow.session)
    email = None
    if customer.email:
        email = channel_message(
            tenant_id=ticket.tenant_id,
            route=Route(domain.Channel.EMAIL, None, customer.email),
            subject=text.subject,
            body=text.body,
            template=domain.ACKNOWLEDGEMENT,
            language=language,
            reference=ticket.number,
            ticket_id=ticket.id,
            customer_id=customer.id,
            now=now,
        )
        repo.add(email)
    inbox = AppInboxRow.fresh(
        id=uuid.uuid4(),
        tenant_id=ticket.tenant_id,
        customer_id=customer.id,
        title=text.subject,
        body=text.body,
        ticket_id=ticket.id,
        created_at=now,
    )
    repo.add(inbox)
    on_channel = None
    if route is not None:
        on_channel = channel_message(
            tenant_id=ticket.tenant_id,
            route=route,
            subject=text.subject,
            body=f"{text.subject}\n\n{text.body}",
            template=domain.ACKNOWLEDGEMENT,
            language=language,
            reference=ticket.number,
            ticket_id=ticket.id,
            customer_id=customer.id,
            now=now,
        )
        repo.add(on_channel)
    await announce(uow, inbox)
    return Acknowledgement(email=email, inbox=inbox, channel=on_channel)


STAFF_NOTICE = "staff_notice"


async def queue_staff_notice(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    recipients: Sequence[str],
    subject: str,
    body: str,
    reference: str,
    ticket_id: uuid.UUID | None,
    now: datetime,
) -> list[OutboxMessageRow]:
    """Queue one email per distinct address (SLA warnings, breaches, escalations)."""
    repo = MessagingRepository(uow.session)
    rows = []
    for address in sorted({r.strip().lower() for r in recipients if r and r.strip()}):
        row = OutboxMessageRow(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            channel=domain.Channel.EMAIL.value,
            recipient=address,
            subject=subject,
            body=body,
            template=STAFF_NOTICE,
            language="en",
            reference=reference,
            ticket_id=ticket_id,
            customer_id=None,
            state=domain.OutboundState.QUEUED.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        repo.add(row)
        rows.append(row)
    return rows


@dataclass(frozen=True, slots=True)
class DeliveryRun:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed


def _files(row: OutboxMessageRow, read: FileReader | None) -> tuple[OutboundFile, ...]:
    """The files an outbox row names (by SHA-256 in its payload), read from the store."""
    listed = (row.payload or {}).get("attachments") or []
    if not listed:
        return ()
    if read is None:
        raise TransientSendError("this worker has no attachment store to read the files from")
    return tuple(
        OutboundFile(str(f["filename"]), str(f["content_type"]), read(str(f["sha256"])))
        for f in listed
    )


def _outbound(row: OutboxMessageRow, read: FileReader | None = None) -> OutboundMessage:
    return OutboundMessage(
        id=row.id,
        channel=domain.Channel(row.channel),
        recipient=row.recipient,
        subject=row.subject,
        body=row.body,
        template=row.template,
        language=row.language,
        reference=row.reference,
        account_id=row.account_id,
        kind=domain.OutboundKind(row.kind),
        payload=row.payload or {},
        files=_files(row, read),
        parts_sent=len(row.parts or ()),
    )


def _part_names(row: OutboxMessageRow) -> list[str]:
    """What each part of a message with files is called in its error: the text, then
    each file by name."""
    listed = (row.payload or {}).get("attachments") or []
    return ["the text", *(str(f["filename"]) for f in listed)]


def _record_parts(row: OutboxMessageRow, sent: Sequence[str | None]) -> None:
    """Keep the parts a sender reports having sent (a message with files only); the
    row's provider id is its first part's, from the moment that part is sent."""
    if not sent or not (row.payload or {}).get("attachments"):
        return
    done = list(row.parts or [])
    names = _part_names(row)
    for provider_id in sent:
        name = names[len(done)] if len(done) < len(names) else f"part {len(done) + 1}"
        done.append({"name": name, "provider_message_id": provider_id})
    row.parts = done  # a new list: the ORM sees a changed JSONB value, not an edited one
    if row.provider_message_id is None:
        row.provider_message_id = done[0]["provider_message_id"]


def _fail(row: OutboxMessageRow, error: str, now: datetime) -> None:
    if row.parts:  # some parts reached the customer: say which, and which did not
        names = _part_names(row)
        error = domain.partial_failure(
            [str(p["name"]) for p in row.parts], names[len(row.parts) :], error
        )
    row.state = domain.OutboundState.FAILED.value
    if row.template == domain.ONE_TIME_CODE:
        row.body = domain.REDACTED
    row.last_error = error[:_ERROR_LENGTH]
    row.failed_at = now
    row.next_attempt_at = None


def _retry(row: OutboxMessageRow, error: str, now: datetime) -> None:
    retry_at = domain.next_attempt_at(row.attempts, now, row.expires_at)
    if retry_at is None:
        gave_up = f"gave up after {row.attempts} attempts"
        if row.attempts < domain.MAX_ATTEMPTS and row.expires_at is not None:
            gave_up = f"gave up: it expires at {row.expires_at.isoformat()}, before another try"
        _fail(row, f"{gave_up}: {error}", now)
        return
    row.last_error = error[:_ERROR_LENGTH]
    row.next_attempt_at = retry_at


async def _deliver_one(
    row: OutboxMessageRow,
    sender: Sender,
    now: datetime,
    window_refusal: str | None,
    read: FileReader | None = None,
) -> str:
    """Send one claimed row and record the outcome on it; returns the resulting state."""
    expired = domain.expiry_refusal(row.expires_at, now)
    if expired is not None:  # a sign-in code that can no longer be used
        _fail(row, expired, now)
        return row.state
    row.attempts += 1
    if window_refusal is not None:  # the channel's rule, enforced before any wire call
        _fail(row, window_refusal, now)
        return row.state
    try:
        result = await sender.send(_outbound(row, read))
    except PermanentSendError as exc:
        _record_parts(row, exc.sent)
        _fail(row, str(exc), now)
    except TransientSendError as exc:
        _record_parts(row, exc.sent)
        _retry(row, str(exc), now)
    except Exception as exc:  # an adapter bug: retry this row, keep the batch's sends
        log.exception("the %s sender failed on message %s", sender.channel, row.id)
        _retry(row, f"{type(exc).__name__}: {exc}", now)
    else:
        _record_parts(row, result.parts)
        row.state = domain.OutboundState.SENT.value
        row.sent_at = now
        if row.template == domain.ONE_TIME_CODE:
            row.body = domain.REDACTED
        row.provider_message_id = row.provider_message_id or result.provider_message_id
        row.next_attempt_at = None
        row.last_error = None
    return row.state


async def deliver_due(
    *,
    uow: UnitOfWork,
    sender: Sender,
    now: datetime,
    limit: int = 20,
    read_file: FileReader | None = None,
) -> DeliveryRun:
    """Send the due queued messages of the sender's channel, up to `limit`. The caller
    commits; keep `limit` small, as the rows stay locked while their sends run.
    `read_file` reads the files replies carry (by SHA-256, from the attachment store)."""
    repo = MessagingRepository(uow.session)
    rows = await repo.claim_due(sender.channel.value, now, limit)
    capabilities = sender.capabilities
    outcome = {"queued": 0, "sent": 0, "failed": 0}
    for row in rows:
        refusal = None
        if capabilities.window is not None and row.account_id is not None:
            last = await repo.last_inbound_at(row.account_id, row.recipient)
            refusal = domain.window_refusal(capabilities, domain.OutboundKind(row.kind), last, now)
        outcome[await _deliver_one(row, sender, now, refusal, read_file)] += 1
    await uow.flush()
    return DeliveryRun(sent=outcome["sent"], retrying=outcome["queued"], failed=outcome["failed"])


async def expire_due(*, uow: UnitOfWork, now: datetime, limit: int = 500) -> int:
    """Fail the queued messages whose expiry has passed, on every channel — also one no
    worker sends (no sender configured, a provider down for hours) — and blank their
    text if it is a sign-in code, so a code's plain text does not outlive the code.
    Returns how many (up to `limit`); the caller commits."""
    rows = await MessagingRepository(uow.session).claim_expired(now, limit)
    for row in rows:
        _fail(row, domain.expiry_refusal(row.expires_at, now) or "expired", now)
    await uow.flush()
    return len(rows)


async def mark_delivered(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, provider_message_id: str, now: datetime
) -> bool:
    """A delivery receipt: the sent message with this provider id is now delivered. Repeated
    or late receipts change nothing (returns False)."""
    return await MessagingRepository(uow.session).mark_delivered(
        tenant_id, provider_message_id, now
    )


async def outbox_for_ticket(*, uow: UnitOfWork, ticket_id: uuid.UUID) -> list[OutboxMessageRow]:
    """The ticket's outbound messages; the caller has checked that the actor sees the ticket."""
    return await MessagingRepository(uow.session).for_ticket(ticket_id)


async def inbox(
    *, uow: UnitOfWork, actor: Principal, customer_id: uuid.UUID, limit: int = 50
) -> list[AppInboxRow]:
    """The customer's app inbox, newest first; scoped like the customer record itself."""
    customer, _ = await customers.get(uow=uow, actor=actor, customer_id=customer_id)
    return await MessagingRepository(uow.session).inbox(actor.tenant_id, customer.id, limit)


async def mark_read(
    *, uow: UnitOfWork, actor: Principal, customer_id: uuid.UUID, item_id: uuid.UUID, now: datetime
) -> AppInboxRow:
    """Mark an inbox item read; the first read time is kept when the app repeats the call."""
    customer, _ = await customers.get(uow=uow, actor=actor, customer_id=customer_id)
    item = await MessagingRepository(uow.session).inbox_item(actor.tenant_id, customer.id, item_id)
    if item is None:
        raise UnknownInboxItem(f"customer {customer_id} has no inbox item {item_id}")
    if item.read_at is None:
        item.read_at = now
    await uow.flush()
    return item


@dataclass(frozen=True, slots=True)
class HistoryItem:
    direction: str
    channel: str
    at: datetime
    text: str
    ticket_id: uuid.UUID | None
    state: str | None = None
    outcome: str | None = None


async def history(
    *, uow: UnitOfWork, actor: Principal, customer_id: uuid.UUID, limit: int = 100
) -> list[HistoryItem]:
    """The customer's conversation across channels, newest first: messages they sent
    (WhatsApp, Telegram, SMS, email) and everything we sent them, with delivery states."""
    customer, _ = await customers.get(uow=uow, actor=actor, customer_id=customer_id)
    repo = MessagingRepository(uow.session)
    inbound = [
        HistoryItem(
            direction="in",
            channel=channel,
            at=row.received_at,
            text=str(row.payload.get("text") or row.payload.get("kind") or ""),
            ticket_id=row.ticket_id,
            outcome=row.outcome,
        )
        for row, channel in await repo.inbound_of(customer.id, limit)
    ]
    outbound = [
        HistoryItem(
            direction="out",
            channel=row.channel,
            at=row.created_at,
            text=row.body,
            ticket_id=row.ticket_id,
            state=row.state,
        )
        for row in await repo.outbound_of(customer.id, limit)
    ]
    return sorted(inbound + outbound, key=lambda item: item.at, reverse=True)[:limit]
