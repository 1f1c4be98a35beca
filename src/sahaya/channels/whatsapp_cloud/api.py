"""WhatsApp Cloud API, outbound (providers.md §2.5): the Messages API for text, reply
buttons, templates and media, and the media API that inbound images and documents are
fetched through. An account's `address` is its phone_number_id; its secrets hold the
`access_token`, the `app_secret` (webhook signatures) and the `verify_token` (handshake).

Refusals are sorted for the outbox: 429, 5xx, timeouts and lost connections are transient
(retried with backoff); any other 4xx is permanent, with Meta's error code and text kept
as the message's last error.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import Capabilities, OutboundKind
from sahaya.messaging.ports import (
    OutboundFile,
    OutboundMessage,
    Part,
    PermanentSendError,
    SendResult,
    TransientSendError,
    send_parts,
)

PROVIDER = "whatsapp_cloud"
DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_VERSION = "v21.0"
CAPABILITIES = Capabilities(media=True, templates=True, buttons=True, window=timedelta(hours=24))
MAX_TEXT = 4096
MAX_MEDIA_BYTES = 16 * 1024 * 1024


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    details = (error.get("error_data") or {}).get("details")
    text = f"HTTP {response.status_code}, code {error.get('code')}: {error.get('message')}"
    return f"{text} ({details})" if details else text


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSendError(_error_text(response))
    raise PermanentSendError(_error_text(response))


class GraphClient:
    """One account's view of the Graph API."""

    def __init__(self, account: ChannelAccount, http: httpx.AsyncClient) -> None:
        self.account = account
        self.http = http
        version = str(account.settings.get("graph_version") or DEFAULT_VERSION)
        self.base = f"{account.api_base_url or DEFAULT_BASE_URL}/{version}"
        self.headers = {"Authorization": f"Bearer {account.secret('access_token')}"}

    async def send(self, body: dict[str, Any]) -> str:
        """POST one message; the wamid Meta gave it."""
        try:
            response = await self.http.post(
                f"{self.base}/{self.account.address}/messages", json=body, headers=self.headers
            )
        except httpx.TransportError as exc:  # timeouts, refused and dropped connections
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        _raise_for(response)
        try:
            return str(response.json()["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise TransientSendError(f"unexpected answer: {response.text[:300]}") from None

    async def upload(self, item: OutboundFile) -> str:
        """Upload a file to the number's media store (`POST /<PHONE_NUMBER_ID>/media`);
        its media id, to send it by."""
        try:
            response = await self.http.post(
                f"{self.base}/{self.account.address}/media",
                data={"messaging_product": "whatsapp", "type": item.content_type},
                files={"file": (item.filename, item.data, item.content_type)},
                headers=self.headers,
            )
        except httpx.TransportError as exc:
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        _raise_for(response)
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise TransientSendError(f"unexpected upload answer: {response.text[:300]}") from None

    async def media(self, media_id: str) -> tuple[bytes, str]:
        """An inbound medium's bytes and type: its metadata first (a short-lived URL), then
        the bytes from that URL with the same token."""
        try:
            meta = await self.http.get(f"{self.base}/{media_id}", headers=self.headers)
            _raise_for(meta)
            info = meta.json()
            size = int(info.get("file_size") or 0)
            if size > MAX_MEDIA_BYTES:
                raise PermanentSendError(f"media {media_id} is {size} bytes")
            data = await self.http.get(str(info["url"]), headers=self.headers)
            _raise_for(data)
        except httpx.TransportError as exc:
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        except (ValueError, KeyError, TypeError):
            raise TransientSendError(f"unexpected media answer for {media_id}") from None
        mime = info.get("mime_type") or data.headers.get("content-type", "")
        return data.content, str(mime).split(";")[0].strip() or "application/octet-stream"


def request_body(message: OutboundMessage) -> dict[str, Any]:
    """The Messages API body for an outbox message (kind and payload decide the type)."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.recipient,
    }
    payload = dict(message.payload)
    if message.kind == OutboundKind.TEMPLATE:
        language = payload.get("language") or message.language
        template: dict[str, Any] = {
            "name": payload.get("name") or message.template,
            "language": {"code": language, "policy": "deterministic"},
        }
        parameters = [{"type": "text", "text": str(p)} for p in payload.get("parameters") or []]
        components: list[dict[str, Any]] = []
        if parameters:
            components.append({"type": "body", "parameters": parameters})
        for index, button in enumerate(payload.get("buttons") or []):
            components.append(
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": str(index),
                    "parameters": [{"type": "payload", "payload": str(button["id"])}],
                }
            )
        if components:
            template["components"] = components
        return body | {"type": "template", "template": template}
    if message.kind == OutboundKind.BUTTONS:
        buttons = [
            {"type": "reply", "reply": {"id": str(b["id"])[:256], "title": str(b["title"])[:20]}}
            for b in payload.get("buttons") or []
        ][:3]
        interactive = {
            "type": "button",
            "body": {"text": message.body[:1024]},
            "action": {"buttons": buttons},
        }
        return body | {"type": "interactive", "interactive": interactive}
    if message.kind == OutboundKind.MEDIA:
        media_type = str(payload.get("type") or "document")
        media = {"link": payload["link"]} if payload.get("link") else {"id": payload.get("id")}
        if message.body:
            media["caption"] = message.body[:1024]
        if media_type == "document" and payload.get("filename"):
            media["filename"] = payload["filename"]
        return body | {"type": media_type, media_type: media}
    text = message.body if len(message.body) <= MAX_TEXT else message.body[: MAX_TEXT - 1] + "…"
    return body | {"type": "text", "text": {"preview_url": False, "body": text}}


async def send(
    account: ChannelAccount, message: OutboundMessage, http: httpx.AsyncClient
) -> SendResult:
    """Put one outbox message on the wire from this number; its files follow as documents
    (or images), each uploaded just before it is sent. The text and each file are parts
    of their own: a retry resumes with the part that failed (messaging.ports)."""
    client = GraphClient(account, http)

    async def text() -> str:
        return await client.send(request_body(message))

    def attached(item: OutboundFile) -> Part:
        async def part() -> str:
            kind = "image" if item.content_type in ("image/jpeg", "image/png") else "document"
            media: dict[str, Any] = {"id": await client.upload(item)}
            if kind == "document":
                media["filename"] = item.filename
            return await client.send(
                {
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": message.recipient,
                    "type": kind,
                    kind: media,
                }
            )

        return part

    return await send_parts(message, [text, *(attached(item) for item in message.files)])
