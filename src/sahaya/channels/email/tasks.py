"""Email jobs: poll every IMAP account every 30 seconds, and prune the mail spool."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import procrastinate

from sahaya.channels.email import imap
from sahaya.channels.email.handoff import Inbox
from sahaya.persistence import Database
from sahaya.settings import Settings, get_settings


async def poll_mailboxes(context: procrastinate.JobContext, timestamp: int) -> None:
    extra = context.additional_context
    database: Database = extra["database"]
    settings: Settings = extra.get("settings") or get_settings()
    inbox = Inbox.from_settings(database, settings)
    await imap.poll_all(
        inbox=inbox, secret_key=settings.secret_key.get_secret_value(), now=datetime.now(UTC)
    )
    await asyncio.to_thread(inbox.spool.prune)


def register(app: procrastinate.App) -> None:
    # `queueing_lock`: at most one poll waiting. No `lock`: a worker killed mid-poll would
    # hold it for good; a rare overlap of two polls is harmless (each mail is kept under its
    # Message-ID, so the second copy is a no-op).
    task = app.task(name="email.poll-imap", pass_context=True, queueing_lock="email.poll-imap")(
        poll_mailboxes
    )
    app.periodic(cron="* * * * * */30", periodic_id="email-poll-imap")(task)
