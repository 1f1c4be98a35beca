"""Worker tasks of its own: a heartbeat that proves the queue, the clock and the database work."""

from __future__ import annotations

from datetime import UTC, datetime

import procrastinate

from sahaya.persistence import Database, UnitOfWork
from sahaya.worker import services

blueprint = procrastinate.Blueprint()


@blueprint.task(name="beat", pass_context=True, queue="default")
async def beat(context: procrastinate.JobContext, *, source: str) -> None:
    """Record that the worker ran a job for `source` (the periodic task and tests use it)."""
    database: Database = context.additional_context["database"]
    job = context.job
    scheduled_for = job.scheduled_at if job is not None else None
    async with UnitOfWork(database) as uow:
        await services.record_beat(
            uow=uow, source=source, scheduled_for=scheduled_for, now=datetime.now(UTC)
        )
        await uow.commit()


@blueprint.periodic(cron="* * * * *", periodic_id="heartbeat")
@blueprint.task(name="periodic-heartbeat", pass_context=True, queueing_lock="periodic-heartbeat")
async def periodic_heartbeat(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every minute: a beat, so `/healthz` can tell whether a worker is alive."""
    database: Database = context.additional_context["database"]
    async with UnitOfWork(database) as uow:
        await services.record_beat(
            uow=uow,
            source="periodic",
            scheduled_for=datetime.fromtimestamp(timestamp, UTC),
            now=datetime.now(UTC),
        )
        await uow.commit()
