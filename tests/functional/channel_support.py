"""What the messaging-channel tests share: a WhatsApp number and a Telegram bot whose
provider is the local fake (the `whatsapp` and `telegram` fixtures in conftest.py), reading
rows back, and running the outbox for one channel the way the worker does (its sender from
channels.registry, replies' files read from the attachment store)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from sahaya.channels import registry
from sahaya.channels.telegram.fake import FakeBotApi
from sahaya.channels.whatsapp_cloud.fake import FakeGraphApi, sign, text_message
from sahaya.messaging import accounts
from sahaya.messaging import services as messaging
from sahaya.messaging.domain import Channel
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings
from sahaya.tickets import channel_events
from sahaya.tickets.attachments import AttachmentStore
from sahaya.tickets.inbound import InboundConfig
from tests.conftest import TokenFactory, bearer, rows

PROVIDERS = Path(__file__).parent.parent / "fixtures" / "providers"
NUMBER_ID, WA_TOKEN, APP_SECRET, VERIFY = "1065403522", "graph-token-1", "app-secret-1", "verify-1"
BOT_TOKEN, BOT_SECRET = "7012345678:AAE-test-token", "hook-secret_1"


@dataclass
class WhatsApp:
    account_id: uuid.UUID
    fake: FakeGraphApi
    url: str

    async def post(self, client: httpx.AsyncClient, body: bytes) -> httpx.Response:
        return await client.post(
            self.url,
            content=body,
            headers={
                "content-type": "application/json",
                "x-hub-signature-256": sign(body, APP_SECRET),
            },
        )

    async def replay(self, client: httpx.AsyncClient, name: str) -> httpx.Response:
        return await self.post(client, (PROVIDERS / "whatsapp" / name).read_bytes())

    async def text(self, client: httpx.AsyncClient, frm: str, body: str) -> httpx.Response:
        envelope = self.fake._envelope(messages=[text_message(frm, body)])
        return await self.post(client, json.dumps(envelope).encode())


@dataclass
class Telegram:
    account_id: uuid.UUID
    fake: FakeBotApi
    url: str

    async def post(
        self, client: httpx.AsyncClient, update: dict[str, Any] | bytes, secret: str = BOT_SECRET
    ) -> httpx.Response:
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        return await client.post(
            self.url,
            content=body,
            headers={"content-type": "application/json", "x-telegram-bot-api-secret-token": secret},
        )

    async def replay(self, client: httpx.AsyncClient, name: str) -> httpx.Response:
        return await self.post(client, (PROVIDERS / "telegram" / name).read_bytes())


async def add_account(
    database: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    channel: Channel,
    provider: str,
    address: str,
    api_base_url: str,
    secrets: dict[str, str],
) -> uuid.UUID:
    async with UnitOfWork(database) as uow:
        row = await accounts.create(
            uow=uow,
            tenant_id=tenant_id,
            channel=channel,
            provider=provider,
            name=f"test {channel.value}",
            address=address,
            api_base_url=api_base_url,
            secrets=secrets,
            secret_key=settings.secret_key.get_secret_value(),
        )
        await uow.commit()
    return row.id


async def deliver(
    database: Database,
    settings: Settings,
    channel: Channel,
    now: datetime,
    *,
    timeout: float = 5.0,
) -> messaging.DeliveryRun:
    """One outbox pass for `channel`, committed."""
    store = AttachmentStore(settings.var_dir / "attachments")
    async with httpx.AsyncClient(timeout=timeout) as http:
        sender = registry.sender_for(channel, database, settings, http)
        async with UnitOfWork(database) as uow:
            run = await messaging.deliver_due(uow=uow, sender=sender, now=now, read_file=store.read)
            await uow.commit()
    return run


async def retry(database: Database, settings: Settings, now: datetime) -> int:
    """One pass of the worker's retry sweep over kept-but-unprocessed events."""
    async with httpx.AsyncClient(timeout=5) as http:
        return await channel_events.retry_pending(
            database=database,
            accounts=registry.account_source(database, settings),
            fetcher_for=lambda account: registry.media_fetcher(account, http),
            config=InboundConfig.from_settings(settings),
            now=now,
        )


async def reply_with_files(
    client: httpx.AsyncClient,
    db_url: str,
    make_token: TokenFactory,
    files: Mapping[str, bytes],
    body: str = "Your papers:",
) -> str:
    """A Kochi agent's reply carrying `files` (PDFs) on the customer's one ticket, with the
    outbox emptied first so that only the reply is in it; the ticket's number."""
    [(number,)] = rows(db_url, "SELECT number FROM tickets")
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM outbox_messages")
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    attachments = [
        {"filename": name, "content_type": "application/pdf",
         "data": base64.b64encode(data).decode()}
        for name, data in files.items()
    ]  # fmt: skip
    reply = {"kind": "agent_reply", "body": body, "attachments": attachments}
    posted = await client.post(f"/api/v1/tickets/{number}/entries", json=reply, headers=agent)
    assert posted.status_code == 201, posted.text
    return str(number)
