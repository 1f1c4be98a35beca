"""A customer's message on a provider channel (WhatsApp, Telegram, SMS) into a ticket.

The sender is recognised by the conversation's linked customer, a linked channel identity,
or the phone number the provider vouches for. A registered customer's message opens a
ticket or, under the duplicate guard, joins their open one; the acknowledgement goes back
on the same channel as well as by email and app. An unknown sender gets no ticket: the
event stays as an unverified contact attempt and they are told how to register, at most
once a day. Reactions and other unsupported kinds are kept and logged, nothing more.

A chat is linked to a customer by a deep-link token (`/start <token>`, issued over a
channel already theirs) or by a contact share the provider vouches for (Telegram: the
contact's user_id is the sender's); a contact share also verifies the number.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.access import Principal, Role
from sahaya.customers import CustomerRepository, CustomerRow, e164_or_none
from sahaya.customers import services as customers
from sahaya.customers.domain import IdentityChannel, Verification, VerificationMethod
from sahaya.customers.repository import with_home
from sahaya.messaging import domain as messaging_domain
from sahaya.messaging import inbound as events
from sahaya.messaging import services as messaging
from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import InboundKind, InboundMessage
from sahaya.messaging.ports import MediaFetcher, SendError
from sahaya.network import NetworkRepository, NodeRow
from sahaya.persistence import UnitOfWork
from sahaya.settings import Settings
from sahaya.tickets.attachments import AttachmentStore, Limits, NewAttachment, check
from sahaya.tickets.domain import Channel
from sahaya.tickets.errors import InvalidTicket
from sahaya.tickets.intake import Intake, open_ticket
from sahaya.tickets.services import DEFAULT_LIMITS

SYSTEM = "system:messaging"
SUBJECT_LENGTH = 80


@dataclass(frozen=True, slots=True)
class Received:
    # ticket_opened, threaded, unknown_sender, blocked, ignored, linked, link_refused, started
    outcome: str
    customer_id: uuid.UUID | None = None
    ticket_id: uuid.UUID | None = None
    number: str | None = None


@dataclass(frozen=True, slots=True)
class InboundConfig:
    thread_window: timedelta
    store: AttachmentStore | None = None
    limits: Limits = DEFAULT_LIMITS

    @classmethod
    def from_settings(cls, settings: Settings) -> InboundConfig:
        return cls(
            thread_window=timedelta(hours=settings.ticket_thread_hours),
            store=AttachmentStore(settings.var_dir / "attachments"),
            limits=Limits(max_bytes=settings.attachment_max_bytes),
        )


def subject_for(message: InboundMessage, channel: str) -> str:
    """A ticket subject from the message's first line (a caption, a button's title…)."""
    first = next((line.strip() for line in message.text.splitlines() if line.strip()), "")
    if not first:
        return f"{channel.capitalize()} {message.kind.value} message"
    return first if len(first) <= SUBJECT_LENGTH else first[: SUBJECT_LENGTH - 1] + "…"


async def system_actor(uow: UnitOfWork, tenant_id: uuid.UUID, home: NodeRow) -> Principal:
    """The actor of work no person did (a channel's message), at the tree's root."""
    root_path = home.path.split("/")[0]

    async def load(session: AsyncSession) -> tuple[uuid.UUID, str] | None:
        root = await NetworkRepository(session).node(tenant_id, root_path)
        return None if root is None else (root.id, root.path)

    root = await uow.cached(("root_node", tenant_id, root_path), load)
    assert root is not None  # noqa: S101 - every node has its root
    return Principal(
        tenant_id=tenant_id,
        role=Role.ADMIN,
        node_id=root[0],
        node_path=root[1],
        token_id=uuid.UUID(int=0),
        name=SYSTEM,
    )


async def _recognise(
    uow: UnitOfWork, account: ChannelAccount, message: InboundMessage, linked: uuid.UUID | None
) -> tuple[CustomerRow, NodeRow] | None:
    """The sender, read-only: by the conversation's customer, a linked identity, the phone
    the provider vouches for, or (email) an address only one customer has."""
    driver = await uow.driver()
    if linked is not None:
        found = await with_home(driver, account.tenant_id, by="id", value=linked)
        if found is not None:
            return found
    if account.channel.value in ("whatsapp", "telegram"):
        identity = (account.tenant_id, account.channel.value, message.address)
        if message.phone:
            both = (*identity, account.tenant_id, message.phone)
            return await with_home(driver, account.tenant_id, by="identity_or_phone", value=both)
        found = await with_home(driver, account.tenant_id, by="identity", value=identity)
        if found is not None:
            return found
    if message.phone:
        return await with_home(driver, account.tenant_id, by="phone", value=message.phone)
    if message.email:
        matches = await CustomerRepository(uow.session).by_email(
            account.tenant_id, message.email.lower()
        )
        if len(matches) == 1:  # an address shared by two customers identifies neither
            return matches[0]
    return None


async def service_code_for(uow: UnitOfWork, account: ChannelAccount) -> str:
    """The service an account's messages are about: its configured one, else the tenant's
    first active service (cached: it is read for every message)."""
    configured = account.settings.get("service")
    if isinstance(configured, str) and configured:
        return configured

    async def load(session: AsyncSession) -> str:
        services = await NetworkRepository(session).services(account.tenant_id)
        active = [s.code for s in services if s.active]
        return active[0] if active else "apnafood"

    return await uow.cached(("default_service", account.tenant_id), load)


# A medium still not fetched after this many failed tries of its event (~12.5 min along the
# backoff: 30 s, 2 min, 10 min) is named in the thread instead, and the message goes on.
MEDIA_TRIES = 3


async def _attachments(
    message: InboundMessage, fetch: MediaFetcher | None, limits: Limits, failed_tries: int
) -> tuple[tuple[NewAttachment, ...], list[str]]:
    """The message's files, and a note for each one the ticket store refuses (a type we do
    not keep, too big, a strange name): those are named in the thread instead, so one bad
    file neither loses the message nor keeps it retrying for ever. A file the provider will
    not give retries the whole event (a medium can lag its webhook), but only `MEDIA_TRIES`
    times: a medium that is gone, too large or behind a provider outage must not keep the
    customer's words out of a ticket."""
    if not message.media or fetch is None:
        return (), []
    files: list[NewAttachment] = []
    refused: list[str] = []
    for media in message.media:
        try:
            data, mime = await fetch(media.provider_id)
        except SendError as exc:
            if failed_tries < MEDIA_TRIES:
                raise  # the event is retried along the backoff
            refused.append(f"[file not fetched: {media.filename}: {exc}]"[:1000])
            continue
        item = NewAttachment(media.filename, mime or media.mime_type, data)
        try:
            check((*files, item), limits)
        except InvalidTicket as exc:
            refused.append(f"[file not kept: {exc.detail}]")
            continue
        files.append(item)
    return tuple(files), refused


def _notice(
    uow: UnitOfWork,
    account: ChannelAccount,
    route: messaging.Route,
    template: str,
    now: datetime,
    language: str | None = "en",
    **values: str,
) -> None:
    text = messaging_domain.render(template, language, channel=account.channel.value, **values)
    uow.session.add(
        messaging.channel_message(
            tenant_id=account.tenant_id,
            route=route,
            subject=text.subject,
            body=text.body,
            template=template,
            language=messaging_domain.language_or_default(language),
            now=now,
        )
    )


def _identity_channel(account: ChannelAccount) -> IdentityChannel | None:
    try:
        return IdentityChannel(account.channel.value)
    except ValueError:
        return None  # SMS: the phone number is the identity


async def _link(
    uow: UnitOfWork,
    account: ChannelAccount,
    message: InboundMessage,
    conversation: events.Conversation,
    now: datetime,
) -> tuple[CustomerRow | None, bool]:
    """A deep-link token or a vouched-for contact share: (the customer it proves, whether
    the message tried to link at all)."""
    channel = _identity_channel(account)
    customer = None
    if message.link_token is not None and channel is not None:
        customer = await customers.redeem_link_token(
            uow=uow, tenant_id=account.tenant_id, channel=channel, token=message.link_token, now=now
        )
    elif message.shared_phone is not None:
        phone = e164_or_none(message.shared_phone)
        found = (
            None
            if phone is None
            else await CustomerRepository(uow.session).by_phone(account.tenant_id, phone)
        )
        if found is not None:
            customer = found[0]
            if customer.verification != Verification.VERIFIED.value:
                await customers.mark_verified(
                    uow=uow, row=customer, method=VerificationMethod.CONTACT_SHARE, now=now
                )
    else:
        return None, False
    if customer is not None:
        await events.link_customer(uow=uow, conversation=conversation, customer_id=customer.id)
        if channel is not None:
            await customers.attach_identity(
                uow=uow,
                tenant_id=account.tenant_id,
                customer_id=customer.id,
                channel=channel,
                external_id=message.address,
                now=now,
            )
    return customer, True


async def receive(
    *,
    uow: UnitOfWork,
    account: ChannelAccount,
    message: InboundMessage,
    now: datetime,
    config: InboundConfig,
    fetch_media: MediaFetcher | None = None,
    conversation: events.Conversation | None = None,
    sender: tuple[CustomerRow, NodeRow] | None = None,
    failed_tries: int = 0,
) -> Received:
    """Turn one inbound message into its effect, in the caller's transaction.
    `conversation`: the sender's conversation when the caller has already touched it;
    `sender`: the customer the caller found by that conversation, identity or phone;
    `failed_tries`: how often processing this message failed before (see `MEDIA_TRIES`)."""
    if conversation is None:
        conversation = await events.touch_conversation(
            uow=uow, account=account, message=message, now=now
        )
    if message.kind == InboundKind.UNSUPPORTED:
        return Received("ignored", conversation.customer_id)
    route = messaging.Route(account.channel, account.id, message.address)
    linked, tried = await _link(uow, account, message, conversation, now)
    if linked is not None:
        _notice(
            uow,
            account,
            route,
            messaging_domain.CHANNEL_LINKED,
            now,
            linked.language,
            name=linked.name,
        )
        return Received("linked", linked.id)
    if tried and message.link_token is not None:
        _notice(uow, account, route, messaging_domain.LINK_REFUSED, now)
        return Received("link_refused")
    found = sender or await _recognise(uow, account, message, conversation.customer_id)
    if found is None:
        if await events.claim_hint(uow=uow, conversation_id=conversation.id, now=now):
            _notice(uow, account, route, messaging_domain.REGISTRATION_HINT, now)
        return Received("unknown_sender")
    customer, home = found
    if conversation.customer_id != customer.id:
        await events.link_customer(uow=uow, conversation=conversation, customer_id=customer.id)
    if customer.blocked:
        return Received("blocked", customer.id)
    if message.kind == InboundKind.START:
        return Received("started", customer.id)
    actor = await system_actor(uow, account.tenant_id, home)
    files, refused = await _attachments(message, fetch_media, config.limits, failed_tries)
    opened = await open_ticket(
        uow=uow,
        actor=actor,
        intake=Intake(
            customer_id=customer.id,
            service_code=await service_code_for(uow, account),
            channel=Channel(account.channel.value),
            subject=" ".join((message.subject or "").split())[:300]
            or subject_for(message, account.channel.value),
            message="\n".join([message.describe(), *refused]),
            attachments=files,
            # Email acknowledges by email anyway (to the address it came from).
            route=route if account.channel != messaging_domain.Channel.EMAIL else None,
            thread_into=message.ticket_hint,
        ),
        now=now,
        thread_window=config.thread_window,
        store=config.store,
        limits=config.limits,
        known=found,
    )
    outcome = "ticket_opened" if opened.created else "threaded"
    return Received(outcome, customer.id, opened.ticket.id, opened.ticket.number)
