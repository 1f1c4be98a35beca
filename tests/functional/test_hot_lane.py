"""The hot lane (ADR 0010) answers exactly as FastAPI's router would: same status, headers
that matter and body, for good requests and for every kind of error; the hot endpoints
stay in the OpenAPI document; metrics still label them by route template."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from sahaya.settings import Settings
from sahaya.web.app import create_app
from sahaya.web.hotlane import HotLane
from tests.conftest import TokenFactory, bearer
from tests.functional.voice_support import CUSTOMER

KOCHI = "kerala/ernakulam/kochi"


@pytest.fixture
async def router_only(db_url: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The same app with the lane taken out: every request goes through FastAPI's router."""
    app = create_app(db_url, settings)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not HotLane]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sahaya.test") as http:
            yield http


def _same(lane: httpx.Response, router: httpx.Response) -> None:
    assert lane.status_code == router.status_code, (lane.text, router.text)
    assert lane.headers.get("content-type") == router.headers.get("content-type")
    assert lane.headers.get("www-authenticate") == router.headers.get("www-authenticate")
    assert lane.headers.get("location") == router.headers.get("location")
    if "json" in (lane.headers.get("content-type") or ""):
        assert lane.json() == router.json()
    else:
        assert lane.content == router.content


async def test_lookup_answers_alike_on_the_lane_and_through_the_router(
    client: httpx.AsyncClient, router_only: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("agent", KOCHI)
    created = await client.post(
        "/api/v1/customers",
        json={"name": "Anjali K", "phone": "09847012345", "home_node": KOCHI},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    outsider = await make_token("agent", "kerala/thiruvananthapuram/varkala")
    cases: list[tuple[dict[str, str], dict[str, str]]] = [
        ({"phone": "+91 98470 12345"}, bearer(token)),  # found
        ({"phone": "9847099999"}, bearer(token)),  # nobody has it: 404
        ({"phone": "9847012345"}, bearer(outsider)),  # not in the caller's subtree: 404
        ({"phone": "12345"}, bearer(token)),  # not a phone number: 422
        ({}, bearer(token)),  # no phone: 422
        ({"phone": "9" * 41}, bearer(token)),  # too long: 422
        ({"phone": "9847012345"}, {}),  # no token: 401
        ({"phone": "9847012345"}, bearer("not-a-token")),  # unknown token: 401
        ({}, {}),  # neither: 401 before any validation
    ]
    for params, headers in cases:
        lane = await client.get("/api/v1/customers/lookup", params=params, headers=headers)
        router = await router_only.get("/api/v1/customers/lookup", params=params, headers=headers)
        _same(lane, router)
    found = await client.get(
        "/api/v1/customers/lookup", params={"phone": "09847012345"}, headers=bearer(token)
    )
    assert found.json()["id"] == created.json()["id"]
    stranger = await client.get("/api/v1/customers/lookup")
    assert stranger.status_code == 401
    missing = await client.get("/api/v1/customers/lookup", headers=bearer(token))
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["errors"][0]["pointer"] == "query:phone"


async def test_provider_webhooks_answer_alike_on_the_lane_and_through_the_router(
    client: httpx.AsyncClient,
    router_only: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
) -> None:
    nobody = uuid.uuid4()
    caller = {"key": key, "CallFrom": CUSTOMER, "CallTo": "04842000000"}
    stranger = {**caller, "CallFrom": "09847999999"}
    requests: list[tuple[str, str, dict[str, object]]] = [
        ("GET", "/webhooks/exotel/gate", {"params": {**caller, "CallSid": "g1"}}),  # 200
        ("GET", "/webhooks/exotel/gate", {"params": {**stranger, "CallSid": "g2"}}),  # 302
        ("GET", "/webhooks/exotel/gate", {"params": {"key": key, "CallFrom": CUSTOMER}}),  # 400
        ("GET", "/webhooks/exotel/gate", {"params": {"key": "wrong", "CallSid": "x"}}),  # 403
        ("GET", "/webhooks/exotel/dial", {"params": {"CallSid": "x"}}),
        ("POST", "/webhooks/exotel/status", {"content": b"{not json"}),
        ("POST", f"/webhooks/whatsapp/{nobody}", {"content": b"{}"}),
        ("POST", "/webhooks/whatsapp/not-a-uuid", {"content": b"{}"}),
        ("POST", f"/webhooks/telegram/{nobody}", {"content": b"{}"}),
        ("POST", f"/webhooks/sms/{nobody}/inbound", {"data": {"sender": "919847012345"}}),
        ("POST", "/api/tickets.xml", {"content": b"<ticket/>", "headers": {"X-API-Key": "no"}}),
        ("POST", "/api/tickets.json", {"content": b"{oops", "headers": {"X-API-Key": "no"}}),
        ("POST", "/api/tickets.json", {"json": {"name": "A"}, "headers": {"X-API-Key": "no"}}),
        ("GET", "/livez", {}),
    ]
    for method, path, options in requests:
        lane = await client.request(method, path, **options)  # type: ignore[arg-type]
        router = await router_only.request(method, path, **options)  # type: ignore[arg-type]
        _same(lane, router)
        assert lane.status_code < 500, (path, lane.text)


async def test_hot_endpoints_stay_documented_and_measured(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    lookup = spec["paths"]["/api/v1/customers/lookup"]["get"]
    assert [p["name"] for p in lookup["parameters"]] == ["phone"]
    assert lookup["parameters"][0]["required"] is True
    schema = lookup["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/CustomerOut")
    assert "/webhooks/whatsapp/{account_id}" in spec["paths"]
    assert "/api/tickets.{fmt}" in spec["paths"]

    await client.post(f"/webhooks/whatsapp/{uuid.uuid4()}", content=b"{}")
    assert (await client.get("/livez")).json() == {"status": "ok"}
    metrics = (await client.get("/metrics")).text
    assert 'route="/webhooks/whatsapp/{account_id}"' in metrics
    assert 'route="/livez"' in metrics
