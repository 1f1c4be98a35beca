"""Operations endpoints and the shape of errors every client sees."""

from __future__ import annotations

import httpx

from tests.conftest import TokenFactory, bearer


async def test_healthz_reports_database_and_worker(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "worker": {"last_beat": None},
        "backlog": {
            "inbound_events": {"pending": 0, "failing": 0, "oldest_age_seconds": None},
            "outbox": {"queued": 0, "oldest_age_seconds": None},
            "busy_rules_pending": 0,
            "counted_up_to": 10_000,
        },
    }


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("agent", "kerala/ernakulam/kochi")
    await client.get(
        "/api/v1/customers/00000000-0000-0000-0000-000000000000", headers=bearer(token)
    )
    text = (await client.get("/metrics")).text
    assert (
        'sahaya_http_requests_total{method="GET",route="/api/v1/customers/{customer_id}",'
        'status="404"}' in text
    )
    assert "sahaya_http_request_seconds_bucket" in text


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["title"] == "Not found"
    wrong = await client.delete("/api/v1/services")
    assert wrong.status_code == 405
    assert wrong.json()["status"] == 405


async def test_malformed_json_body_is_a_422_problem(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("agent", "kerala/ernakulam/kochi")
    response = await client.post(
        "/api/v1/customers",
        content=b'{"name": "broken',
        headers={**bearer(token), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "JSON" in response.json()["detail"]


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/customers/lookup" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
