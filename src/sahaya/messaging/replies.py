"""An agent's reply back to the customer, on the channel they used or one the agent picks.

A provider channel (WhatsApp, Telegram, SMS) needs a conversation: the address the
customer last wrote from on an account of that channel (SMS also reaches any registered
phone through the tenant's first SMS account). Email needs the customer's
address; the app inbox always works. For tickets that came by voice, the web or the API,
the reply takes the customer's most recent conversation, else email, else the app inbox.
The message is queued in the caller's transaction (the outbox sends it, with retries and
receipts); the row is returned so the thread can show its delivery state.

A channel with a window (WhatsApp's 24 hours, declared in its capabilities) takes a plain
reply only while the customer's last message is that recent: outside it the reply is
refused at once (`WindowClosed`, telling the agent to send a template) instead of being
queued to fail. A `ReplyTemplate` (an approved provider template) may go at any time, on a
channel whose capabilities include templates; on any other it is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from sahaya.customers import CustomerRow
from sahaya.errors import Conflict, Invalid
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
_PLAIN = domain.Capabilities()


class NoReplyRoute(Conflict):
    slug = "no-reply-route"
    title = "The customer cannot be reached on that channel"


class WindowClosed(Conflict):
    slug = "reply-window-closed"
    title = "Only a template can reach the customer on that channel now"


class TemplateNotSupported(Invalid):
    slug = "template-not-supported"
    title = "That channel has no message templates"


@dataclass(frozen=True, slots=True)
class ReplyTemplate:
    """An approved provider template: its name, language code and body parameters."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()

    def describe(self) -> str:
        """What the ticket's thread shows (the template's text lives at the provider)."""
        shown = f": {' | '.join(self.parameters)}" if self.parameters else ""
        return f"[template {self.name} ({self.language}){shown}]"

    def payload(self) -> dict[str, object]:
        return {"name": self.name, "language": self.language, "parameters": list(self.parameters)}


@dataclass(frozen=True, slots=True)
class Queued:
    channel: domain.Channel
    outbox: OutboxMessageRow | None  # None: written to the app inbox
    inbox: AppInboxRow | None = None


@dataclass(frozen=True, slots=True)
class _Target:
    channel: domain.Channel
    route: Route | None  # None: the app inbox
    last_inbound_at: datetime | None = None  # on a conversation: when they last wrote


async def _conversation(
    uow: UnitOfWork, customer_id: uuid.UUID, channels: tuple[domain.Channel, ...]
) -> _Target | None:
    found = (
        await uow.session.execute(
            select(
                ChannelAccountRow.channel,
                ConversationRow.account_id,
                ConversationRow.address,
                ConversationRow.last_inbound_at,
            )
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
    return _Target(channel, Route(channel, found[1], found[2]), found[3])


async def _sms_to_phone(
    uow: UnitOfWork, tenant_id: uuid.UUID, customer: CustomerRow
) -> _Target | None:
    """The customer's registered phone through the tenant's first SMS account."""
    account_id = await first_account_id(uow=uow, tenant_id=tenant_id, channel=domain.Channel.SMS)
    if account_id is None:
        return None
    return _Target(domain.Channel.SMS, Route(domain.Channel.SMS, account_id, customer.phone_e164))


async def _target(
    uow: UnitOfWork,
    ticket: TicketRef,
    ticket_channel: str,
    customer: CustomerRow,
    channel: domain.Channel | None,
) -> _Target:
    """Where the reply goes (see the module docstring); `NoReplyRoute` when nowhere."""
    wanted = channel
    if wanted is None and ticket_channel in {c.value for c in domain.Channel}:
        wanted = domain.Channel(ticket_channel)
    if wanted in _PROVIDER_CHANNELS:
        assert wanted is not None  # noqa: S101 - narrowed by the membership test
        found = await _conversation(uow, customer.id, (wanted,))
        if found is None and wanted == domain.Channel.SMS:  # any registered phone takes SMS
            found = await _sms_to_phone(uow, ticket.tenant_id, customer)
        if found is not None:
            return found
        if channel is not None:  # the agent asked for it explicitly
            raise NoReplyRoute(f"{customer.name} has never written to us on {wanted.value}")
        wanted = None
    if wanted is None:  # voice, web, api, or a channel that has no conversation
        found = await _conversation(uow, customer.id, _PROVIDER_CHANNELS)
        if found is not None:
            return found
        wanted = domain.Channel.EMAIL if customer.email else domain.Channel.APP
    if wanted == domain.Channel.EMAIL:
        if not customer.email:
            raise NoReplyRoute(f"{customer.name} has no email address")
        return _Target(wanted, Route(wanted, None, customer.email))
    return _Target(domain.Channel.APP, None)


def _check(
    target: _Target,
    customer: CustomerRow,
    template: ReplyTemplate | None,
    capabilities: Mapping[domain.Channel, domain.Capabilities],
    now: datetime,
) -> domain.OutboundKind:
    """The kind of message to queue; refuses what the channel would never send."""
    declared = capabilities.get(target.channel, _PLAIN)
    if template is not None:
        if not declared.templates:
            having = sorted(c.value for c, k in capabilities.items() if k.templates)
            hint = f" (templates go on {', '.join(having)})" if having else ""
            raise TemplateNotSupported(
                f"this reply would go by {target.channel.value}, which has no message "
                f"templates{hint}: send a plain reply, or pick a channel that has them",
                field="template",
            )
        return domain.OutboundKind.TEMPLATE
    if declared.window is not None:
        refusal = domain.window_refusal(
            declared, domain.OutboundKind.TEXT, target.last_inbound_at, now
        )
        if refusal is not None:
            raise WindowClosed(
                f"{customer.name} cannot get a plain reply on {target.channel.value} now, "
                f"{refusal}: send an approved template instead (`template` with its name, "
                "language and parameters), or pick another channel (`channel`)"
            )
    return domain.OutboundKind.TEXT


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
    template: ReplyTemplate | None = None,
    capabilities: Mapping[domain.Channel, domain.Capabilities] | None = None,
) -> Queued:
    """Queue the reply; `NoReplyRoute` (409) when the chosen channel cannot reach them.
    `files` (filename, content_type, size, sha256 of stored attachments) go with it where
    the channel carries files; SMS names them instead. `template` is sent instead of
    `body` (which then only describes it); `capabilities` are the channels' declared ones
    (a channel missing from them takes plain messages only)."""
    listed = [dict(f) for f in files]
    target = await _target(uow, ticket, ticket_channel, customer, channel)
    kind = _check(target, customer, template, capabilities or {}, now)
    if target.route is None:
        return await _to_app(uow, ticket, customer, body, now)
    if target.channel == domain.Channel.EMAIL:
        row = channel_message(
            tenant_id=ticket.tenant_id,
            route=target.route,
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
    payload = template.payload() if template is not None else None
    row = _add(uow, ticket, customer, target.route, body, now, listed, kind, payload)
    return Queued(target.channel, row)


async def _to_app(
    uow: UnitOfWork, ticket: TicketRef, customer: CustomerRow, body: str, now: datetime
) -> Queued:
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
    kind: domain.OutboundKind = domain.OutboundKind.TEXT,
    template: dict[str, object] | None = None,
) -> OutboxMessageRow:
    payload: dict[str, object] | None = {"attachments": files} if files else template
    if files and route.channel == domain.Channel.SMS:  # SMS carries no files: name them
        names = ", ".join(str(f["filename"]) for f in files)
        body, payload = f"{body}\n(Files: {names} — see the app or your email.)", None
    row = channel_message(
        tenant_id=ticket.tenant_id,
        route=route,
        body=body,
        kind=kind,
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
