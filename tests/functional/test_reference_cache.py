"""The per-process cache of configuration rows: a process sees its own committed changes at
once, another process's within the cache's lifetime, and nothing leaks between databases."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from sahaya.network import services as network
from sahaya.network.errors import UnknownService
from sahaya.persistence import Database, ReferenceCache, UnitOfWork


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def active(database: Database, tenant_id: uuid.UUID, code: str) -> bool:
    async with UnitOfWork(database) as uow:
        try:
            await network.active_service(uow=uow, tenant_id=tenant_id, code=code)
        except UnknownService:
            return False
        return True


async def test_a_change_committed_here_is_seen_at_once(
    database: Database, tenant_id: uuid.UUID
) -> None:
    assert await active(database, tenant_id, "apnafood")  # cached now
    async with UnitOfWork(database) as uow:
        await network.set_service_active(
            uow=uow, tenant_id=tenant_id, code="apnafood", active=False
        )
        await uow.commit()
    assert not await active(database, tenant_id, "apnafood")


async def test_a_rolled_back_change_leaves_the_cache_alone(
    database: Database, tenant_id: uuid.UUID
) -> None:
    assert await active(database, tenant_id, "apnafood")
    generation = database.reference_cache.generation
    async with UnitOfWork(database) as uow:
        await network.set_service_active(
            uow=uow, tenant_id=tenant_id, code="apnafood", active=False
        )
        await uow.flush()  # written, then rolled back on leaving the block
    assert database.reference_cache.generation == generation
    assert await active(database, tenant_id, "apnafood")


async def test_another_process_change_shows_after_the_lifetime(
    database: Database, tenant_id: uuid.UUID, db_url: str
) -> None:
    clock = FakeClock()
    database.reference_cache = ReferenceCache(ttl=5.0, clock=clock)
    assert await active(database, tenant_id, "apnafood")
    with psycopg.connect(db_url, autocommit=True) as conn:  # as another process would
        conn.execute(
            "UPDATE services SET active = false WHERE tenant_id = %s AND code = 'apnafood'",
            (tenant_id,),
        )
    clock.now += 4.9
    assert await active(database, tenant_id, "apnafood")  # still within its lifetime
    clock.now += 0.2
    assert not await active(database, tenant_id, "apnafood")


async def test_each_database_has_its_own_cache(
    database: Database, tenant_id: uuid.UUID, db_url: str
) -> None:
    assert await active(database, tenant_id, "apnafood")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE services SET active = false WHERE tenant_id = %s AND code = 'apnafood'",
            (tenant_id,),
        )
    other = Database(db_url, pool_size=1)
    try:
        assert not await active(other, tenant_id, "apnafood")
    finally:
        await other.dispose()


async def test_a_load_raced_by_a_clear_is_not_kept() -> None:
    cache = ReferenceCache(ttl=60.0)
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        cache.clear()  # a commit that changed the data lands while this load runs
        return loads

    assert await cache.get("k", load) == 1
    assert await cache.get("k", load) == 2  # the first value was not cached


@pytest.mark.parametrize(("elapsed", "loads"), [(59.9, 1), (60.1, 2)])
async def test_entries_expire_after_ttl(elapsed: float, loads: int) -> None:
    clock = FakeClock()
    cache = ReferenceCache(ttl=60.0, clock=clock)
    calls = 0

    async def load() -> str:
        nonlocal calls
        calls += 1
        return "value"

    await cache.get("k", load)
    clock.now += elapsed
    assert await cache.get("k", load) == "value"
    assert calls == loads


async def test_misses_of_stranger_chosen_keys_are_not_remembered() -> None:
    cache = ReferenceCache(ttl=60.0)
    calls = 0

    async def load() -> None:
        nonlocal calls
        calls += 1

    for _ in range(3):
        assert await cache.get("guess", load, keep_none=False) is None
    assert calls == 3
    assert await cache.get("kept", load) is None
    assert await cache.get("kept", load) is None
    assert calls == 4
