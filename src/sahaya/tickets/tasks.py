"""Ticket jobs: the SLA sweep that fires warnings, breaches and escalations when due."""

from __future__ import annotations

from datetime import UTC, datetime

import procrastinate

from sahaya.persistence import Database, UnitOfWork
from sahaya.tickets import sla


async def sweep_clocks(context: procrastinate.JobContext, timestamp: int) -> None:
    database: Database = context.additional_context["database"]
    while True:  # in batches, each its own transaction
        async with UnitOfWork(database) as uow:
            handled = await sla.sweep(uow=uow, now=datetime.now(UTC), limit=500)
            await uow.commit()
        if handled < 500:
            return


def register(app: procrastinate.App) -> None:
    sweep = app.task(
        name="tickets.sla-sweep", pass_context=True, queueing_lock="tickets.sla-sweep"
    )(sweep_clocks)
    # Every second (croniter's sixth field): the sweep is one index probe when nothing is
    # due, and it bounds the lag between a deadline and its warning or escalation.
    app.periodic(cron="* * * * * *", periodic_id="sla-sweep")(sweep)
