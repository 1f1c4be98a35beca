"""Parse an osTicket API request (`POST /api/tickets.json`) exactly as osTicket reads it.

osTicket's quirks, from `include/api.tickets.php` and `setup/doc/api/tickets.md`:
* The format comes from the URL suffix (`tickets.json`), not the Content-Type header; we
  accept JSON only and answer 415 for `.xml` and `.email`.
* Required: `name`, `email`, `subject`, `message`. Everything else is optional; unknown
  top-level keys are custom form fields (kept, not rejected).
* `message` may be an RFC 2397 data URL (`data:text/html,<p>…</p>`); attachments are a list
  of one-key objects `{"file.txt": "data:text/plain;charset=utf-8,content"}`.
* A phone extension can ride in the number after a capital `X` (`3185558634X123`).
* Errors are `text/plain` with the status: 400 bad input or base64, 401 key, 403 denied,
  415 format. Success is `201` with the ticket *number* as the body.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

KNOWN = frozenset(
    {
        "name",
        "email",
        "subject",
        "message",
        "alert",
        "autorespond",
        "ip",
        "phone",
        "phone_ext",
        "priorityId",
        "source",
        "topicId",
        "attachments",
        "duedate",
    }
)
SOURCES = {"api": "api", "phone": "voice", "email": "email", "web": "web", "other": "api"}
# osTicket's stock priorities: 1 low, 2 normal, 3 high, 4 emergency.
PRIORITIES = {1: "minor", 2: "minor", 3: "major", 4: "critical"}


class OsTicketError(Exception):
    """An error osTicket would report; `status` and the text/plain message to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class DataUrl:
    mime: str
    charset: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OsTicketRequest:
    name: str
    email: str
    subject: str
    message: str
    message_is_html: bool
    phone: str | None
    phone_ext: str | None
    channel: str
    severity: str | None
    topic_id: int | None
    ip: str | None
    autorespond: bool
    alert: bool
    attachments: tuple[Attachment, ...]
    custom_fields: dict[str, Any] = field(default_factory=dict)


def decode_data_url(text: str) -> DataUrl:
    """RFC 2397: `data:[<mediatype>][;charset=x][;base64],<data>`."""
    header, sep, payload = text.partition(",")
    if not header.startswith("data:") or not sep:
        raise ValueError("not a data URL")
    params = header[5:].split(";")
    mime = params[0].strip().lower() or "text/plain"
    charset = None
    is_base64 = False
    for param in params[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset":
            charset = value.strip().lower() or None
        elif key.lower() == "base64":
            is_base64 = True
    if is_base64:
        try:
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("bad base64 data") from None
    else:
        data = unquote_to_bytes(payload)
    return DataUrl(mime=mime, charset=charset, data=data)


def _text(value: object, name: str) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise OsTicketError(400, f"{name}: Expected a string")
    text = str(value).strip()
    if not text:
        raise OsTicketError(400, f"{name}: This field is required")
    return text


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, True)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | str):
        return str(value).strip().lower() not in {"0", "false", "no", ""}
    raise OsTicketError(400, f"{name}: Expected a boolean")


def _message(raw: str) -> tuple[str, bool]:
    if not raw.startswith("data:"):
        return raw, False
    try:
        url = decode_data_url(raw)
        text = url.data.decode(url.charset or "utf-8")
    except (ValueError, LookupError, UnicodeDecodeError) as exc:
        raise OsTicketError(400, f"message: {exc}") from None
    return text, url.mime == "text/html"


def _attachments(value: object) -> tuple[Attachment, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise OsTicketError(400, "attachments: Expected a list")
    found = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or len(item) != 1:
            raise OsTicketError(400, f'attachments[{index}]: Expected {{"name": "data:…"}}')
        ((filename, url),) = item.items()
        if not isinstance(url, str):
            raise OsTicketError(400, f"attachments[{index}]: Expected a data URL")
        try:
            decoded = decode_data_url(url)
        except ValueError as exc:
            raise OsTicketError(400, f"{filename}: Invalid data: {exc}") from None
        found.append(
            Attachment(filename=str(filename), content_type=decoded.mime, data=decoded.data)
        )
    return tuple(found)


def parse(body: bytes) -> OsTicketRequest:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise OsTicketError(400, "Invalid JSON: unable to parse request body") from None
    if not isinstance(data, dict):
        raise OsTicketError(400, "Unexpected data received: expected a JSON object")
    missing = [k for k in ("name", "email", "subject", "message") if k not in data]
    if missing:
        raise OsTicketError(400, f"{', '.join(missing)}: This field is required")
    message, is_html = _message(_text(data["message"], "message"))
    phone, ext = None, None
    if data.get("phone"):
        number, _, ext_part = _text(data["phone"], "phone").partition("X")
        phone, ext = number.strip(), ext_part.strip() or None
    if data.get("phone_ext"):
        ext = _text(data["phone_ext"], "phone_ext")
    source = str(data.get("source") or "API").strip().lower()
    if source not in SOURCES:
        raise OsTicketError(400, f"source: Unknown source {data.get('source')!r}")
    severity = None
    if data.get("priorityId") is not None:
        try:
            severity = PRIORITIES[int(data["priorityId"])]
        except (KeyError, TypeError, ValueError):
            raise OsTicketError(
                400, f"priorityId: Invalid priority {data['priorityId']!r}"
            ) from None
    topic = data.get("topicId")
    try:
        topic_id = int(topic) if topic not in (None, "") else None
    except (TypeError, ValueError):
        raise OsTicketError(400, f"topicId: Invalid topic {topic!r}") from None
    custom = {
        k: v for k, v in data.items() if k not in KNOWN and isinstance(v, str | int | float | bool)
    }
    return OsTicketRequest(
        name=_text(data["name"], "name"),
        email=_text(data["email"], "email"),
        subject=_text(data["subject"], "subject"),
        message=message,
        message_is_html=is_html,
        phone=phone,
        phone_ext=ext,
        channel=SOURCES[source],
        severity=severity,
        topic_id=topic_id,
        ip=str(data["ip"]) if data.get("ip") else None,
        autorespond=_flag(data, "autorespond"),
        alert=_flag(data, "alert"),
        attachments=_attachments(data.get("attachments")),
        custom_fields=custom,
    )
