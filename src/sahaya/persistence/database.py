"""Database access for one process: a SQLAlchemy engine for the unit of work, and a plain
psycopg pool for hot read paths.

Measured on this machine (bench/README.md): one customer lookup costs ~1.4 ms of CPU through
an async ORM session, ~0.95 ms through SQLAlchemy Core, and ~0.23 ms through an autocommit
psycopg pool. The call gate answers in milliseconds, so its reads take the last path
(docs/adr/0005-hot-reads-through-psycopg.md); everything that writes keeps the unit of work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from sahaya.persistence.batching import Batcher, Fetch, K, V
from sahaya.persistence.refcache import SESSION_KEY, ReferenceCache


def sqlalchemy_url(libpq_url: str) -> str:
    """Turn a libpq URL (what procrastinate and psql take) into SQLAlchemy's psycopg URL."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if libpq_url.startswith(prefix):
            return "postgresql+psycopg://" + libpq_url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {libpq_url!r}")


def libpq_url(url: str) -> str:
    """The inverse of `sqlalchemy_url`: a URL psycopg and psql accept directly."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = libpq_url(url)
        self.pool_size = pool_size
        # No overflow: connections opened and closed under load cost more than a short wait
        # for a pooled one (the first benchmark saw 170 new connections per 1,000 requests).
        self.engine: AsyncEngine = create_async_engine(
            sqlalchemy_url(url),
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=10,
            pool_recycle=1800,
            pool_pre_ping=True,
            echo=echo,
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.reference_cache = ReferenceCache()
        self._reads: AsyncConnectionPool[AsyncConnection] | None = None
        self._writes: AsyncConnectionPool[AsyncConnection] | None = None
        self._pools_lock = asyncio.Lock()
        self._batchers: dict[str, Batcher[Any, Any]] = {}

    def batcher(self, name: str, fetch: Fetch[K, V]) -> Batcher[K, V]:
        """This process's coalescing reader called `name` (made with `fetch` the first time)."""
        found = self._batchers.get(name)
        if found is None:
            found = self._batchers[name] = Batcher(fetch)
        return found

    def session(self) -> AsyncSession:
        return self.sessions(info={SESSION_KEY: self.reference_cache})

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """An autocommit connection for single-statement reads (no BEGIN/ROLLBACK)."""
        pool = self._reads or await self._open("reads", autocommit=True)
        async with pool.connection() as connection:
            yield connection

    async def lend(self) -> AsyncConnection:
        """A connection for a lean unit of work's transaction (persistence.uow): from a
        plain psycopg pool, without SQLAlchemy's checkout, ping and greenlet hops."""
        pool = self._writes or await self._open("writes", autocommit=False)
        return await pool.getconn()

    async def give_back(self, connection: AsyncConnection) -> None:
        """Return a lent connection, idle (the pool drops a broken one)."""
        assert self._writes is not None  # noqa: S101 - lent from it
        await self._writes.putconn(connection)

    async def _open(self, name: str, *, autocommit: bool) -> AsyncConnectionPool[AsyncConnection]:
        async with self._pools_lock:
            found = self._reads if name == "reads" else self._writes
            if found is not None:
                return found
            pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(
                self.url,
                min_size=1,
                max_size=self.pool_size,
                kwargs={"autocommit": autocommit},
                open=False,
                name=name,
            )
            await pool.open()
            if name == "reads":
                self._reads = pool
            else:
                self._writes = pool
            return pool

    async def dispose(self) -> None:
        for pool in (self._reads, self._writes):
            if pool is not None:
                await pool.close()
        self._reads = self._writes = None
        await self.engine.dispose()
