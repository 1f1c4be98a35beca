"""Unit of work: the only place that commits (STYLE §6).

Services receive a `UnitOfWork`, do their reads and writes through repositories built on
`uow.session`, and the caller (an HTTP handler, a job, a CLI command) decides to commit.
Leaving the block without `commit()` rolls everything back.
"""

from __future__ import annotations

from types import TracebackType

from psycopg import AsyncConnection
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.persistence.database import Database
from sahaya.persistence.refcache import ReferenceCache


class UnitOfWork:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._session: AsyncSession | None = None
        self._driver: tuple[object, AsyncConnection] | None = None
        self._deferred: list[tuple[str, tuple[object, ...]]] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside `async with`")
        return self._session

    @property
    def cache(self) -> ReferenceCache:
        """Per-process cache of configuration rows (services, rules, calendars)."""
        return self._database.reference_cache

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._database.session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
        """A statement whose only effect is at commit (a NOTIFY): sent with the next batch
        of inserts (persistence.fast_insert) or just before the commit, not on its own."""
        self._deferred.append((sql, params))

    def take_deferred(self) -> list[tuple[str, tuple[object, ...]]]:
        taken, self._deferred = self._deferred, []
        return taken

    async def commit(self) -> None:
        if self._deferred:
            driver = await self.driver()
            for sql, params in self.take_deferred():
                await driver.execute(sql, params, prepare=True)
        self._driver = None
        await self.session.commit()

    async def flush(self) -> None:
        await self.session.flush()
