"""Micro-benchmark behind ADR 0005: one customer lookup through each database path.

Runs the same single-row lookup (unique (tenant, phone) index joined to its node) one at a
time through: an async SQLAlchemy ORM session (the unit of work), SQLAlchemy Core on an
async connection, SQLAlchemy Core with autocommit and no pre-ping, a psycopg
`AsyncConnectionPool`, and that pool in autocommit mode (what `Database.reading()` uses).
Prints microseconds per lookup; no HTTP, so it isolates the data-access cost.

    .venv/bin/python bench/read_paths.py [--customers 10000] [--lookups 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import psycopg
import psycopg_pool
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import create_async_engine

from _common import log, prepare_database, private_postgres, table
from sahaya.customers.repository import card_by_phone
from sahaya.customers.tables import CustomerRow
from sahaya.network.tables import NodeRow
from sahaya.persistence import Database, UnitOfWork
from sahaya.persistence.database import sqlalchemy_url

SQL = """SELECT c.*, n.path FROM customers c JOIN nodes n ON n.id = c.home_node_id
         WHERE c.tenant_id = %s AND c.phone_e164 = %s"""


def load(url: str, tenant: uuid.UUID, count: int) -> None:
    with psycopg.connect(url) as conn:
        node = conn.execute("SELECT id FROM nodes WHERE level = 'sub_district' LIMIT 1").fetchone()
        assert node is not None
        with conn.cursor().copy(
            "COPY customers (id, tenant_id, name, phone_e164, home_node_id, language, "
            "verification, blocked, source, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(count):
                copy.write_row(
                    (
                        uuid.uuid4(),
                        tenant,
                        f"c{i}",
                        f"+9198470{i:05d}",
                        node[0],
                        "en",
                        "unverified",
                        False,
                        "bench",
                        "2026-01-01",
                        "2026-01-01",
                    )
                )
        conn.execute("ANALYZE customers")


async def timed(
    name: str, lookups: int, count: int, fn: Callable[[str], Awaitable[object]]
) -> tuple[str, float]:
    for i in range(100):  # warm up caches and prepared statements
        await fn(f"+9198470{i % count:05d}")
    started = time.perf_counter()
    for i in range(lookups):
        assert await fn(f"+9198470{i % count:05d}") is not None
    return name, (time.perf_counter() - started) / lookups * 1e6


async def measure(url: str, tenant: uuid.UUID, count: int, lookups: int) -> list[tuple[str, float]]:
    results = []
    database = Database(url, pool_size=4)
    orm = select(CustomerRow, NodeRow).join(NodeRow, NodeRow.id == CustomerRow.home_node_id)

    async def via_orm(phone: str) -> object:
        async with UnitOfWork(database) as uow:
            query = orm.where(CustomerRow.tenant_id == tenant, CustomerRow.phone_e164 == phone)
            return (await uow.session.execute(query)).first()

    core = (
        select(CustomerRow.__table__, NodeRow.path)
        .join(NodeRow.__table__, NodeRow.id == CustomerRow.home_node_id)
        .where(CustomerRow.tenant_id == bindparam("t"), CustomerRow.phone_e164 == bindparam("p"))
    )
    plain = create_async_engine(sqlalchemy_url(url), pool_size=4, pool_pre_ping=True)
    autocommit = create_async_engine(
        sqlalchemy_url(url), pool_size=4, pool_pre_ping=False, isolation_level="AUTOCOMMIT"
    )

    def via_core(engine: object) -> Callable[[str], Awaitable[object]]:
        async def run(phone: str) -> object:
            async with engine.connect() as conn:  # type: ignore[attr-defined]
                return (await conn.execute(core, {"t": tenant, "p": phone})).first()

        return run

    pool = psycopg_pool.AsyncConnectionPool(url, min_size=2, max_size=4, open=False)
    await pool.open()

    async def via_pool(phone: str) -> object:
        async with pool.connection() as conn:
            return await (await conn.execute(SQL, (tenant, phone))).fetchone()

    async def via_reading(phone: str) -> object:
        async with database.reading() as conn:
            return await card_by_phone(conn, tenant, phone)

    results.append(
        await timed("async SQLAlchemy ORM session (unit of work)", lookups, count, via_orm)
    )
    results.append(
        await timed("SQLAlchemy Core, async connection, pre-ping", lookups, count, via_core(plain))
    )
    results.append(
        await timed(
            "SQLAlchemy Core, autocommit, no pre-ping", lookups, count, via_core(autocommit)
        )
    )
    results.append(
        await timed("psycopg AsyncConnectionPool (transaction)", lookups, count, via_pool)
    )
    results.append(
        await timed(
            "Database.reading(): psycopg pool, autocommit, prepared", lookups, count, via_reading
        )
    )
    await pool.close()
    await plain.dispose()
    await autocommit.dispose()
    await database.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=3_000)
    args = parser.parse_args()
    with private_postgres("sahaya-bench-read-paths-", fast_and_unsafe=True) as pg:
        tenant = prepare_database(pg.url)
        load(pg.url, tenant, args.customers)
        log(f"{args.customers:,} customers loaded; {args.lookups:,} lookups per path")
        rows = asyncio.run(measure(pg.url, tenant, args.customers, args.lookups))
    print(table(["path", "µs per lookup"], [(name, f"{us:,.0f}") for name, us in rows]))


if __name__ == "__main__":
    main()
