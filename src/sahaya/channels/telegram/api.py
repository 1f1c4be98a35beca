"""Telegram Bot API, outbound (providers.md §3.3): `sendMessage` (with reply or inline
keyboards), `sendDocument`, and `getFile` + the file URL for inbound photos and documents.
An account's `address` is the bot's username; its secrets hold the `bot_token` and the
`webhook_secret` Telegram echoes in `X-Telegram-Bot-Api-Secret-Token`.

Telegram answers `{"ok": false, "error_code", "description"}`: 429 (with
`parameters.retry_after`) and 5xx are transient, other errors (a chat that blocked the
bot: 403; an unknown chat: 400) permanent. A registration hint or a refused link carries
the "Share my phone number" keyboard, which is how a Telegram user proves their number.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import (
    LINK_REFUSED,
    REGISTRATION_HINT,
    Capabilities,
    OutboundKind,
)
from sahaya.messaging.ports import (
    OutboundFile,
    OutboundMessage,
    Part,
    PermanentSendError,
    SendResult,
    TransientSendError,
    send_parts,
)

log = logging.getLogger(__name__)
PROVIDER = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org"
CAPABILITIES = Capabilities(media=True, templates=False, buttons=True, window=None)
MAX_TEXT = 4096
SHARE_PHONE = {
    "keyboard": [[{"text": "Share my phone number", "request_contact": True}]],
    "one_time_keyboard": True,
    "resize_keyboard": True,
}
_ASK_FOR_CONTACT = frozenset({REGISTRATION_HINT, LINK_REFUSED})


def _result(response: httpx.Response) -> Any:
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code < 400 and answer.get("ok") is True:
        return answer.get("result")
    code = answer.get("error_code") or response.status_code
    text = f"error {code}: {answer.get('description') or response.text[:300]}"
    retry_after = (answer.get("parameters") or {}).get("retry_after")
    if retry_after:
        text += f" (retry after {retry_after} s)"
    if code == 429 or code >= 500:
        raise TransientSendError(text)
    raise PermanentSendError(text)


class BotClient:
    """One bot's view of the Bot API."""

    def __init__(self, account: ChannelAccount, http: httpx.AsyncClient) -> None:
        self.http = http
        base = account.api_base_url or DEFAULT_BASE_URL
        token = account.secret("bot_token")
        self.methods = f"{base}/bot{token}"
        self.files = f"{base}/file/bot{token}"

    async def call(self, method: str, body: dict[str, Any]) -> Any:
        try:
            response = await self.http.post(f"{self.methods}/{method}", json=body)
        except httpx.TransportError as exc:
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        return _result(response)

    async def upload(
        self, method: str, fields: dict[str, str], name: str, item: OutboundFile
    ) -> Any:
        """A multipart call carrying one file (`sendDocument` with a new file)."""
        try:
            response = await self.http.post(
                f"{self.methods}/{method}",
                data=fields,
                files={name: (item.filename, item.data, item.content_type)},
            )
        except httpx.TransportError as exc:
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        return _result(response)

    async def media(self, file_id: str) -> tuple[bytes, str]:
        """An inbound file's bytes: `getFile` for its path, then the file URL."""
        info = await self.call("getFile", {"file_id": file_id})
        try:
            response = await self.http.get(f"{self.files}/{info['file_path']}")
        except httpx.TransportError as exc:
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        except (KeyError, TypeError):
            raise TransientSendError(f"getFile gave no file_path for {file_id}") from None
        if response.status_code >= 400:
            _result(response)
        mime = response.headers.get("content-type", "").split(";")[0].strip()
        return response.content, mime or "application/octet-stream"


async def answer_callback(account: ChannelAccount, http: httpx.AsyncClient, query_id: str) -> None:
    """Stop the tapped button's spinner (`answerCallbackQuery`); best effort: a failure
    only leaves the spinner for Telegram's own timeout, so it is logged, not retried."""
    try:
        await BotClient(account, http).call("answerCallbackQuery", {"callback_query_id": query_id})
    except (TransientSendError, PermanentSendError) as exc:
        log.info("answerCallbackQuery %s failed: %s", query_id, exc)


def request(message: OutboundMessage) -> tuple[str, dict[str, Any]]:
    """The Bot API method and body for an outbox message."""
    chat_id: int | str = (
        int(message.recipient) if message.recipient.lstrip("-").isdigit() else message.recipient
    )
    payload = dict(message.payload)
    if message.kind == OutboundKind.MEDIA:
        body: dict[str, Any] = {
            "chat_id": chat_id,
            "document": payload.get("link") or payload.get("id"),
        }
        if message.body:
            body["caption"] = message.body[:1024]
        return "sendDocument", body
    text = message.body if len(message.body) <= MAX_TEXT else message.body[: MAX_TEXT - 1] + "…"
    body = {"chat_id": chat_id, "text": text}
    if message.kind == OutboundKind.BUTTONS:
        buttons = [
            {"text": str(b["title"])[:64], "callback_data": str(b["id"])[:64]}
            for b in payload.get("buttons") or []
        ]
        body["reply_markup"] = {"inline_keyboard": [buttons]}
    elif message.template in _ASK_FOR_CONTACT:
        body["reply_markup"] = SHARE_PHONE
    return "sendMessage", body


async def send(
    account: ChannelAccount, message: OutboundMessage, http: httpx.AsyncClient
) -> SendResult:
    """Put one outbox message on the wire from this bot; its files follow as documents.
    The text and each file are parts of their own: a retry resumes with the part that
    failed (messaging.ports). A part's id is `<chat id>:<message id>`."""
    client = BotClient(account, http)
    method, body = request(message)

    def sent_id(result: Any) -> str:
        chat = result.get("chat", {}) if isinstance(result, dict) else {}
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return f"{chat.get('id')}:{message_id}"

    async def text() -> str:
        return sent_id(await client.call(method, body))

    def attached(item: OutboundFile) -> Part:
        async def part() -> str:
            fields = {"chat_id": str(body["chat_id"])}
            return sent_id(await client.upload("sendDocument", fields, "document", item))

        return part

    return await send_parts(message, [text, *(attached(item) for item in message.files)])
