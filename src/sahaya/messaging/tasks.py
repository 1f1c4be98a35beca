"""Messaging jobs: the outbox sweep that sends due messages through the worker's sender.

The worker process builds its sender once (email over SMTP, from settings) and passes it as
`additional_context["sender"]`. With no sender configured, queued messages simply wait —
nothing is lost or failed — and the worker says so once in its log.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import procrastinate

from sahaya.messaging import services
from sahaya.messaging.ports import Sender
from sahaya.persistence import Database, UnitOfWork

log = logging.getLogger(__name__)
BATCH = 20  # rows stay locked while their sends run: small batches, each committed
_told: set[str] = set()


async def deliver(context: procrastinate.JobContext, timestamp: int) -> None:
    database: Database = context.additional_context["database"]
    sender: Sender | None = context.additional_context.get("sender")
    if sender is None:
        if "no-sender" not in _told:
            _told.add("no-sender")
            log.warning("no outbound sender configured (SAHAYA_SMTP_HOST): messages stay queued")
        return
    while True:  # in batches, each its own transaction
        async with UnitOfWork(database) as uow:
            run = await services.deliver_due(
                uow=uow, sender=sender, now=datetime.now(UTC), limit=BATCH
            )
            await uow.commit()
        if run.handled < BATCH:
            return


def register(app: procrastinate.App) -> None:
    sweep = app.task(
        name="messaging.deliver", pass_context=True, queueing_lock="messaging.deliver"
    )(deliver)
    # Every second (croniter's sixth field): one index probe when nothing is due, and an
    # acknowledgement leaves about a second after its ticket commits.
    app.periodic(cron="* * * * * *", periodic_id="messaging-deliver")(sweep)
