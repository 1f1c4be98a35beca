"""A customer's message on a provider channel (WhatsApp, Telegram, SMS) into a ticket.

The sender is recognised by the conversation's linked customer, a linked channel identity,
or the phone number the provider vouches for. A registered customer's message opens a
ticket or, under the duplicate guard, joins their open one; the acknowledgement goes back
on the same channel as well as by email and app. An unknown sender gets no ticket: the
event stays as an unverified contact attempt and they are told how to register, at most
once a day. Reactions and other unsupported kinds are kept and logged, nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sahaya.access import Principal, Role
from sahaya.customers import CustomerRepository, CustomerRow
from sahaya.messaging import domain as messaging_domain
from sahaya.messaging import inbound as events
from sahaya.messaging import services as messaging
from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import InboundKind, InboundMessage
from sahaya.network import NetworkRepository, NodeRow
from sahaya.persistence import UnitOfWork
from sahaya.tickets.attachments import AttachmentStore, Limits, NewAttachment
from sahaya.tickets.domain import Channel
from sahaya.tickets.intake import Intake, open_ticket
from sahaya.tickets.services import DEFAULT_LIMITS

SYSTEM = "system:messaging"
SUBJECT_LENGTH = 80

# Fetches an inbound medium by the provider's id: (bytes, MIME type).
MediaFetcher = Callable[[str], Awaitable[tuple[bytes, str]]]


@dataclass(frozen=True, slots=True)
class Received:
    outcome: str  # ticket_opened, threaded, unknown_sender, blocked, ignored
    customer_id: uuid.UUID | None = None
    ticket_id: uuid.UUID | None = None
    number: str | None = None


@dataclass(frozen=True, slots=True)
class InboundConfig:
    thread_window: timedelta
    store: AttachmentStore | None = None
    limits: Limits = DEFAULT_LIMITS


def subject_for(message: InboundMessage, channel: str) -> str:
    """A ticket subject from the message's first line (a caption, a button's title…)."""
    first = next((line.strip() for line in message.text.splitlines() if line.strip()), "")
    if not first:
        return f"{channel.capitalize()} {message.kind.value} message"
    return first if len(first) <= SUBJECT_LENGTH else first[: SUBJECT_LENGTH - 1] + "…"


async def _system_actor(uow: UnitOfWork, tenant_id: uuid.UUID, home: NodeRow) -> Principal:
    root = await NetworkRepository(uow.session).node(tenant_id, home.path.split("/")[0])
    assert root is not None  # noqa: S101 - every node has its root
    return Principal(
        tenant_id=tenant_id,
        role=Role.ADMIN,
        node_id=root.id,
        node_path=root.path,
        token_id=uuid.UUID(int=0),
        name=SYSTEM,
    )


async def _recognise(
    uow: UnitOfWork, account: ChannelAccount, message: InboundMessage, linked: uuid.UUID | None
) -> tuple[CustomerRow, NodeRow] | None:
    repo = CustomerRepository(uow.session)
    if linked is not None:
        found = await repo.by_id(account.tenant_id, linked)
        if found is not None:
            return found
    if account.channel.value in ("whatsapp", "telegram"):
        found = await repo.by_identity(account.tenant_id, account.channel.value, message.address)
        if found is not None:
            return found
    if message.phone:
        return await repo.by_phone(account.tenant_id, message.phone)
    return None


async def _service_code(uow: UnitOfWork, account: ChannelAccount) -> str:
    configured = account.settings.get("service")
    if isinstance(configured, str) and configured:
        return configured
    services = await NetworkRepository(uow.session).services(account.tenant_id)
    active = [s.code for s in services if s.active]
    return active[0] if active else "apnafood"


async def _attachments(
    message: InboundMessage, fetch: MediaFetcher | None
) -> tuple[NewAttachment, ...]:
    if not message.media or fetch is None:
        return ()
    files = []
    for media in message.media:
        data, mime = await fetch(media.provider_id)  # a failure retries the whole event
        files.append(NewAttachment(media.filename, mime or media.mime_type, data))
    return tuple(files)


async def receive(
    *,
    uow: UnitOfWork,
    account: ChannelAccount,
    message: InboundMessage,
    now: datetime,
    config: InboundConfig,
    fetch_media: MediaFetcher | None = None,
) -> Received:
    """Turn one inbound message into its effect, in the caller's transaction."""
    conversation = await events.touch_conversation(
        uow=uow, account=account, message=message, now=now
    )
    if message.kind == InboundKind.UNSUPPORTED:
        return Received("ignored", conversation.customer_id)
    route = messaging.Route(account.channel, account.id, message.address)
    found = await _recognise(uow, account, message, conversation.customer_id)
    if found is None:
        if await events.claim_hint(uow=uow, conversation_id=conversation.id, now=now):
            text = messaging_domain.render(
                messaging_domain.REGISTRATION_HINT, "en", channel=account.channel.value
            )
            uow.session.add(
                messaging.channel_message(
                    tenant_id=account.tenant_id,
                    route=route,
                    subject=text.subject,
                    body=text.body,
                    template=messaging_domain.REGISTRATION_HINT,
                    now=now,
                )
            )
        return Received("unknown_sender")
    customer, home = found
    if conversation.customer_id != customer.id:
        await events.link_customer(uow=uow, conversation=conversation, customer_id=customer.id)
    if customer.blocked:
        return Received("blocked", customer.id)
    actor = await _system_actor(uow, account.tenant_id, home)
    opened = await open_ticket(
        uow=uow,
        actor=actor,
        intake=Intake(
            customer_id=customer.id,
            service_code=await _service_code(uow, account),
            channel=Channel(account.channel.value),
            subject=subject_for(message, account.channel.value),
            message=message.describe(),
            attachments=await _attachments(message, fetch_media),
            route=route,
        ),
        now=now,
        thread_window=config.thread_window,
        store=config.store,
        limits=config.limits,
        known=found,
    )
    outcome = "ticket_opened" if opened.created else "threaded"
    return Received(outcome, customer.id, opened.ticket.id, opened.ticket.number)
