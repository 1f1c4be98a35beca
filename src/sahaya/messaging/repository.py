"""All queries of the messaging context."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.messaging.domain import OutboundState
from sahaya.messaging.tables import (
    AppInboxRow,
    ChannelAccountRow,
    ConversationRow,
    InboundEventRow,
    OutboxMessageRow,
)


class MessagingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)

    async def claim_due(self, channel: str, now: datetime, limit: int) -> list[OutboxMessageRow]:
        """Queued messages of `channel` due by `now`, oldest due first, locked for this
        transaction; rows another worker holds are skipped, never waited for."""
        rows = await self.session.scalars(
            select(OutboxMessageRow)
            .where(
                OutboxMessageRow.state == OutboundState.QUEUED.value,
                OutboxMessageRow.channel == channel,
                OutboxMessageRow.next_attempt_at <= now,
            )
            .order_by(OutboxMessageRow.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def claim_expired(self, now: datetime, limit: int) -> list[OutboxMessageRow]:
        """Queued messages of any channel whose expiry has passed, locked; rows a worker
        is sending right now are skipped (the worker sees the expiry itself)."""
        rows = await self.session.scalars(
            select(OutboxMessageRow)
            .where(
                OutboxMessageRow.state == OutboundState.QUEUED.value,
                OutboxMessageRow.expires_at.is_not(None),
                OutboxMessageRow.expires_at <= now,
            )
            .order_by(OutboxMessageRow.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def last_inbound_at(self, account_id: uuid.UUID, address: str) -> datetime | None:
        """When the customer at `address` last wrote to this account (the reply window)."""
        return await self.session.scalar(
            select(ConversationRow.last_inbound_at).where(
                ConversationRow.account_id == account_id, ConversationRow.address == address
            )
        )

    async def inbound_of(
        self, customer_id: uuid.UUID, limit: int
    ) -> list[tuple[InboundEventRow, str]]:
        """The customer's inbound messages, newest first, with their channel."""
        rows = await self.session.execute(
            select(InboundEventRow, ChannelAccountRow.channel)
            .join(ChannelAccountRow, ChannelAccountRow.id == InboundEventRow.account_id)
            .where(InboundEventRow.customer_id == customer_id, InboundEventRow.kind == "message")
            .order_by(InboundEventRow.received_at.desc())
            .limit(limit)
        )
        return [(row[0], row[1]) for row in rows]

    async def outbound_of(self, customer_id: uuid.UUID, limit: int) -> list[OutboxMessageRow]:
        rows = await self.session.scalars(
            select(OutboxMessageRow)
            .where(OutboxMessageRow.customer_id == customer_id)
            .order_by(OutboxMessageRow.created_at.desc())
            .limit(limit)
        )
        return list(rows)

    async def for_ticket(self, ticket_id: uuid.UUID) -> list[OutboxMessageRow]:
        rows = await self.session.scalars(
            select(OutboxMessageRow)
            .where(OutboxMessageRow.ticket_id == ticket_id)
            .order_by(OutboxMessageRow.created_at, OutboxMessageRow.channel)
        )
        return list(rows)

    async def mark_delivered(
        self, tenant_id: uuid.UUID, provider_message_id: str, now: datetime
    ) -> bool:
        """Guarded: only a sent message becomes delivered, once."""
        done = await self.session.scalar(
            update(OutboxMessageRow)
            .where(
                OutboxMessageRow.tenant_id == tenant_id,
                OutboxMessageRow.provider_message_id == provider_message_id,
                OutboxMessageRow.state == OutboundState.SENT.value,
            )
            .values(state=OutboundState.DELIVERED.value, delivered_at=now)
            .returning(OutboxMessageRow.id)
        )
        return done is not None

    async def inbox(
        self, tenant_id: uuid.UUID, customer_id: uuid.UUID, limit: int
    ) -> list[AppInboxRow]:
        rows = await self.session.scalars(
            select(AppInboxRow)
            .where(AppInboxRow.tenant_id == tenant_id, AppInboxRow.customer_id == customer_id)
            .order_by(AppInboxRow.created_at.desc(), AppInboxRow.id)
            .limit(limit)
        )
        return list(rows)

    async def inbox_item(
        self, tenant_id: uuid.UUID, customer_id: uuid.UUID, item_id: uuid.UUID
    ) -> AppInboxRow | None:
        return await self.session.scalar(
            select(AppInboxRow).where(
                AppInboxRow.tenant_id == tenant_id,
                AppInboxRow.customer_id == customer_id,
                AppInboxRow.id == item_id,
            )
        )
