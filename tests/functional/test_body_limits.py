"""A request body over its endpoint's limit is refused with a 413 problem before it is read
whole, whether its size is declared or it arrives chunked; bodies within the limit are
served as before."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sahaya.settings import Settings
from sahaya.web.webhooks import exotel, whatsapp
from tests.conftest import TENANT, TokenFactory, bearer, rows

API_LIMIT = 128 * 1024
CHUNK = 16 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        default_tenant=TENANT,
        var_dir=tmp_path,
        request_max_bytes=API_LIMIT,
        attachment_max_bytes=16 * 1024,
    )


class Chunks:
    """A chunked body (no Content-Length) that counts how much of it the server pulled."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.sent += 1
            yield b"x" * CHUNK


def _too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/content-too-large"
    assert f"{limit:,} bytes" in problem["detail"]


async def test_a_declared_body_over_a_webhooks_limit_is_refused_unread(
    client: httpx.AsyncClient,
) -> None:
    big = b"CallSid=c1&Status=completed&" + b"x" * exotel.MAX_BODY
    _too_large(await client.post("/webhooks/exotel/status?key=k", content=big), exotel.MAX_BODY)
    account = uuid.uuid4()
    meta = b"{" + b" " * whatsapp.MAX_BODY + b"}"
    _too_large(await client.post(f"/webhooks/whatsapp/{account}", content=meta), whatsapp.MAX_BODY)


async def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(
    client: httpx.AsyncClient, key: str
) -> None:
    body = Chunks(chunks=1000)  # 16 MB if it were all read
    response = await client.post(f"/webhooks/exotel/status?key={key}", content=body)
    _too_large(response, exotel.MAX_BODY)
    assert body.sent <= exotel.MAX_BODY // CHUNK + 2


async def test_the_api_refuses_a_body_over_request_max_bytes_and_keeps_nothing(
    client: httpx.AsyncClient, make_token: TokenFactory, db_url: str, customer: uuid.UUID
) -> None:
    token = await make_token("agent", "kerala/ernakulam/kochi")
    ticket = {"customer_id": str(customer), "subject": "Order late", "message": "Where is it?"}
    file = {"filename": "photo.jpg", "content_type": "image/jpeg", "data": "A" * API_LIMIT}
    declared = await client.post(
        "/api/v1/tickets", json=ticket | {"attachments": [file]}, headers=bearer(token)
    )
    _too_large(declared, API_LIMIT)
    chunked = await client.post(
        "/api/v1/tickets",
        content=Chunks(chunks=API_LIMIT // CHUNK + 1),
        headers=bearer(token) | {"content-type": "application/json"},
    )
    _too_large(chunked, API_LIMIT)
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    within = await client.post("/api/v1/tickets", json=ticket, headers=bearer(token))
    assert within.status_code == 201, within.text


async def test_limits_hold_for_an_app_served_under_a_root_path(
    db_url: str, settings: Settings
) -> None:
    """Behind a proxy at /support the webhook keeps its own limit, not the API's."""
    from sahaya.web.app import create_app

    app = create_app(db_url, settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, root_path="/support")
        async with httpx.AsyncClient(transport=transport, base_url="http://sahaya.test") as http:
            url = f"/support/webhooks/whatsapp/{uuid.uuid4()}"
            within = await http.post(url, content=b"{" + b" " * 2 * API_LIMIT + b"}")
            over = await http.post(url, content=b"{" + b" " * whatsapp.MAX_BODY + b"}")
    assert within.status_code == 404  # over the API's limit, within WhatsApp's: read
    _too_large(over, whatsapp.MAX_BODY)
    assert over.headers["connection"] == "close"


def test_the_request_limit_must_hold_one_attachment() -> None:
    """A 30 MiB attachment travels as 40 MiB of base64: more than the 32 MiB default."""
    with pytest.raises(ValueError, match="must hold one attachment"):
        Settings(attachment_max_bytes=30 * 1024 * 1024)
    Settings(attachment_max_bytes=30 * 1024 * 1024, request_max_bytes=41 * 1024 * 1024)
