"""Use cases of the worker context."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from sahaya.persistence import UnitOfWork
from sahaya.worker.tables import WorkerBeatRow


async def record_beat(
    *, uow: UnitOfWork, source: str, scheduled_for: datetime | None, now: datetime
) -> None:
    statement = insert(WorkerBeatRow).values(
        source=source, scheduled_for=scheduled_for, beat_at=now, beats=1
    )
    statement = statement.on_conflict_do_update(
        index_elements=[WorkerBeatRow.source],
        set_={
            "scheduled_for": statement.excluded.scheduled_for,
            "beat_at": statement.excluded.beat_at,
            "beats": WorkerBeatRow.beats + 1,
        },
    )
    await uow.session.execute(statement)


async def last_beat(*, uow: UnitOfWork, source: str) -> WorkerBeatRow | None:
    return await uow.session.get(WorkerBeatRow, source)


async def beats(*, uow: UnitOfWork) -> list[WorkerBeatRow]:
    return list((await uow.session.scalars(select(WorkerBeatRow))).all())
