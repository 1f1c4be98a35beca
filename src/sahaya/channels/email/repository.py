"""The email channel's queries: which accounts to poll or deliver to, which ticket an
earlier mail of the customer's went into, and which of their mails ours answers (threading
by Message-ID)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from sahaya.messaging.domain import Channel
from sahaya.messaging.tables import ChannelAccountRow, InboundEventRow, OutboxMessageRow
from sahaya.persistence import Database
from sahaya.tickets import TicketRow


async def active_accounts(*, database: Database, provider: str) -> list[uuid.UUID]:
    """Every active email account of this provider, oldest first."""
    async with database.session() as session:
        rows = await session.scalars(
            select(ChannelAccountRow.id)
            .where(
                ChannelAccountRow.channel == Channel.EMAIL.value,
                ChannelAccountRow.provider == provider,
                ChannelAccountRow.active.is_(True),
            )
            .order_by(ChannelAccountRow.created_at)
        )
        return list(rows)


async def account_for_address(*, database: Database, address: str) -> uuid.UUID | None:
    """The active email account receiving mail for `address` (any provider; the oldest)."""
    async with database.session() as session:
        return await session.scalar(
            select(ChannelAccountRow.id)
            .where(
                ChannelAccountRow.channel == Channel.EMAIL.value,
                func.lower(ChannelAccountRow.address) == address.strip().lower(),
                ChannelAccountRow.active.is_(True),
            )
            .order_by(ChannelAccountRow.created_at)
            .limit(1)
        )


async def ticket_answered(
    *, database: Database, account_id: uuid.UUID, message_ids: Sequence[str]
) -> str | None:
    """The number of the ticket that the latest of these Message-IDs (mails this account
    received earlier) went into; None when none of them made or joined a ticket."""
    if not message_ids:
        return None
    async with database.session() as session:
        return await session.scalar(
            select(TicketRow.number)
            .join(InboundEventRow, InboundEventRow.ticket_id == TicketRow.id)
            .where(
                InboundEventRow.account_id == account_id,
                InboundEventRow.dedupe_key.in_([f"msg:{m}" for m in message_ids]),
            )
            .order_by(InboundEventRow.received_at.desc())
            .limit(1)
        )


async def answered_mail(*, database: Database, outbox_id: uuid.UUID) -> dict[str, Any] | None:
    """The kept fields (`raw`: Message-ID, References) of the latest mail the customer wrote
    on the ticket this outbox message is about, up to when the message was written (an
    acknowledgement answers the mail that opened the ticket, even if sent after another);
    None when they never mailed it, or when the message is to no customer (staff notices)."""
    async with database.session() as session:
        found = await session.scalar(
            select(InboundEventRow.payload["raw"])
            .join(ChannelAccountRow, ChannelAccountRow.id == InboundEventRow.account_id)
            .join(
                OutboxMessageRow,
                (OutboxMessageRow.ticket_id == InboundEventRow.ticket_id)
                & (OutboxMessageRow.customer_id == InboundEventRow.customer_id),
            )
            .where(
                OutboxMessageRow.id == outbox_id,
                ChannelAccountRow.channel == Channel.EMAIL.value,
                InboundEventRow.kind == "message",
                InboundEventRow.received_at <= OutboxMessageRow.created_at,
            )
            .order_by(InboundEventRow.received_at.desc())
            .limit(1)
        )
    return found if isinstance(found, dict) else None
