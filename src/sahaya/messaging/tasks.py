"""Messaging jobs: the outbox sweep that sends due messages through the worker's senders.

The worker process builds its senders once (channels.registry: WhatsApp always, email when
an SMTP host is set) and passes them as `additional_context["senders"]`. A channel with no
sender simply keeps its messages queued — nothing is lost or failed — and the worker says
so once in its log. Expired messages (sign-in codes) are failed first, on every channel,
so a code nobody could send does not stay readable in the outbox.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import procrastinate

from sahaya.messaging import services
from sahaya.messaging.domain import Channel
from sahaya.messaging.ports import FileReader, Sender
from sahaya.persistence import Database, UnitOfWork

log = logging.getLogger(__name__)
BATCH = 20  # rows stay locked while their sends run: small batches, each committed
_told: set[str] = set()


async def deliver(context: procrastinate.JobContext, timestamp: int) -> None:
    database: Database = context.additional_context["database"]
    senders: list[Sender] = context.additional_context.get("senders", [])
    if not any(s.channel == Channel.EMAIL for s in senders) and "no-email" not in _told:
        _told.add("no-email")
        log.warning("no email sender configured (SAHAYA_SMTP_HOST): email stays queued")
    read_file: FileReader | None = context.additional_context.get("read_file")
    async with UnitOfWork(database) as uow:  # also on channels this worker cannot send
        await services.expire_due(uow=uow, now=datetime.now(UTC))
        await uow.commit()
    for sender in senders:
        await _deliver_channel(database, sender, read_file)


async def _deliver_channel(database: Database, sender: Sender, read: FileReader | None) -> None:
    while True:  # in batches, each its own transaction
        async with UnitOfWork(database) as uow:
            run = await services.deliver_due(
                uow=uow, sender=sender, now=datetime.now(UTC), limit=BATCH, read_file=read
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
