"""An agent's reply back to the customer, on the channel they used or one the agent picks.

A provider channel (WhatsApp, Telegram, SMS) needs a conversation: the address the
customer last wrote from on an account of that channel (SMS also reaches any registered
phone through the tenant's first SMS account). Email needs the customer's
address; the app inbox always works. For tickets that came by voice, the web or the API,
the reply takes the customer's most recent conversation, else email, else the app inbox.
The message is queued in the caller's transaction (the outbox sends it, with retries and
receipts); the row is returned so the thread can show its delivery state.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from sahaya.customers import CustomerRow
from sahaya.errors import Conflict
from sahaya.messaging import domain
from sahaya.messaging.accounts import first_account_id
from sahaya.messaging.services import Route, TicketRef, announce, channel_message
from sahaya.messaging.tables import (
    AppInboxRow,
    ChannelAccountRow,
    ConversationRow,
    OutboxMessageRow,
)
from sahaya.persistence import UnitOfWork

REPLY = "agent_reply"
_PROVIDER_CHANNELS = (domain.Channel.WHATSAPP, domain.Channel.TELEGRAM, domain.Channel.SMS)


class NoReplyRoute(Conflict):
    slug = "no-reply-route"
    title = "The customer cannot be reached on that channel"


@dataclass(frozen=True, slots=True)
class Queued:
    channel: domain.Channel
    outbox: OutboxMessageRow | None  # None: written to the app inbox
    inbox: AppInboxRow | None = None


async def _conversation(
    uow: UnitOfWork, customer_id: uuid.UUID, channels: tuple[domain.Channel, ...]
) -> tuple[domain.Channel, Route] | None:
    found = (
        await uow.session.execute(
            select(ChannelAccountRow.channel, ConversationRow.account_id, ConversationRow.address)
            .join(ChannelAccountRow, ChannelAccountRow.id == ConversationRow.account_id)
            .where(
                ConversationRow.customer_id == customer_id,
                ChannelAccountRow.channel.in_([c.value for c in channels]),
                ChannelAccountRow.active.is_(True),
            )
            .order_by(ConversationRow.last_inbound_at.desc())
            .limit(1)
        )
    ).first()
    if found is None:
        return None
    channel = domain.Channel(found[0])
    return channel, Route(channel, found[1], found[2])


async def _sms_to_phone(
    uow: UnitOfWork, tenant_id: uuid.UUID, customer: CustomerRow
) -> tuple[domain.Channel, Route] | None:
    """The customer's registered phone through the tenant's first SMS account."""
    account_id = await first_account_id(uow=uow, tenant_id=tenant_id, channel=domain.Channel.SMS)
    if account_id is None:
        return None
    return domain.Channel.SMS, Route(domain.Channel.SMS, account_id, customer.phone_e164)


async def queue_reply(
    *,
    uow: UnitOfWork,
    ticket: TicketRef,
    ticket_channel: str,
    customer: CustomerRow,
    body: str,
    now: datetime,
    channel: domain.Channel | None = None,
    files: Sequence[Mapping[str, object]] = (),
) -> Queued:
    """Queue the reply; `NoReplyRoute` (409) when the chosen channel cannot reach them.
    `files` (filename, content_type, size, sha256 of stored attachments) go with it where
    the channel carries files; SMS names them instead."""
    listed = [dict(f) for f in files]
    wanted = channel
    if wanted is None and ticket_channel in {c.value for c in domain.Channel}:
        wanted = domain.Channel(ticket_channel)
    if wanted in _PROVIDER_CHANNELS:
        assert wanted is not None  # noqa: S101 - narrowed by the membership test
        found = await _conversation(uow, customer.id, (wanted,))
        if found is None and wanted == domain.Channel.SMS:  # any registered phone takes SMS
            found = await _sms_to_phone(uow, ticket.tenant_id, customer)
        if found is None:
            if channel is not None:  # the agent asked for it explicitly
                raise NoReplyRoute(f"{customer.name} has never written to us on {wanted.value}")
            wanted = None
        else:
            return Queued(wanted, _add(uow, ticket, customer, found[1], body, now, listed))
    if wanted is None:  # voice, web, api, or a channel that has no conversation
        found = await _conversation(uow, customer.id, _PROVIDER_CHANNELS)
        if found is not None:
            return Queued(found[0], _add(uow, ticket, customer, found[1], body, now, listed))
        wanted = domain.Channel.EMAIL if customer.email else domain.Channel.APP
    if wanted == domain.Channel.EMAIL:
        if not customer.email:
            raise NoReplyRoute(f"{customer.name} has no email address")
        row = channel_message(
            tenant_id=ticket.tenant_id,
            route=Route(domain.Channel.EMAIL, None, customer.email),
            subject=f"Re: {ticket.subject} [{ticket.number}]",
            body=body,
            template=REPLY,
            language=domain.language_or_default(customer.language),
            reference=ticket.number,
            payload={"attachments": listed} if listed else None,
            ticket_id=ticket.id,
            customer_id=customer.id,
            now=now,
        )
        uow.session.add(row)
        return Queued(domain.Channel.EMAIL, row)
    inbox = AppInboxRow(
        id=uuid.uuid4(),
        tenant_id=ticket.tenant_id,
        customer_id=customer.id,
        title=f"Reply on ticket {ticket.number}",
        body=body,
        ticket_id=ticket.id,
        created_at=now,
    )
    uow.session.add(inbox)
    await uow.flush()
    await announce(uow, inbox)
    return Queued(domain.Channel.APP, None, inbox)


def _add(
    uow: UnitOfWork,
    ticket: TicketRef,
    customer: CustomerRow,
    route: Route,
    body: str,
    now: datetime,
    files: list[dict[str, object]],
) -> OutboxMessageRow:
    payload: dict[str, object] | None = {"attachments": files} if files else None
    if files and route.channel == domain.Channel.SMS:  # SMS carries no files: name them
        names = ", ".join(str(f["filename"]) for f in files)
        body, payload = f"{body}\n(Files: {names} — see the app or your email.)", None
    row = channel_message(
        tenant_id=ticket.tenant_id,
        route=route,
        body=body,
        payload=payload,
        template=REPLY,
        language=domain.language_or_default(customer.language),
        reference=ticket.number,
        ticket_id=ticket.id,
        customer_id=customer.id,
        now=now,
    )
    uow.session.add(row)
    return row
