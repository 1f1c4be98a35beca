"""The email channel's queries: which accounts to poll or deliver to, and which ticket an
earlier mail of the customer's went into (threading by Message-ID)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select

from sahaya.messaging.domain import Channel
from sahaya.messaging.tables import ChannelAccountRow, InboundEventRow
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
