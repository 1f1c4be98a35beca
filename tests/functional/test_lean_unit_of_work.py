"""A lean unit of work (no ORM session) writes its staged rows and NOTIFYs at commit, in one
transaction, and nothing without a commit; what needs the ORM raises `NeedsSession` before
anything is written; reference data is read with a session of its own."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.network.tables import ServiceRow
from sahaya.persistence import Database, UnitOfWork
from sahaya.persistence.uow import NeedsSession


def _service(tenant_id: uuid.UUID, code: str) -> ServiceRow:
    return ServiceRow.fresh(tenant_id=tenant_id, code=code, name=code.title(), active=False)


async def _codes(database: Database) -> list[str]:
    async with UnitOfWork(database) as uow:
        found = await uow.session.scalars(
            select(ServiceRow.code).where(ServiceRow.code.like("test%")).order_by(ServiceRow.code)
        )
        return list(found)


async def test_staged_rows_are_written_at_commit_and_dropped_without_one(
    database: Database, tenant_id: uuid.UUID
) -> None:
    async with UnitOfWork(database, lean=True) as uow:
        uow.session.add(_service(tenant_id, "testkept"))
        uow.defer("SELECT pg_notify(%s, %s)", ("sahaya_test", "kept"))
        await uow.commit()
    async with UnitOfWork(database, lean=True) as uow:
        uow.session.add(_service(tenant_id, "testdropped"))
        driver = await uow.driver()
        await driver.execute("SELECT 1")  # the transaction is open, then left uncommitted
    assert await _codes(database) == ["testkept"]


async def test_what_needs_the_orm_raises_before_anything_is_written(
    database: Database, tenant_id: uuid.UUID
) -> None:
    async with UnitOfWork(database, lean=True) as uow:
        uow.session.add(_service(tenant_id, "teststaged"))
        with pytest.raises(NeedsSession):
            await uow.session.scalars(select(ServiceRow))
        with pytest.raises(NeedsSession):
            await uow.flush()
    assert await _codes(database) == []


async def test_reference_data_is_read_with_a_session_of_its_own(
    database: Database, tenant_id: uuid.UUID
) -> None:
    async def load(session: AsyncSession) -> list[str]:
        return list(await session.scalars(select(ServiceRow.code).order_by(ServiceRow.code)))

    async with UnitOfWork(database, lean=True) as uow:
        lean = await uow.cached(("codes", tenant_id), load)
    database.reference_cache.clear()
    async with UnitOfWork(database) as uow:
        full = await uow.cached(("codes", tenant_id), load)
    assert lean == full
    assert "apnafood" in lean
