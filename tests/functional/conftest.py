"""Fixtures shared by the functional tests: a staffed tree above Kochi, an Exotel account, a
registered customer; a WhatsApp number and a Telegram bot served by local fakes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest

from sahaya.access import Principal, Role
from sahaya.access import services as access
from sahaya.channels.telegram import api as telegram_api
from sahaya.channels.telegram.fake import FakeBotApi
from sahaya.channels.whatsapp_cloud import api as whatsapp_api
from sahaya.channels.whatsapp_cloud.fake import FakeGraphApi
from sahaya.customers import services as customers
from sahaya.messaging.domain import Channel
from sahaya.network import services as network
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings
from sahaya.voice import services as voice
from tests.conftest import serving
from tests.functional.channel_support import (
    APP_SECRET,
    BOT_SECRET,
    BOT_TOKEN,
    NUMBER_ID,
    VERIFY,
    WA_TOKEN,
    Telegram,
    WhatsApp,
    add_account,
)
from tests.functional.voice_support import ALWAYS, CUSTOMER, KOCHI, PHONES


@pytest.fixture
async def key(database: Database, tenant_id: uuid.UUID, now: datetime) -> str:
    """An Exotel account, executives at every level above Kochi, a registered customer and a
    supervisor of Kochi's franchisee with an email address."""
    async with UnitOfWork(database) as uow:
        levels = {
            "kochi": (KOCHI, ["kochi1", "kochi2", "kochi3"]),
            "ekm": ("kerala/ernakulam", ["ekm1", "ekm2"]),
            "kerala": ("kerala", ["kerala1"]),
        }
        for name, (path, people) in levels.items():
            node = await network.node_or_raise(uow=uow, tenant_id=tenant_id, ref=path)
            franchisee = await network.create_franchisee(
                uow=uow, tenant_id=tenant_id, name=f"{name} franchisee", nodes=[node]
            )
            for rank, person in enumerate(people, start=1):
                await network.add_executive(
                    uow=uow,
                    tenant_id=tenant_id,
                    franchisee_id=franchisee.id,
                    data=network.ExecutiveInput(
                        name=person,
                        rank=rank,
                        phone_e164=PHONES[person],
                        email=None,
                        services=["apnafood"],
                        working_hours=ALWAYS,
                    ),
                    now=now,
                )
        kochi = await network.node_or_raise(uow=uow, tenant_id=tenant_id, ref=KOCHI)
        await access.create_user(
            uow=uow,
            tenant_id=tenant_id,
            username="kochi.lead",
            display_name="Kochi lead",
            role=Role.SUPERVISOR,
            node=kochi,
            password="a long password",
            email="lead@kochi.example",
        )
        _, secret = await voice.create_account(
            uow=uow, tenant_id=tenant_id, name="exotel", caller_id="04842000000"
        )
        await uow.commit()
    return secret


@pytest.fixture
async def admin(database: Database, tenant_id: uuid.UUID) -> Principal:
    async with UnitOfWork(database) as uow:
        root = await network.node_or_raise(uow=uow, tenant_id=tenant_id, ref="kerala")
    return Principal(
        tenant_id=tenant_id,
        role=Role.ADMIN,
        node_id=root.id,
        node_path="kerala",
        token_id=uuid.uuid4(),
        name="test admin",
    )


@pytest.fixture
async def customer(database: Database, admin: Principal, now: datetime) -> uuid.UUID:
    async with UnitOfWork(database) as uow:
        row, _ = await customers.register(
            uow=uow,
            actor=admin,
            name="Anjali K",
            phone=CUSTOMER,
            home_node_ref=KOCHI,
            email="anjali@example.in",
            language="ml",
            now=now,
        )
        await uow.commit()
        return row.id


@pytest.fixture
async def whatsapp(
    client: httpx.AsyncClient, database: Database, tenant_id: uuid.UUID, settings: Settings
) -> AsyncIterator[WhatsApp]:
    """A WhatsApp account whose Graph API is the local fake; its callbacks go to the app."""
    fake = FakeGraphApi(NUMBER_ID, WA_TOKEN, APP_SECRET, webhook_client=client)
    async with serving(fake.app) as base:
        secrets = {"access_token": WA_TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY}
        account_id = await add_account(
            database, settings, tenant_id, Channel.WHATSAPP, whatsapp_api.PROVIDER, NUMBER_ID,
            base, secrets,
        )  # fmt: skip
        fake.webhook_url = f"http://sahaya.test/webhooks/whatsapp/{account_id}"
        yield WhatsApp(account_id, fake, f"/webhooks/whatsapp/{account_id}")


@pytest.fixture
async def telegram(
    client: httpx.AsyncClient, database: Database, tenant_id: uuid.UUID, settings: Settings
) -> AsyncIterator[Telegram]:
    """A Telegram bot whose Bot API is the local fake; its updates go to the app."""
    fake = FakeBotApi(BOT_TOKEN, secret_token=BOT_SECRET, webhook_client=client)
    async with serving(fake.app) as base:
        secrets = {"bot_token": BOT_TOKEN, "webhook_secret": BOT_SECRET}
        account_id = await add_account(
            database, settings, tenant_id, Channel.TELEGRAM, telegram_api.PROVIDER,
            fake.bot_username, base, secrets,
        )  # fmt: skip
        fake.webhook_url = f"http://sahaya.test/webhooks/telegram/{account_id}"
        yield Telegram(account_id, fake, f"/webhooks/telegram/{account_id}")
