"""Telegram Bot API webhooks (providers.md §3): the secret-token header and the `Update`
object parsed into messaging's normalised `InboundMessage`.

Quirks absorbed here:
* authenticity is only the `X-Telegram-Bot-Api-Secret-Token` header we chose at
  `setWebhook` (compared in constant time);
* a repeat is recognised by `update_id`, which is unique per bot;
* the reply address is the chat id; a phone is never known unless the user shares their
  contact, and a shared contact is trusted only when `contact.user_id == from.id` (anyone
  can forward someone else's card); its `phone_number` comes with or without `+`;
* `/start <token>` carries a deep-link token (≤ 64 of `A-Za-z0-9_-`);
* inline-button taps arrive as `callback_query` with `data`;
* edited messages, stickers, group chats, channel posts and the like are known but not
  supported: they become `UNSUPPORTED` (acknowledged and logged).
Nothing here raises on odd input except `WireError`, which the webhook turns into a 400.
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sahaya.channels import jsonbody
from sahaya.messaging.domain import InboundKind, InboundMedia, InboundMessage

_ID_LIMIT = 2**63

_START = re.compile(r"^/start(?:@\w+)?(?:\s+(\S+))?\s*$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class WireError(ValueError):
    """The request is not something Telegram sends; the message says what is wrong."""


def secret_valid(header: str | None, secret: str) -> bool:
    if not header or not secret:
        return False
    return hmac.compare_digest(header.encode(), secret.encode())


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"{where}: expected an object")
    return value


def _maybe(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any, where: str) -> int:
    """An integer as Telegram sends ids: within 64 bits ("at most 52 significant bits")."""
    if isinstance(value, bool) or not isinstance(value, int) or not -_ID_LIMIT < value < _ID_LIMIT:
        raise WireError(f"{where}: expected a 64-bit integer")
    return value


def _name(sender: Mapping[str, Any]) -> str | None:
    parts = [sender.get("first_name"), sender.get("last_name")]
    name = " ".join(str(p) for p in parts if isinstance(p, str) and p.strip())
    return name or None


def _when(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise WireError("date: expected unix seconds") from None


def parse(raw: bytes) -> InboundMessage:
    """The one message an update carries (kind UNSUPPORTED for what we do not handle)."""
    try:
        update = jsonbody.loads(raw)
    except jsonbody.BodyError as exc:
        raise WireError(str(exc)) from None
    update = _object(update, "update")
    update_id = _int(update.get("update_id"), "update_id")
    if isinstance(update.get("message"), dict):
        return _message(update_id, update["message"], dict(update))
    if isinstance(update.get("callback_query"), dict):
        return _callback(update_id, update["callback_query"], dict(update))
    kinds = [k for k in update if k != "update_id"]
    chat_id = _any_chat(update)
    return InboundMessage(
        provider_message_id=str(update_id),
        address=chat_id,
        kind=InboundKind.UNSUPPORTED,
        text=",".join(kinds) or "empty update",
        sent_at=datetime.now(UTC),
        raw=dict(update),
    )


def _any_chat(update: Mapping[str, Any]) -> str:
    for value in update.values():
        if isinstance(value, dict):
            chat = value.get("chat")
            if isinstance(chat, dict) and "id" in chat:
                return str(_int(chat["id"], "chat.id"))
            sender = value.get("from")
            if isinstance(sender, dict) and "id" in sender:
                return str(_int(sender["id"], "from.id"))
    return "unknown"


def _message(update_id: int, message: Mapping[str, Any], raw: dict[str, Any]) -> InboundMessage:
    chat = _object(message.get("chat"), "message.chat")
    chat_id = _int(chat.get("id"), "message.chat.id")
    sender = _maybe(message.get("from"))
    common: dict[str, Any] = {
        "provider_message_id": str(update_id),
        "address": str(chat_id),
        "name": _name(sender) or _name(chat),
        "sent_at": _when(message.get("date")),
        "raw": raw,
    }
    if chat.get("type") != "private":  # groups and channels are not support conversations
        return InboundMessage(
            kind=InboundKind.UNSUPPORTED, text=f"{chat.get('type')} chat", **common
        )
    text = message.get("text")
    if isinstance(text, str):
        start = _START.match(text.strip())
        if start is not None:
            token = start.group(1)
            valid = token if token is not None and _TOKEN.match(token) else None
            return InboundMessage(kind=InboundKind.START, text=text, link_token=valid, **common)
        return InboundMessage(kind=InboundKind.TEXT, text=text, **common)
    caption = str(message.get("caption") or "")
    contact = message.get("contact")
    if isinstance(contact, dict):
        phone = str(contact.get("phone_number") or "").strip()
        own = contact.get("user_id") is not None and contact.get("user_id") == sender.get("id")
        label = " ".join(x for x in (_name(contact) or "", phone) if x)
        return InboundMessage(
            kind=InboundKind.CONTACT,
            text=label,
            shared_phone=("+" + phone.lstrip("+")) if own and phone else None,
            **common,
        )
    document = message.get("document")
    if isinstance(document, dict):
        media = InboundMedia(
            provider_id=str(document.get("file_id") or ""),
            mime_type=str(document.get("mime_type") or "application/octet-stream"),
            filename=str(document.get("file_name") or f"document-{update_id}"),
        )
        return InboundMessage(kind=InboundKind.MEDIA, text=caption, media=(media,), **common)
    photos = message.get("photo")
    if isinstance(photos, list) and photos and isinstance(photos[-1], dict):
        largest = photos[-1]  # sizes come smallest first
        media = InboundMedia(
            provider_id=str(largest.get("file_id") or ""),
            mime_type="image/jpeg",
            filename=f"photo-{update_id}.jpg",
        )
        return InboundMessage(kind=InboundKind.MEDIA, text=caption, media=(media,), **common)
    location = message.get("location")
    if isinstance(location, dict):
        try:
            at = (float(location["latitude"]), float(location["longitude"]))
        except (KeyError, TypeError, ValueError, OverflowError):
            raise WireError("message.location: latitude and longitude required") from None
        if not all(math.isfinite(v) for v in at):
            raise WireError("message.location: latitude and longitude must be numbers")
        return InboundMessage(kind=InboundKind.LOCATION, text=caption, location=at, **common)
    kinds = [k for k in message if k not in ("message_id", "from", "chat", "date")]
    return InboundMessage(
        kind=InboundKind.UNSUPPORTED, text=",".join(kinds) or "empty message", **common
    )


def _callback(update_id: int, query: Mapping[str, Any], raw: dict[str, Any]) -> InboundMessage:
    sender = _object(query.get("from"), "callback_query.from")
    message = _maybe(query.get("message"))
    chat = _maybe(message.get("chat"))
    chat_id = _int(chat.get("id", sender.get("id")), "callback_query chat.id or from.id")
    data = query.get("data")
    if not isinstance(data, str) or not data:
        return InboundMessage(
            provider_message_id=str(update_id),
            address=str(chat_id),
            kind=InboundKind.UNSUPPORTED,
            text="callback_query without data",
            sent_at=datetime.now(UTC),
            raw=raw,
        )
    return InboundMessage(
        provider_message_id=str(update_id),
        address=str(chat_id),
        kind=InboundKind.BUTTON,
        text="",
        button_payload=data,
        name=_name(sender),
        sent_at=datetime.now(UTC),  # a tap has no date of its own (its message is ours)
        reply_to=str(message.get("message_id")) if message.get("message_id") else None,
        raw=raw,
    )
