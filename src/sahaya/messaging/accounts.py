"""Messaging provider accounts (a WhatsApp number, a Telegram bot, an SMS sender): their
credentials live in the database, sealed with the server's secret key, and are read per
webhook through the reference cache (a webhook must not pay a query to learn its secret)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import select

from sahaya.messaging.domain import Channel
from sahaya.messaging.tables import ChannelAccountRow
from sahaya.persistence import Database, UnitOfWork
from sahaya.persistence.sealed import seal, unseal


@dataclass(frozen=True, slots=True)
class ChannelAccount:
    """An account as adapters see it: plain, immutable, credentials unsealed."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    channel: Channel
    provider: str
    name: str
    address: str
    api_base_url: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)

    def secret(self, key: str) -> str:
        return self.secrets.get(key, "")


async def create(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    channel: Channel,
    provider: str,
    name: str,
    address: str,
    api_base_url: str,
    settings: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    secret_key: str,
) -> ChannelAccountRow:
    row = ChannelAccountRow(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        channel=channel.value,
        provider=provider,
        name=name.strip() or provider,
        address=address.strip(),
        api_base_url=api_base_url.rstrip("/"),
        settings=dict(settings or {}),
        secrets=seal(json.dumps(dict(secrets or {})), secret_key),
        active=True,
    )
    uow.session.add(row)
    await uow.flush()
    return row


def _plain(row: ChannelAccountRow, secret_key: str) -> ChannelAccount:
    secrets = json.loads(unseal(row.secrets, secret_key) or "{}")
    return ChannelAccount(
        id=row.id,
        tenant_id=row.tenant_id,
        channel=Channel(row.channel),
        provider=row.provider,
        name=row.name,
        address=row.address,
        api_base_url=row.api_base_url,
        settings=MappingProxyType(dict(row.settings)),
        secrets=MappingProxyType({str(k): str(v) for k, v in secrets.items()}),
    )


async def by_id(
    *, database: Database, account_id: uuid.UUID, secret_key: str
) -> ChannelAccount | None:
    """The active account with this id (cached per process; see persistence.refcache)."""

    async def load() -> ChannelAccount | None:
        async with database.session() as session:
            row = await session.scalar(
                select(ChannelAccountRow).where(
                    ChannelAccountRow.id == account_id, ChannelAccountRow.active.is_(True)
                )
            )
            return None if row is None else _plain(row, secret_key)

    return await database.reference_cache.get(
        ("channel_account", account_id), load, keep_none=False
    )


async def by_id_in(*, uow: UnitOfWork, account_id: uuid.UUID) -> ChannelAccountRow | None:
    return await uow.session.get(ChannelAccountRow, account_id)


async def list_accounts(*, uow: UnitOfWork, tenant_id: uuid.UUID) -> list[ChannelAccountRow]:
    rows = await uow.session.scalars(
        select(ChannelAccountRow)
        .where(ChannelAccountRow.tenant_id == tenant_id)
        .order_by(ChannelAccountRow.channel, ChannelAccountRow.name)
    )
    return list(rows)


async def first_account_id(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, channel: Channel
) -> uuid.UUID | None:
    """The tenant's oldest active account on a channel (the default for a new message)."""
    return await uow.session.scalar(
        select(ChannelAccountRow.id)
        .where(
            ChannelAccountRow.tenant_id == tenant_id,
            ChannelAccountRow.channel == channel.value,
            ChannelAccountRow.active.is_(True),
        )
        .order_by(ChannelAccountRow.created_at)
        .limit(1)
    )
