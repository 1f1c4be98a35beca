"""Pooled connections the server dropped (a restart, an admin's pg_terminate_backend): one
idle for a while is pinged at checkout and replaced, so the work succeeds; one used a moment
ago is not pinged (that was a round trip per unit of work), so the first unit of work to
meet it fails as "unreachable" and the pool is renewed for the next — full and lean alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import psycopg
import pytest
from sqlalchemy import text

from sahaya.persistence import Database, UnitOfWork
from sahaya.persistence.unreachable import UNREACHABLE


def _drop_connections(db_url: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as admin:
        row = admin.execute(
            """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()"""
        ).fetchone()
    assert row is not None
    return int(row[0])


async def _one(database: Database, *, lean: bool) -> int:
    async with UnitOfWork(database, lean=lean) as uow:
        if lean:
            cursor = await (await uow.driver()).execute("SELECT 1")
            found = await cursor.fetchone()
            assert found is not None
            return int(found[0])
        return int((await uow.session.execute(text("SELECT 1"))).scalar_one())


@pytest.fixture
async def make_database(db_url: str) -> AsyncIterator[Callable[[float], Database]]:
    made: list[Database] = []

    def make(idle_ping: float) -> Database:
        database = Database(db_url, pool_size=2, idle_ping=idle_ping)
        made.append(database)
        return database

    yield make
    for database in made:
        await database.dispose()


@pytest.mark.parametrize("lean", [False, True])
async def test_an_idle_dropped_connection_is_replaced_at_checkout(
    make_database: Callable[[float], Database], db_url: str, lean: bool
) -> None:
    database = make_database(0.0)  # every connection counts as idle
    assert await _one(database, lean=lean) == 1
    assert _drop_connections(db_url) >= 1
    assert await _one(database, lean=lean) == 1


@pytest.mark.parametrize("lean", [False, True])
async def test_a_busy_dropped_connection_fails_once_then_the_pool_is_renewed(
    make_database: Callable[[float], Database], db_url: str, lean: bool
) -> None:
    database = make_database(3600.0)  # nothing is pinged
    assert await _one(database, lean=lean) == 1
    assert _drop_connections(db_url) >= 1
    with pytest.raises(UNREACHABLE):
        await _one(database, lean=lean)
    assert await _one(database, lean=lean) == 1
