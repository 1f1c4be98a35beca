"""The local Graph API fake answers as Meta documents (providers.md §2)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sahaya.channels.whatsapp_cloud.fake import FakeGraphApi, sign, text_message

PNID, TOKEN, SECRET = "1065403522", "graph-token-1", "app-secret-1"
URL = f"/v21.0/{PNID}/messages"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def text(body: str = "Your order 4512 is out for delivery.") -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": "919847012345",
        "type": "text",
        "text": {"body": body},
    }


@pytest.fixture
def fake() -> FakeGraphApi:
    return FakeGraphApi(PNID, TOKEN, SECRET)


@pytest.fixture
async def graph(fake: FakeGraphApi) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://graph.test") as client:
        yield client


async def test_a_valid_text_is_recorded_and_answered_with_a_wamid(
    fake: FakeGraphApi, graph: httpx.AsyncClient
) -> None:
    answer = await graph.post(URL, json=text(), headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    wamid = body["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    assert body["contacts"] == [{"input": "919847012345", "wa_id": "919847012345"}]
    assert [(s.phone_number_id, s.body, s.wamid) for s in fake.sent] == [(PNID, text(), wamid)]


async def test_a_wrong_token_gets_401_code_190(
    fake: FakeGraphApi, graph: httpx.AsyncClient
) -> None:
    answer = await graph.post(URL, json=text(), headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == 190
    assert answer.json()["error"]["type"] == "OAuthException"
    assert fake.sent == []


async def test_four_buttons_get_400_code_100(fake: FakeGraphApi, graph: httpx.AsyncClient) -> None:
    buttons = [
        {"type": "reply", "reply": {"id": f"b{i}", "title": f"Option {i}"}} for i in range(4)
    ]
    request = {
        "messaging_product": "whatsapp",
        "to": "919847012345",
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Pick one"},
            "action": {"buttons": buttons},
        },
    }
    answer = await graph.post(URL, json=request, headers=AUTH)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 100
    assert "buttons" in error["error_data"]["details"]
    assert fake.sent == []


async def test_an_injected_429_fails_once(fake: FakeGraphApi, graph: httpx.AsyncClient) -> None:
    fake.fail_next = [429]
    first = await graph.post(URL, json=text(), headers=AUTH)
    assert first.status_code == 429
    assert first.json()["error"]["code"] == 130429
    second = await graph.post(URL, json=text(), headers=AUTH)
    assert second.status_code == 200
    assert len(fake.sent) == 1


async def test_media_metadata_then_download(fake: FakeGraphApi, graph: httpx.AsyncClient) -> None:
    data = b"%PDF-1.4 invoice 4512"
    media_id = fake.add_media(data, "application/pdf")
    info = await graph.get(f"/v21.0/{media_id}", headers=AUTH)
    assert info.status_code == 200
    meta = info.json()
    assert (meta["id"], meta["mime_type"], meta["file_size"]) == (
        media_id,
        "application/pdf",
        len(data),
    )
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["url"].startswith(f"http://graph.test/whatsapp-media/{media_id}?")
    assert (await graph.get(meta["url"])).status_code == 401
    file = await graph.get(meta["url"], headers=AUTH)
    assert (file.status_code, file.content) == (200, data)
    assert file.headers["content-type"].startswith("application/pdf")
    assert (await graph.get("/whatsapp-media/404", headers=AUTH)).status_code == 404


async def test_statuses_and_inbound_are_signed_over_the_raw_bytes(fake: FakeGraphApi) -> None:
    received: list[tuple[bytes, str]] = []

    async def webhook(scope: Any, receive: Any, send: Any) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        received.append((b"".join(chunks), headers[b"x-hub-signature-256"].decode()))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=webhook), base_url="http://sahaya.test"
        ) as hooks,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fake.app), base_url="http://graph.test"
        ) as graph,
    ):
        fake.webhook_url, fake.webhook_client = "http://sahaya.test/webhooks/whatsapp", hooks
        sent = (await graph.post(URL, json=text(), headers=AUTH)).json()["messages"][0]["id"]
        await fake.flush()
        await fake.send_inbound(text_message("919847012345", "ഓർഡർ 4512"), contact_name="Anjali")

    for raw, signature in received:
        expected = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert signature == sign(raw, SECRET) == f"sha256={expected}"
        assert raw.isascii()  # unicode escaped, as Meta sends it
    bodies = [json.loads(raw)["entry"][0]["changes"][0]["value"] for raw, _ in received]
    assert [(b["statuses"][0]["id"], b["statuses"][0]["status"]) for b in bodies[:2]] == [
        (sent, "sent"),
        (sent, "delivered"),
    ]
    assert bodies[2]["messages"][0]["text"]["body"] == "ഓർഡർ 4512"
    assert bodies[2]["contacts"] == [{"profile": {"name": "Anjali"}, "wa_id": "919847012345"}]
    assert [p.status for p in fake.posted] == [200, 200, 200]
