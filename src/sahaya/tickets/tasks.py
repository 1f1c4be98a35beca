"""Ticket jobs: the SLA sweep (warnings, breaches, escalations) and automatic assignment."""

from __future__ import annotations

from datetime import UTC, datetime

import procrastinate

from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import get_settings
from sahaya.tickets import rca, routing, sla


async def sweep_clocks(context: procrastinate.JobContext, timestamp: int) -> None:
    database: Database = context.additional_context["database"]
    config = sla.SlaConfig.named(get_settings().escalation_ladder)
    while True:  # in batches, each its own transaction
        async with UnitOfWork(database) as uow:
            handled = await sla.sweep(uow=uow, now=datetime.now(UTC), limit=500, config=config)
            await uow.commit()
        if handled < 500:
            break
    async with UnitOfWork(database) as uow:
        await rca.remind(uow=uow, now=datetime.now(UTC))
        await uow.commit()


async def assign_waiting(context: procrastinate.JobContext, timestamp: int) -> None:
    database: Database = context.additional_context["database"]
    async with UnitOfWork(database) as uow:
        await routing.sweep(uow=uow, now=datetime.now(UTC))
        await uow.commit()


def register(app: procrastinate.App) -> None:
    sweep = app.task(
        name="tickets.sla-sweep", pass_context=True, queueing_lock="tickets.sla-sweep"
    )(sweep_clocks)
    # Every second (croniter's sixth field): the sweep is one index probe when nothing is
    # due, and it bounds the lag between a deadline and its warning or escalation.
    app.periodic(cron="* * * * * *", periodic_id="sla-sweep")(sweep)
    assign = app.task(
        name="tickets.auto-assign", pass_context=True, queueing_lock="tickets.auto-assign"
    )(assign_waiting)
    app.periodic(cron="* * * * * */2", periodic_id="auto-assign")(assign)
