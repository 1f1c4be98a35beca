"""Which adapter serves which provider: the one place that knows providers by name, so the
core (tickets, messaging) only ever sees ports — senders and media fetchers."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx

from sahaya.channels.email.smtp import SmtpSender
from sahaya.channels.telegram import api as telegram
from sahaya.channels.whatsapp_cloud import api as whatsapp
from sahaya.messaging import accounts
from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.ports import Sender
from sahaya.persistence import Database
from sahaya.settings import Settings

MediaFetcher = Callable[[str], Awaitable[tuple[bytes, str]]]


def account_source(
    database: Database, settings: Settings
) -> Callable[[uuid.UUID], Awaitable[ChannelAccount | None]]:
    secret = settings.secret_key.get_secret_value()

    async def load(account_id: uuid.UUID) -> ChannelAccount | None:
        return await accounts.by_id(database=database, account_id=account_id, secret_key=secret)

    return load


def senders(database: Database, settings: Settings, http: httpx.AsyncClient) -> list[Sender]:
    """Every outbound channel this process can send on. Email needs an SMTP host; the
    provider channels read their accounts from the database per message."""
    source = account_source(database, settings)
    found: list[Sender] = [
        whatsapp.WhatsAppSender(source, http),
        telegram.TelegramSender(source, http),
    ]
    email = SmtpSender.from_settings(settings)
    if email is not None:
        found.append(email)
    return found


def media_fetcher(account: ChannelAccount, http: httpx.AsyncClient) -> MediaFetcher | None:
    """How to fetch an inbound medium of this account's provider (None: it sends none)."""
    if account.provider == whatsapp.PROVIDER:
        return whatsapp.GraphClient(account, http).media
    if account.provider == telegram.PROVIDER:
        return telegram.BotClient(account, http).media
    return None
