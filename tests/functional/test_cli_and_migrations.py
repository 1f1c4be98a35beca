"""The `sahaya` command's set-up verbs, and migrations that match the models exactly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from typer.testing import CliRunner

from sahaya.cli import app
from sahaya.persistence.database import sqlalchemy_url
from sahaya.persistence.metadata import all_metadata, include_object
from sahaya.settings import get_settings
from tests.conftest import bearer


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[CliRunner]:
    monkeypatch.setenv("SAHAYA_DATABASE_URL", db_url)
    monkeypatch.setenv("SAHAYA_DEFAULT_TENANT", "apna")
    monkeypatch.setenv("SAHAYA_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_migrations_match_the_models(db_url: str) -> None:
    engine = create_engine(sqlalchemy_url(db_url))
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": True}
        )
        diff = compare_metadata(context, all_metadata())
    engine.dispose()
    assert diff == []


def test_migrate_is_idempotent(cli_env: CliRunner) -> None:
    for _ in range(2):
        result = cli_env.invoke(app, ["migrate"])
        assert result.exit_code == 0, result.output
        assert "database is up to date" in result.output


async def test_token_create_prints_a_working_token(
    cli_env: CliRunner, client: httpx.AsyncClient
) -> None:
    # In a thread: the command runs its own event loop.
    result = await asyncio.to_thread(
        cli_env.invoke, app, ["token", "create", "--role", "supervisor", "--node", "kerala/kollam"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.json() == {
        **me.json(),
        "role": "supervisor",
        "node": "kerala/kollam",
    }


def test_token_create_refuses_bad_role_and_node(cli_env: CliRunner) -> None:
    bad_role = cli_env.invoke(app, ["token", "create", "--role", "owner"])
    assert bad_role.exit_code != 0
    assert "role must be one of admin, supervisor, agent" in bad_role.output
    bad_node = cli_env.invoke(
        app, ["token", "create", "--role", "agent", "--node", "kerala/nowhere"]
    )
    assert bad_node.exit_code != 0
    assert "no node 'kerala/nowhere'" in bad_node.output


def test_demo_seed_runs_once(cli_env: CliRunner, db_url: str) -> None:
    first = cli_env.invoke(app, ["demo", "seed", "--customers-per-taluk", "1"])
    assert first.exit_code == 0, first.output
    assert "kochi.agent" in first.output
    second = cli_env.invoke(app, ["demo", "seed"])
    assert second.exit_code == 0, second.output
    with psycopg.connect(db_url) as conn:
        counts = conn.execute(
            """SELECT (SELECT count(*) FROM franchisees), (SELECT count(*) FROM executives),
                      (SELECT count(*) FROM customers), (SELECT count(*) FROM users)"""
        ).fetchone()
    # 93 nodes, one franchisee each with two executives; 78 taluks x 1 customer + Anjali.
    assert counts == (93, 186, 79, 4)


def test_ticket_counters_become_sequences_that_continue(pg_admin_url: str) -> None:
    from psycopg import sql

    from sahaya.persistence.migrate import upgrade
    from tests.conftest import _with_db

    name = "t_migrate_counters"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_db(pg_admin_url, name)
    try:
        upgrade(url, "0011")
        with psycopg.connect(url) as conn:
            tenant = conn.execute(
                "INSERT INTO tenants (id, slug, name) VALUES (gen_random_uuid(), 'x', 'X') "
                "RETURNING id"
            ).fetchone()
            assert tenant is not None
            conn.execute(
                "INSERT INTO ticket_counters (id, tenant_id, prefix, last) "
                "VALUES (gen_random_uuid(), %s, 'AF', 41)",
                (tenant[0],),
            )
        upgrade(url)
        with psycopg.connect(url) as conn:
            value = conn.execute(f"SELECT nextval('ticket_number_{tenant[0].hex}_af')").fetchone()
        assert value == (42,)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


async def test_exotel_add_prints_a_key_the_gate_accepts(
    cli_env: CliRunner, client: httpx.AsyncClient
) -> None:
    result = await asyncio.to_thread(
        cli_env.invoke, app, ["exotel", "add", "--caller-id", "04842000000"]
    )
    assert result.exit_code == 0, result.output
    key = result.output.splitlines()[0].removeprefix("webhook key: ")
    assert f"/webhooks/exotel/gate?key={key}" in result.output
    response = await client.get(
        "/webhooks/exotel/gate", params={"key": key, "CallSid": "cli-1", "CallFrom": "9847011111"}
    )
    assert response.status_code == 302  # known key, unknown caller (a wrong key gets 403)
