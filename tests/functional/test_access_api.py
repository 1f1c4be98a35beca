"""Staff logins (argon2 passwords), session and integration tokens, and who may grant what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from sahaya.access import Role
from sahaya.access import services as access
from sahaya.network import services as network
from sahaya.persistence import Database, UnitOfWork
from tests.conftest import TokenFactory, bearer

PASSWORD = "correct horse battery"


async def make_user(
    client: httpx.AsyncClient, token: str, username: str, role: str, node: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/users",
        json={
            "username": username,
            "display_name": username.title(),
            "role": role,
            "node": node,
            "password": PASSWORD,
        },
        headers=bearer(token),
    )


async def test_login_issues_a_session_token_scoped_to_the_user(
    client: httpx.AsyncClient, make_token: TokenFactory, db_url: str
) -> None:
    admin = await make_token("admin", "kerala")
    created = await make_user(client, admin, "kochi.agent", "agent", "kerala/ernakulam/kochi")
    assert created.status_code == 201, created.text

    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE username = 'kochi.agent'")
        row = stored.fetchone()
    assert row is not None
    assert row[0].startswith("$argon2id$")
    assert PASSWORD not in row[0]

    login = await client.post(
        "/api/v1/auth/login", json={"username": "Kochi.Agent", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    session = login.json()
    assert session["role"] == "agent"
    assert session["node"] == "kerala/ernakulam/kochi"
    assert session["expires_at"] is not None
    me = await client.get("/api/v1/me", headers=bearer(session["token"]))
    assert me.json()["name"] == "Kochi.Agent"

    out = await client.post("/api/v1/auth/logout", headers=bearer(session["token"]))
    assert out.status_code == 204
    after = await client.get("/api/v1/me", headers=bearer(session["token"]))
    assert after.status_code == 401
    assert "revoked" in after.json()["detail"]


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/api/v1/auth/login", json={"username": "ghost", "password": "x"})
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == "wrong username or password"


async def test_expired_session_is_refused(
    client: httpx.AsyncClient, database: Database, tenant_id: uuid.UUID
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=2)
    async with UnitOfWork(database) as uow:
        node = await network.node_or_raise(uow=uow, tenant_id=tenant_id, ref="kerala")
        user = await access.create_user(
            uow=uow,
            tenant_id=tenant_id,
            username="old",
            display_name="Old",
            role=Role.AGENT,
            node=node,
            password=PASSWORD,
        )
        issued = await access.issue_token(
            uow=uow,
            tenant_id=tenant_id,
            name="old session",
            role=Role.AGENT,
            node=node,
            now=long_ago,
            user=user,
            lifetime=timedelta(hours=12),
        )
        await uow.commit()
    response = await client.get("/api/v1/me", headers=bearer(issued.token))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_grants_stay_inside_rank_and_subtree(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    supervisor = await make_token("supervisor", "kerala/ernakulam")
    ok = await make_user(client, supervisor, "aluva.agent", "agent", "kerala/ernakulam/aluva")
    assert ok.status_code == 201
    higher = await make_user(client, supervisor, "boss", "admin", "kerala/ernakulam")
    assert higher.status_code == 403
    assert "cannot grant the admin role" in higher.json()["detail"]
    outside = await make_user(client, supervisor, "kollam.agent", "agent", "kerala/kollam")
    assert outside.status_code == 404
    taken = await make_user(client, supervisor, "aluva.agent", "agent", "kerala/ernakulam/aluva")
    assert taken.status_code == 409

    agent = await make_token("agent", "kerala/ernakulam/aluva")
    refused = await make_user(client, agent, "friend", "agent", "kerala/ernakulam/aluva")
    assert refused.status_code == 403

    listed = await client.get("/api/v1/users", headers=bearer(supervisor))
    assert [u["username"] for u in listed.json()] == ["aluva.agent"]


async def test_integration_tokens_through_the_api(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    supervisor = await make_token("supervisor", "kerala/ernakulam")
    created = await client.post(
        "/api/v1/tokens",
        json={"name": "crm sync", "role": "agent", "node": "kerala/ernakulam/kochi"},
        headers=bearer(supervisor),
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert token.startswith("sah_")
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.json()["node"] == "kerala/ernakulam/kochi"
    assert me.json()["role"] == "agent"


async def test_short_password_is_refused(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    admin = await make_token("admin", "kerala")
    response = await client.post(
        "/api/v1/users",
        json={
            "username": "x1",
            "display_name": "X",
            "role": "agent",
            "node": "kerala",
            "password": "short",
        },
        headers=bearer(admin),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/password"
