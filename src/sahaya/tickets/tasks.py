"""Ticket jobs: fire one ticket's SLA clock, and the sweep that catches anything missed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import procrastinate

from sahaya.persistence import Database, UnitOfWork
from sahaya.tickets import sla


async def fire_clock(context: procrastinate.JobContext, *, ticket_id: str) -> None:
    database: Database = context.additional_context["database"]
    async with UnitOfWork(database) as uow:
        await sla.fire_ticket(uow=uow, ticket_id=uuid.UUID(ticket_id), now=datetime.now(UTC))
        await uow.commit()


async def sweep_clocks(context: procrastinate.JobContext, timestamp: int) -> None:
    database: Database = context.additional_context["database"]
    while True:  # in batches, each its own transaction
        async with UnitOfWork(database) as uow:
            handled = await sla.sweep(uow=uow, now=datetime.now(UTC), limit=500)
            await uow.commit()
        if handled < 500:
            return


def register(app: procrastinate.App) -> None:
    app.task(name="tickets.sla-fire", pass_context=True)(fire_clock)
    sweep = app.task(
        name="tickets.sla-sweep", pass_context=True, queueing_lock="tickets.sla-sweep"
    )(sweep_clocks)
    app.periodic(cron="* * * * *", periodic_id="sla-sweep")(sweep)
