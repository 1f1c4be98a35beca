"""What the messaging-channel tests share: reading rows back and running the outbox for one
channel the way the worker does (its sender from channels.registry, replies' files read
from the attachment store)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import psycopg

from sahaya.channels import registry
from sahaya.messaging import services as messaging
from sahaya.messaging.domain import Channel
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings
from sahaya.tickets.attachments import AttachmentStore


def rows(db_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, args).fetchall()


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
