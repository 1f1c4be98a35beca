"""Which adapter serves which provider: the one place that knows providers by name, so the
core (tickets, messaging) only ever sees ports — senders and media fetchers."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path

import httpx

from sahaya.channels.email import IMAP_PROVIDER, LISTENER_PROVIDER
from sahaya.channels.email.smtp import SmtpSender
from sahaya.channels.email.spool import Spool, spool_dir
from sahaya.channels.exotel import sms as exotel_sms
from sahaya.channels.telegram import api as telegram
from sahaya.channels.textlocal import api as textlocal
from sahaya.channels.textlocal import wire as textlocal_wire
from sahaya.channels.whatsapp_cloud import api as whatsapp
from sahaya.messaging import accounts
from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import Capabilities, Channel, InboundMessage, Receipt
from sahaya.messaging.ports import (
    MediaFetcher,
    OutboundMessage,
    PermanentSendError,
    Sender,
    SendResult,
)
from sahaya.persistence import Database
from sahaya.settings import Settings, get_settings

EMAIL_PROVIDERS = frozenset({IMAP_PROVIDER, LISTENER_PROVIDER})


def account_source(
    database: Database, settings: Settings
) -> Callable[[uuid.UUID], Awaitable[ChannelAccount | None]]:
    secret = settings.secret_key.get_secret_value()

    async def load(account_id: uuid.UUID) -> ChannelAccount | None:
        return await accounts.by_id(database=database, account_id=account_id, secret_key=secret)

    return load


ProviderSend = Callable[[ChannelAccount, OutboundMessage, httpx.AsyncClient], Awaitable[SendResult]]


class WireError(ValueError):
    """A callback that is not what the account's provider sends."""


class AccountSender:
    """The outbox's sender for one channel whose messages each leave from their own account
    (a WhatsApp number, a Telegram bot, an SMS sender), through that account's provider."""

    def __init__(
        self,
        channel: Channel,
        capabilities: Capabilities,
        providers: Mapping[str, ProviderSend],
        accounts: Callable[[uuid.UUID], Awaitable[ChannelAccount | None]],
        http: httpx.AsyncClient,
    ) -> None:
        self._channel = channel
        self._capabilities = capabilities
        self.providers = providers
        self.accounts = accounts
        self.http = http

    @property
    def channel(self) -> Channel:
        return self._channel

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def send(self, message: OutboundMessage) -> SendResult:
        account = await self.accounts(message.account_id) if message.account_id else None
        if account is None:
            raise PermanentSendError(
                f"{self._channel.value} account {message.account_id} is gone or inactive"
            )
        send = self.providers.get(account.provider)
        if send is None:
            raise PermanentSendError(f"no {self._channel.value} adapter for {account.provider!r}")
        return await send(account, message, self.http)


# What each channel can carry, and which provider sends it.
CHANNELS: dict[Channel, tuple[Capabilities, dict[str, ProviderSend]]] = {
    Channel.WHATSAPP: (whatsapp.CAPABILITIES, {whatsapp.PROVIDER: whatsapp.send}),
    Channel.TELEGRAM: (telegram.CAPABILITIES, {telegram.PROVIDER: telegram.send}),
    Channel.SMS: (
        Capabilities(),
        {textlocal.PROVIDER: textlocal.send, exotel_sms.PROVIDER: exotel_sms.send},
    ),
}


def sender_for(
    channel: Channel, database: Database, settings: Settings, http: httpx.AsyncClient
) -> AccountSender:
    capabilities, providers = CHANNELS[channel]
    return AccountSender(channel, capabilities, providers, account_source(database, settings), http)


def sms_receipt(
    account: ChannelAccount, fields: Mapping[str, str], now: datetime
) -> Receipt | None:
    """A delivery report posted by the account's SMS provider (None: not final yet)."""
    try:
        if account.provider == textlocal.PROVIDER:
            return textlocal_wire.receipt(fields, now)
        if account.provider == exotel_sms.PROVIDER:
            return exotel_sms.receipt(fields, now)
    except (textlocal_wire.WireError, exotel_sms.WireError) as exc:
        raise WireError(str(exc)) from None
    raise WireError(f"{account.provider} posts no delivery reports here")


def sms_inbound(
    account: ChannelAccount, fields: Mapping[str, str], now: datetime
) -> InboundMessage:
    """An inbound SMS posted by the account's provider (Textlocal inboxes; Exotel has none)."""
    if account.provider != textlocal.PROVIDER:
        raise WireError(f"{account.provider} does not deliver inbound SMS")
    try:
        return textlocal_wire.inbound(fields, now)
    except textlocal_wire.WireError as exc:
        raise WireError(str(exc)) from None


def senders(database: Database, settings: Settings, http: httpx.AsyncClient) -> list[Sender]:
    """Every outbound channel this process can send on. Email needs an SMTP host; the
    provider channels read their accounts from the database per message."""
    found: list[Sender] = [sender_for(c, database, settings, http) for c in CHANNELS]
    email = SmtpSender.from_settings(settings, database=database)
    if email is not None:
        found.append(email)
    return found


def media_fetcher(
    account: ChannelAccount, http: httpx.AsyncClient, *, mail_spool: Path | None = None
) -> MediaFetcher | None:
    """How to fetch an inbound medium of this account's provider (None: it sends none).
    Email attachments are read back from the mail spool (`mail_spool`, by default the
    configured one: channels.email.spool)."""
    if account.channel == Channel.EMAIL and account.provider in EMAIL_PROVIDERS:
        return Spool(mail_spool or spool_dir(get_settings())).fetcher()
    if account.provider == whatsapp.PROVIDER:
        return whatsapp.GraphClient(account, http).media
    if account.provider == telegram.PROVIDER:
        return telegram.BotClient(account, http).media
    return None
