"""The local Bot API fake answers as Telegram documents (providers.md §3)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sahaya.channels.telegram.fake import (
    FakeBotApi,
    callback_update,
    contact_update,
    start_update,
    text_update,
)

TOKEN = "7012345678:AAHk3xQeV9rT2mWc8LpZ0bYdN5sFgJ4uKoA"
API = f"/bot{TOKEN}"
CHAT = 55512345
FIXTURES = Path(__file__).parents[1] / "fixtures" / "providers" / "telegram"


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


@pytest.fixture
def fake() -> FakeBotApi:
    return FakeBotApi(TOKEN)


@pytest.fixture
async def bot_api(fake: FakeBotApi) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://telegram.test") as client:
        yield client


async def test_send_message_is_recorded_and_answered_with_a_message(
    fake: FakeBotApi, bot_api: httpx.AsyncClient
) -> None:
    keyboard = {
        "inline_keyboard": [
            [
                {"text": "Confirm", "callback_data": "cancel:4512:yes"},
                {"text": "Keep", "callback_data": "cancel:4512:no"},
            ]
        ]
    }
    request = {"chat_id": CHAT, "text": "Cancel order 4512?", "reply_markup": keyboard}
    first = await bot_api.post(f"{API}/sendMessage", json=request)
    second = await bot_api.post(f"{API}/sendMessage", json={"chat_id": CHAT, "text": "OK"})
    assert first.status_code == 200
    body = first.json()
    assert body["ok"] is True
    message = body["result"]
    assert message["from"] == {
        "id": 7012345678,
        "is_bot": True,
        "first_name": "Apnafood Help",
        "username": "apnafood_help_bot",
    }
    assert message["chat"] == {"id": CHAT, "type": "private"}
    assert message["text"] == "Cancel order 4512?"
    assert isinstance(message["date"], int)
    assert second.json()["result"]["message_id"] == message["message_id"] + 1
    assert [(s.method, s.params, s.message_id) for s in fake.sent] == [
        ("sendMessage", request, message["message_id"]),
        ("sendMessage", {"chat_id": CHAT, "text": "OK"}, message["message_id"] + 1),
    ]


async def test_a_form_body_with_a_json_keyboard_is_accepted(
    fake: FakeBotApi, bot_api: httpx.AsyncClient
) -> None:
    keyboard = {"keyboard": [[{"text": "Share my phone number", "request_contact": True}]]}
    form = {"chat_id": str(CHAT), "text": "Share?", "reply_markup": json.dumps(keyboard)}
    answer = await bot_api.post(f"{API}/sendMessage", data=form)
    assert answer.status_code == 200
    assert fake.sent[0].params == {"chat_id": CHAT, "text": "Share?", "reply_markup": keyboard}


async def test_a_wrong_token_gets_401_and_an_unknown_method_404(
    fake: FakeBotApi, bot_api: httpx.AsyncClient
) -> None:
    wrong = await bot_api.post("/bot1:nope/sendMessage", json={"chat_id": CHAT, "text": "hi"})
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    unknown = await bot_api.post(f"{API}/sendCarrierPigeon", json={"chat_id": CHAT})
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert fake.sent == []


async def test_empty_text_and_long_callback_data_get_400(
    fake: FakeBotApi, bot_api: httpx.AsyncClient
) -> None:
    empty = await bot_api.post(f"{API}/sendMessage", json={"chat_id": CHAT, "text": ""})
    assert empty.status_code == 400
    assert empty.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message text is empty",
    }
    button = {"text": "Confirm", "callback_data": "x" * 65}
    request = {"chat_id": CHAT, "text": "?", "reply_markup": {"inline_keyboard": [[button]]}}
    long = await bot_api.post(f"{API}/sendMessage", json=request)
    assert long.status_code == 400
    assert long.json()["description"] == "Bad Request: BUTTON_DATA_INVALID"
    assert fake.sent == []


async def test_an_injected_429_carries_retry_after_and_fails_once(
    fake: FakeBotApi, bot_api: httpx.AsyncClient
) -> None:
    fake.fail_next = [429]
    request = {"chat_id": CHAT, "text": "Your order 4512 is out for delivery."}
    first = await bot_api.post(f"{API}/sendMessage", json=request)
    assert first.status_code == 429
    assert first.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    second = await bot_api.post(f"{API}/sendMessage", json=request)
    assert second.status_code == 200
    assert len(fake.sent) == 1


async def test_a_chat_that_blocked_the_bot_gets_403(
    fake: FakeBotApi, bot_api: httpx.AsyncClient
) -> None:
    fake.blocked_chats.add(CHAT)
    answer = await bot_api.post(f"{API}/sendMessage", json={"chat_id": CHAT, "text": "hi"})
    assert answer.status_code == 403
    assert answer.json() == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    assert fake.sent == []


async def test_add_file_then_get_file_then_download(
    fake: FakeBotApi, bot_api: httpx.AsyncClient
) -> None:
    data = b"%PDF-1.4 invoice 4512"
    file_id = fake.add_file(data, "application/pdf", "invoice.pdf")
    assert file_id.startswith("BQACAgUAAxkBAAI")
    info = await bot_api.post(f"{API}/getFile", json={"file_id": file_id})
    assert info.status_code == 200
    result = info.json()["result"]
    assert (result["file_id"], result["file_size"]) == (file_id, len(data))
    assert result["file_path"].startswith("documents/")
    assert result["file_path"].endswith(".pdf")
    assert result["file_unique_id"]
    file = await bot_api.get(f"/file/bot{TOKEN}/{result['file_path']}")
    assert (file.status_code, file.content) == (200, data)
    assert file.headers["content-type"].startswith("application/pdf")
    assert (await bot_api.get(f"/file/bot{TOKEN}/documents/file_999.pdf")).status_code == 404
    assert (await bot_api.get(f"/file/bot1:nope/{result['file_path']}")).status_code == 401
    unknown = await bot_api.post(f"{API}/getFile", json={"file_id": "BQACAgUAAxkBAAInope"})
    assert unknown.status_code == 400
    assert unknown.json()["description"] == "Bad Request: invalid file_id"


async def test_send_document_multipart_records_the_uploaded_bytes(
    fake: FakeBotApi, bot_api: httpx.AsyncClient
) -> None:
    data = b"%PDF-1.4\r\n\x00\xff binary\r\n--not-a-boundary\r\n"
    answer = await bot_api.post(
        f"{API}/sendDocument",
        data={"chat_id": str(CHAT), "caption": "ഇൻവോയ്സ് 4512"},
        files={"document": ("invoice-4512.pdf", data, "application/pdf")},
    )
    assert answer.status_code == 200
    message = answer.json()["result"]
    document = message["document"]
    assert (document["file_name"], document["mime_type"], document["file_size"]) == (
        "invoice-4512.pdf",
        "application/pdf",
        len(data),
    )
    assert message["caption"] == "ഇൻവോയ്സ് 4512"
    [call] = fake.sent
    assert (call.method, call.message_id, call.files) == (
        "sendDocument",
        message["message_id"],
        {"document": data},
    )
    assert call.params == {"chat_id": CHAT, "caption": "ഇൻവോയ്സ് 4512"}
    assert fake.files[document["file_id"]].data == data  # our own upload can be fetched back


async def test_post_update_sends_the_secret_header(fake: FakeBotApi) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def webhook(request: Request) -> JSONResponse:
        secret = request.headers.get("x-telegram-bot-api-secret-token")
        received.append((secret, json.loads(await request.body())))
        return JSONResponse({}, 200 if secret == "s3cret_Token-1" else 403)

    target = Starlette(routes=[Route("/webhooks/telegram", webhook, methods=["POST"])])
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=target), base_url="http://sahaya.test"
        ) as hooks,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fake.app), base_url="http://telegram.test"
        ) as bot_api,
    ):
        fake.webhook_client = hooks
        hook = {
            "url": "http://sahaya.test/webhooks/telegram",
            "secret_token": "s3cret_Token-1",
            "allowed_updates": ["message", "callback_query"],
        }
        answer = await bot_api.post(f"{API}/setWebhook", json=hook)
        assert answer.json() == {"ok": True, "result": True, "description": "Webhook was set"}
        update = text_update(812345678, CHAT, "where is my order")
        assert (await fake.post_update(update)).status_code == 200
        fake.secret_token = "wrong"
        assert (await fake.post_update(update)).status_code == 403

    assert received == [("s3cret_Token-1", update), ("wrong", update)]
    assert [(p.body, p.status) for p in fake.posted] == [(update, 200), (update, 403)]
    assert fake.allowed_updates == ["message", "callback_query"]


def test_builders_reproduce_the_fixtures() -> None:
    date = 1741614131
    assert text_update(812345678, CHAT, "where is my order", message_id=42, date=date) == (
        fixture("text.json")
    )
    assert start_update(
        812345679, CHAT, "tok_8f3k2LmQ9xZ", message_id=43, date=date + 5
    ) == fixture("start-deep-link.json")
    assert contact_update(
        812345681, CHAT, "919847012345", contact_user_id=CHAT, message_id=46, date=date + 31
    ) == fixture("contact-own.json")
    assert callback_update(
        812345686, CHAT, "cancel:4512:yes", message_id=57, date=date + 300
    ) == fixture("callback-query.json")
