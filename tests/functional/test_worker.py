"""Background work on procrastinate: a job deferred to a later time runs then (not before),
and the periodic heartbeat is wired."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from sahaya.persistence import Database, UnitOfWork
from sahaya.worker import services
from sahaya.worker.app import build_app
from sahaya.worker.tables import WorkerBeatRow


@contextlib.asynccontextmanager
async def running_worker(database: Database) -> AsyncIterator[None]:
    app = build_app(database.url)
    async with app.open_async():
        task = asyncio.create_task(
            app.run_worker_async(
                additional_context={"database": database},
                fetch_job_polling_interval=0.1,
                install_signal_handlers=False,
                wait=True,
            )
        )
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def beat(database: Database, source: str) -> WorkerBeatRow | None:
    async with UnitOfWork(database) as uow:
        return await services.last_beat(uow=uow, source=source)


async def wait_for_beat(database: Database, source: str, timeout: float) -> WorkerBeatRow:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = await beat(database, source)
        if found is not None:
            return found
        await asyncio.sleep(0.1)
    pytest.fail(f"no beat from {source!r} within {timeout}s")


async def test_deferred_job_runs_at_its_scheduled_time(database: Database) -> None:
    app = build_app(database.url)
    scheduled = datetime.now(UTC) + timedelta(seconds=2)
    async with app.open_async():
        await app.configure_task("worker.beat", schedule_at=scheduled).defer_async(source="later")

    async with running_worker(database):
        await asyncio.sleep(1.0)
        assert await beat(database, "later") is None, "ran before its time"
        done = await wait_for_beat(database, "later", timeout=10)

    assert done.scheduled_for == scheduled
    assert done.beat_at >= scheduled
    assert done.beat_at - scheduled < timedelta(seconds=3)


async def test_periodic_heartbeat_is_deferred_by_the_worker(database: Database) -> None:
    async with running_worker(database):
        periodic = await wait_for_beat(database, "periodic", timeout=10)
    assert periodic.scheduled_for is not None
    assert periodic.scheduled_for <= periodic.beat_at
