from __future__ import annotations

import httpx

from tests.conftest import TokenFactory, bearer


async def test_healthz_reports_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_me_shows_role_and_node(client: httpx.AsyncClient, make_token: TokenFactory) -> None:
    token = await make_token("agent", "kerala/ernakulam/kochi")
    response = await client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["node"] == "kerala/ernakulam/kochi"
