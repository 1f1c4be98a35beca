"""Unit of work: the only place that commits (STYLE §6).

Services receive a `UnitOfWork`, do their reads and writes through repositories built on
`uow.session`, and the caller (an HTTP handler, a job, a CLI command) decides to commit.
Leaving the block without `commit()` rolls everything back.

A *lean* unit of work (`UnitOfWork(database, lean=True)`, ADR 0011) has no ORM session:
its transaction runs on a connection lent from the engine's pool and used through psycopg,
new rows are staged and written by `persistence.fast_insert.insert_new` (at the latest at
commit, in the same round trip), and reference data is read on a pool of its own. It is
for the hottest write paths, which only insert; anything that needs the ORM (a query
through a repository, changing a loaded row) raises `NeedsSession` — before anything was
written, as long as the path only stages rows — and the caller runs the work again in an
ordinary unit of work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType
from typing import Any, TypeVar

from psycopg import AsyncConnection, pq
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.persistence.database import Database, Lent
from sahaya.persistence.refcache import ReferenceCache

T = TypeVar("T")


class NeedsSession(Exception):
    """A lean unit of work met work that needs the ORM session; run it in a full one."""


class _Staging:
    """What a lean unit of work offers where the ORM session would be: `add` stages a new
    row (read back by `insert_new` as `new`); anything else raises `NeedsSession`."""

    def __init__(self) -> None:
        self.new: list[object] = []

    def add(self, row: object) -> None:
        self.new.append(row)

    def expunge(self, row: object) -> None:
        self.new.remove(row)

    def __getattr__(self, name: str) -> Any:
        raise NeedsSession(f"a lean unit of work has no ORM session (asked for {name!r})")


class UnitOfWork:
    def __init__(self, database: Database, *, lean: bool = False) -> None:
        self._database = database
        self._lean = lean
        self._session: AsyncSession | None = None
        self._staging: _Staging | None = None
        self._driver: tuple[object, AsyncConnection] | None = None
        self._lent: Lent | None = None  # a lean unit of work's connection
        self._deferred: list[tuple[str, tuple[object, ...]]] = []

    @property
    def has_driver(self) -> bool:
        """Whether this unit of work's connection has been taken (a transaction may be open)."""
        return self._driver is not None

    @property
    def session(self) -> AsyncSession:
        if self._lean and self._staging is not None:
            return self._staging  # type: ignore[return-value]  # stages rows, else NeedsSession
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside `async with`")
        return self._session

    @property
    def database(self) -> Database:
        """The database, for a statement that must commit on its own, before this unit of
        work does (voice.callbacks claims an executive before calling the provider)."""
        return self._database

    @property
    def cache(self) -> ReferenceCache:
        """Per-process cache of configuration rows (services, rules, calendars)."""
        return self._database.reference_cache

    async def cached(
        self,
        key: Hashable,
        load: Callable[[AsyncSession], Awaitable[T]],
        *,
        keep_none: bool = True,
    ) -> T:
        """Reference data from the per-process cache; on a miss `load` reads it with this
        unit of work's session — or, in a lean one, with a session of its own (reference
        data need not share the transaction)."""
        if not self._lean:
            return await self.cache.get(key, lambda: load(self.session), keep_none=keep_none)

        async def separately() -> T:
            async with self._database.reference_session() as session:
                return await load(session)

        return await self.cache.get(key, separately, keep_none=keep_none)

    async def __aenter__(self) -> UnitOfWork:
        if self._lean:
            self._staging = _Staging()
        else:
            self._session = self._database.session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lean:
            self._staging = None
            self._deferred = []
            self._driver = None
            lent, self._lent = self._lent, None
            if lent is not None:
                await _give_back(self._database, lent)
            return
        # close() rolls back anything uncommitted but, unlike rollback(), leaves loaded
        # objects readable (detached) for the caller.
        session = self.session
        self._session = None
        self._driver = None
        await session.close()

    async def driver(self) -> AsyncConnection:
        """The psycopg connection under this unit of work, inside its transaction: for the
        few hot statements whose ORM overhead measured more than their work (ADR 0005).
        Kept for as long as the same transaction is active: asking SQLAlchemy for it again
        costs a greenlet round trip each time (8 % of a webhook's CPU, measured)."""
        if self._lean:
            if self._driver is None:
                if self._staging is None:
                    raise RuntimeError("UnitOfWork used outside `async with`")
                self._lent = await self._database.lend()
                self._driver = (None, self._lent.connection)
            return self._driver[1]
        transaction = self.session.get_transaction()
        if (
            self._driver is not None
            and transaction is not None
            and transaction.is_active
            and self._driver[0] is transaction
        ):
            return self._driver[1]
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, AsyncConnection)  # noqa: S101 - the psycopg dialect
        self._driver = (self.session.get_transaction(), driver)
        return driver

    def defer(self, sql: str, params: tuple[object, ...]) -> None:
        """A statement whose only effect is at commit (a NOTIFY, marking an event done):
        sent with the next batch of inserts (persistence.fast_insert) or just before the
        commit, after every new row — not on its own round trip."""
        self._deferred.append((sql, params))

    async def run_deferred(self) -> None:
        """Send the deferred statements now, after the ORM's pending rows: at a full unit of
        work's commit, or in the retry sweep before its savepoint ends (a savepoint rolled
        back must take its deferred statements with it)."""
        if self._deferred:
            if not self._lean:
                await self.session.flush()
            driver = await self.driver()
            for sql, params in self.take_deferred():
                await driver.execute(sql, params, prepare=True)

    def take_deferred(self) -> list[tuple[str, tuple[object, ...]]]:
        taken, self._deferred = self._deferred, []
        return taken

    async def commit(self) -> None:
        if self._lean:
            from sahaya.persistence.fast_insert import insert_new  # it imports this module

            # The rows staged since the last write, the NOTIFYs and COMMIT: one round trip.
            await insert_new(self, commit=True)
            return
        await self.run_deferred()  # last: they may refer to rows the flush writes
        self._driver = None
        await self.session.commit()

    async def flush(self) -> None:
        if self._lean:
            raise NeedsSession("a lean unit of work writes its rows at commit")
        await self.session.flush()


async def _give_back(database: Database, lent: Lent) -> None:
    """Return the lean connection to its pool, rolling back what was not committed."""
    try:
        if lent.connection.info.transaction_status in _OPEN:
            await lent.connection.rollback()
    finally:
        await database.give_back(lent)


_OPEN = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)
