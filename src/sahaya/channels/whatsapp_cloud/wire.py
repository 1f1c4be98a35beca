"""WhatsApp Cloud API webhooks (providers.md §2): the verification handshake, the
`X-Hub-Signature-256` check, and the event envelope parsed into messaging's normalised
`InboundMessage`s and `Receipt`s.

Quirks absorbed here:
* the signature is over the raw bytes as sent (Meta escapes non-ASCII text first), so it is
  checked before the body is parsed and never against re-serialised JSON;
* one POST can carry several entries, changes, messages and statuses, for several numbers;
* a button tap comes in two shapes: `interactive.button_reply` (reply buttons) and
  `button.payload` (template quick replies); both become a `BUTTON` with its payload;
* `from` is the sender's phone without `+`, and may be missing for a username user (2026
  BSUID rollout), who is then addressed by `user_id` and matched by a linked identity only;
* reactions, stickers, `unsupported` items and non-message fields are known but not
  supported: they are listed in `ignored` so the webhook can log them and answer 200.
Nothing here raises on odd input except `WireError`, which the webhook turns into a 400.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sahaya.channels import jsonbody
from sahaya.messaging.domain import (
    E164_DIGITS,
    InboundKind,
    InboundMedia,
    InboundMessage,
    OutboundState,
    Receipt,
)

_MEDIA = ("image", "audio", "video", "document")
_USER_ID_MAX = 200  # what customer_identities.external_id holds, once the user links
_RECEIPTS = {
    "sent": OutboundState.SENT,
    "delivered": OutboundState.DELIVERED,
    "read": OutboundState.READ,
    "failed": OutboundState.FAILED,
}
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "video/mp4": ".mp4",
    "application/pdf": ".pdf",
}


class WireError(ValueError):
    """The request is not something Meta sends; the message says what is wrong."""


class _Unkeepable(WireError):
    """A message whose sender no conversation could keep (it would fail on every try): that
    message is ignored and logged; the rest of Meta's delivery is accepted."""


def loads(raw: bytes) -> Any:
    try:
        return jsonbody.loads(raw)
    except jsonbody.BodyError as exc:
        raise WireError(str(exc)) from None


def signature_valid(raw: bytes, header: str | None, app_secret: str) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body."""
    if not header or not app_secret:
        return False
    expected = "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())


def challenge(params: Mapping[str, str], verify_token: str) -> str | None:
    """The body to answer the subscription handshake with, or None (→ 403)."""
    if params.get("hub.mode") != "subscribe" or not verify_token:
        return None
    token = params.get("hub.verify_token", "")
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return params.get("hub.challenge", "")


@dataclass(slots=True)
class Events:
    """What one webhook POST carried, per phone_number_id it was addressed to."""

    messages: list[tuple[str, InboundMessage]] = field(default_factory=list)
    receipts: list[tuple[str, Receipt]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"{where}: expected an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise WireError(f"{where}: expected a list")
    return value


def _text(value: Any, where: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str | int) or (required and str(value) == ""):
        raise WireError(f"{where}: expected a non-empty string")
    return str(value)


def _time(value: Any, where: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(_text(value, where)), UTC)
    except (ValueError, OverflowError, OSError):
        raise WireError(f"{where}: expected unix seconds") from None


def parse(raw: bytes) -> Events:
    """Every message and receipt of a webhook body."""
    body = loads(raw)
    body = _object(body, "body")
    if body.get("object") != "whatsapp_business_account":
        raise WireError("object: expected 'whatsapp_business_account'")
    events = Events()
    for i, entry in enumerate(_list(body.get("entry"), "entry")):
        for j, change in enumerate(_list(_object(entry, f"entry[{i}]").get("changes"), "changes")):
            where = f"entry[{i}].changes[{j}]"
            change = _object(change, where)
            if change.get("field") != "messages":
                events.ignored.append(f"field {change.get('field')!r}")
                continue
            _value(_object(change.get("value"), f"{where}.value"), where, events)
    return events


def _value(value: Mapping[str, Any], where: str, events: Events) -> None:
    metadata = _object(value.get("metadata"), f"{where}.metadata")
    number_id = _text(metadata.get("phone_number_id"), f"{where}.metadata.phone_number_id")
    names: dict[str, str] = {}
    for contact in _list(value.get("contacts"), f"{where}.contacts"):
        contact = _object(contact, f"{where}.contacts[]")
        profile = contact.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        for key in ("wa_id", "user_id"):
            if isinstance(contact.get(key), str) and isinstance(name, str):
                names[contact[key]] = name
    for k, item in enumerate(_list(value.get("messages"), f"{where}.messages")):
        try:
            message = _message(_object(item, f"{where}.messages[{k}]"), f"{where}.messages[{k}]")
        except _Unkeepable as exc:  # only this message: the others of the delivery go on
            events.ignored.append(str(exc))
            continue
        if message.address in names:
            message = _with_name(message, names[message.address])
        events.messages.append((number_id, message))
    for k, item in enumerate(_list(value.get("statuses"), f"{where}.statuses")):
        status = _object(item, f"{where}.statuses[{k}]")
        state = _RECEIPTS.get(str(status.get("status")))
        if state is None:
            events.ignored.append(f"status {status.get('status')!r}")
            continue
        errors = _list(status.get("errors"), f"{where}.statuses[{k}].errors")
        error = None
        if errors and isinstance(errors[0], dict):
            first = errors[0]
            error = f"{first.get('code')}: {first.get('title') or first.get('message') or ''}"
        receipt = Receipt(
            provider_message_id=_text(status.get("id"), f"{where}.statuses[{k}].id"),
            state=state,
            at=_time(status.get("timestamp"), f"{where}.statuses[{k}].timestamp"),
            error=error,
        )
        events.receipts.append((number_id, receipt))


def _with_name(message: InboundMessage, name: str) -> InboundMessage:
    fields = {f: getattr(message, f) for f in InboundMessage.__slots__}
    fields["name"] = name
    return InboundMessage(**fields)


def _message(item: Mapping[str, Any], where: str) -> InboundMessage:
    sender = item.get("from")
    user_id = item.get("from_user_id") or item.get("user_id")
    if isinstance(sender, str) and sender.strip():
        address = sender.strip().lstrip("+")
        if not (address.isascii() and address.isdigit() and len(address) <= E164_DIGITS):
            raise _Unkeepable(f"{where}.from: not a phone number of at most 15 digits")
        phone: str | None = "+" + address
    elif isinstance(user_id, str) and user_id.strip():
        address, phone = user_id.strip(), None  # a username user: no phone shared
        if len(address) > _USER_ID_MAX:
            raise _Unkeepable(f"{where}.user_id: longer than {_USER_ID_MAX} characters")
    else:
        raise WireError(f"{where}: neither 'from' nor 'from_user_id'")
    kind_name = _text(item.get("type"), f"{where}.type")
    context = item.get("context")
    common: dict[str, Any] = {
        "provider_message_id": _text(item.get("id"), f"{where}.id"),
        "address": address,
        "phone": phone,
        "sent_at": _time(item.get("timestamp"), f"{where}.timestamp"),
        "reply_to": context.get("id") if isinstance(context, dict) else None,
        "raw": dict(item),
    }
    body = item.get(kind_name)
    body = body if isinstance(body, dict) else {}
    if kind_name == "text":
        return InboundMessage(
            kind=InboundKind.TEXT, text=_text(body.get("body"), f"{where}.text.body"), **common
        )
    if kind_name in _MEDIA:
        media_id = _text(body.get("id"), f"{where}.{kind_name}.id")
        mime = str(body.get("mime_type") or "application/octet-stream").split(";")[0].strip()
        filename = str(body.get("filename") or f"{kind_name}-{media_id}{_EXTENSIONS.get(mime, '')}")
        media = InboundMedia(media_id, mime, filename, body.get("sha256"))
        caption = str(body.get("caption") or "")
        return InboundMessage(kind=InboundKind.MEDIA, text=caption, media=(media,), **common)
    if kind_name == "location":
        try:
            where_at = (float(body["latitude"]), float(body["longitude"]))
        except (KeyError, TypeError, ValueError, OverflowError):
            raise WireError(f"{where}.location: latitude and longitude required") from None
        if not all(math.isfinite(v) for v in where_at):
            raise WireError(f"{where}.location: latitude and longitude must be numbers")
        label = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
        return InboundMessage(kind=InboundKind.LOCATION, text=label, location=where_at, **common)
    if kind_name == "interactive":
        reply = body.get(str(body.get("type")))
        if body.get("type") in ("button_reply", "list_reply") and isinstance(reply, dict):
            return InboundMessage(
                kind=InboundKind.BUTTON,
                text=str(reply.get("title") or ""),
                button_payload=_text(reply.get("id"), f"{where}.interactive.id"),
                **common,
            )
    if kind_name == "button":
        return InboundMessage(
            kind=InboundKind.BUTTON,
            text=str(body.get("text") or ""),
            button_payload=_text(body.get("payload"), f"{where}.button.payload"),
            **common,
        )
    if kind_name == "contacts":
        cards = []
        for card in _list(item.get("contacts"), f"{where}.contacts"):
            if isinstance(card, dict):
                name = card.get("name", {})
                listed = card.get("phones")
                phones = [
                    p.get("phone")
                    for p in (listed if isinstance(listed, list) else [])
                    if isinstance(p, dict)
                ]
                label = name.get("formatted_name", "") if isinstance(name, dict) else ""
                cards.append(" ".join(str(x) for x in (label, *phones) if x))
        return InboundMessage(kind=InboundKind.CONTACT, text="\n".join(cards), **common)
    return InboundMessage(kind=InboundKind.UNSUPPORTED, text=kind_name, **common)
