"""Database access for one process: a SQLAlchemy engine for the unit of work, and a plain
psycopg pool for hot read paths.

Measured on this machine (bench/README.md): one customer lookup costs ~1.4 ms of CPU through
an async ORM session, ~0.95 ms through SQLAlchemy Core, and ~0.23 ms through an autocommit
psycopg pool. The call gate answers in milliseconds, so its reads take the last path
(docs/adr/0005-hot-reads-through-psycopg.md); everything that writes keeps the unit of work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event
from sqlalchemy.engine.interfaces import PoolProxiedConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

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


# A pooled connection used this recently is handed out without a ping. SQLAlchemy's
# `pool_pre_ping` pings on every checkout (a round trip, and with psycopg two autocommit
# switches): ~6 % of a WhatsApp webhook's CPU (bench/README.md). A connection idle longer
# — over a database restart, say — is pinged, and replaced if dead, as before.
IDLE_PING_SECONDS = 5.0


def ping_when_idle(engine: AsyncEngine, idle: float = IDLE_PING_SECONDS) -> None:
    """SQLAlchemy's pessimistic disconnect handling, for connections idle over `idle` s."""
    sync = engine.sync_engine

    @event.listens_for(sync, "connect")
    def _fresh(dbapi_connection: Any, record: Any) -> None:
        record.info[_USED] = time.monotonic()

    @event.listens_for(sync, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_USED] = time.monotonic()

    @event.listens_for(sync, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get(_USED, 0.0) < idle:
            return
        try:
            sync.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # dead: the pool retries with a new connection
            raise DisconnectionError(str(exc)) from exc


_USED = "sahaya_last_used"


def _engine(url: str, size: int, echo: bool, idle_ping: float) -> AsyncEngine:
    # No overflow: connections opened and closed under load cost more than a short wait
    # for a pooled one (the first benchmark saw 170 new connections per 1,000 requests).
    engine = create_async_engine(
        sqlalchemy_url(url),
        pool_size=size,
        max_overflow=0,
        pool_timeout=10,
        pool_recycle=1800,
        echo=echo,
    )
    ping_when_idle(engine, idle_ping)
    return engine


@dataclass(frozen=True, slots=True)
class Lent:
    """A connection lent to a lean unit of work: the pool's handle and its psycopg side."""

    fairy: PoolProxiedConnection
    connection: AsyncConnection


class Database:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        idle_ping: float = IDLE_PING_SECONDS,
    ) -> None:
        self.url = libpq_url(url)
        self.pool_size = pool_size
        self.engine = _engine(url, pool_size, echo, idle_ping)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # Reference data a lean unit of work misses in its cache (persistence.uow) is read
        # on a pool of its own: a lean unit of work holds its connection while it waits for
        # this one, so both from one pool could wait on each other.
        self.reference_engine = _engine(url, 2, echo, idle_ping)
        self.reference_sessions = async_sessionmaker(
            self.reference_engine, expire_on_commit=False, autoflush=False
        )
        self.reference_cache = ReferenceCache()
        self._reads: AsyncConnectionPool[AsyncConnection] | None = None
        self._reads_lock = asyncio.Lock()
        self._batchers: dict[str, Batcher[Any, Any]] = {}

    def batcher(self, name: str, fetch: Fetch[K, V]) -> Batcher[K, V]:
        """This process's coalescing reader called `name` (made with `fetch` the first time)."""
        found = self._batchers.get(name)
        if found is None:
            found = self._batchers[name] = Batcher(fetch)
        return found

    def session(self) -> AsyncSession:
        return self.sessions(info={SESSION_KEY: self.reference_cache})

    def reference_session(self) -> AsyncSession:
        """A session for reading reference data outside any unit of work's transaction."""
        return self.reference_sessions()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """An autocommit connection (no BEGIN/ROLLBACK round trips): for single statements —
        reads, or a write that is a transaction of its own (tickets.fast_thread)."""
        pool = self._reads or await self._open_reads()
        async with pool.connection() as connection:
            yield connection

    async def lend(self) -> Lent:
        """A pooled connection for a lean unit of work's transaction (persistence.uow),
        straight from the engine's pool: checked as usual (a refused connection fails at
        once), without an ORM session."""
        fairy = await self.engine.raw_connection()
        driver = fairy.driver_connection
        assert isinstance(driver, AsyncConnection)  # noqa: S101 - the psycopg dialect
        return Lent(fairy, driver)

    async def give_back(self, lent: Lent) -> None:
        """Return a lent connection to the engine's pool (idle: its transaction ended). A
        connection the server dropped is discarded, and the pool with it, as SQLAlchemy does
        when its own statements find one: the others are likely gone too."""
        if lent.connection.broken or lent.connection.closed:
            lent.fairy.invalidate()
            await greenlet_spawn(lent.fairy.close)
            await self.engine.dispose()
            return
        await greenlet_spawn(lent.fairy.close)

    async def _open_reads(self) -> AsyncConnectionPool[AsyncConnection]:
        async with self._reads_lock:
            if self._reads is None:
                pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self.pool_size,
                    kwargs={"autocommit": True},
                    open=False,
                    name="reads",
                )
                await pool.open()
                self._reads = pool
            return self._reads

    async def dispose(self) -> None:
        if self._reads is not None:
            await self._reads.close()
            self._reads = None
        await self.engine.dispose()
        await self.reference_engine.dispose()
