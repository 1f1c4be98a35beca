"""Worker tasks of its own: a heartbeat that proves the queue, the clock and the database work.

Tasks are plain functions registered on an app by `register(app)`, so each app (one per
process, one per test database) gets its own task objects with the same dotted names.
"""

from __future__ import annotations

from datetime import UTC, datetime

import procrastinate

from sahaya.persistence import Database, UnitOfWork
from sahaya.worker import services


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


def register(app: procrastinate.App) -> None:
    app.task(name="worker.beat", pass_context=True)(beat)
    heartbeat = app.task(
        name="worker.periodic-heartbeat", pass_context=True, queueing_lock="worker.heartbeat"
    )(periodic_heartbeat)
    app.periodic(cron="* * * * *", periodic_id="heartbeat")(heartbeat)
