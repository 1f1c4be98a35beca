"""Ticket jobs: the SLA sweep (warnings, breaches, escalations) and automatic assignment."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import procrastinate

from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import get_settings
from sahaya.tickets import channel_events, escalation, rca, routing, sla
from sahaya.tickets.inbound import InboundConfig

log = logging.getLogger(__name__)
BATCH = 500
EVENT_BATCH = 50
POSTPONE_FAILING = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC)


async def _sweep(database: Database, config: sla.SlaConfig, now: datetime, limit: int) -> int:
    async with UnitOfWork(database) as uow:
        handled = await escalation.sweep(uow=uow, now=now, limit=limit, config=config)
        await uow.commit()
        return handled


async def _sweep_one_by_one(
    database: Database, config: sla.SlaConfig, clock: Callable[[], datetime]
) -> int:
    """After a failed batch: fire clock by clock; one that fails alone is postponed (and
    logged), and the others go on firing."""
    handled = 0
    for _ in range(BATCH):
        async with UnitOfWork(database) as uow:
            fired = await escalation.fire_one_or_postpone(
                uow=uow, now=clock(), delay=POSTPONE_FAILING, config=config
            )
            await uow.commit()
        if fired is None:
            break
        handled += 1
    return handled


async def fire_due_clocks(
    database: Database, config: sla.SlaConfig, clock: Callable[[], datetime] = _now
) -> int:
    """Fire every due clock in batches, each its own transaction."""
    handled = 0
    while True:
        try:
            done = await _sweep(database, config, clock(), BATCH)
        except Exception:
            log.exception("SLA sweep batch failed; firing its clocks one by one")
            done = await _sweep_one_by_one(database, config, clock)
        handled += done
        if done < BATCH:
            return handled


async def sweep_clocks(context: procrastinate.JobContext, timestamp: int) -> None:
    database: Database = context.additional_context["database"]
    await fire_due_clocks(database, sla.SlaConfig.named(get_settings().escalation_ladder))
    async with UnitOfWork(database) as uow:
        await rca.remind(uow=uow, now=datetime.now(UTC))
        await uow.commit()


async def assign_waiting(context: procrastinate.JobContext, timestamp: int) -> None:
    database: Database = context.additional_context["database"]
    async with UnitOfWork(database) as uow:
        await routing.sweep(uow=uow, now=datetime.now(UTC))
        await uow.commit()


async def retry_channel_events(context: procrastinate.JobContext, timestamp: int) -> None:
    """Process channel events that were kept but not processed (tickets.channel_events)."""
    extra = context.additional_context
    accounts = extra.get("channel_accounts")
    fetcher_for = extra.get("media_fetcher_for")
    if accounts is None or fetcher_for is None:
        return  # a worker without channel adapters (tests of other jobs)
    settings = extra.get("settings") or get_settings()
    config = InboundConfig.from_settings(settings)
    while (
        await channel_events.retry_pending(
            database=extra["database"],
            accounts=accounts,
            fetcher_for=fetcher_for,
            config=config,
            now=_now(),
            limit=EVENT_BATCH,
        )
        >= EVENT_BATCH
    ):
        pass


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
    retry = app.task(
        name="tickets.channel-events", pass_context=True, queueing_lock="tickets.channel-events"
    )(retry_channel_events)
    app.periodic(cron="* * * * * */5", periodic_id="channel-events")(retry)
