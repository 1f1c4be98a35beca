"""Textlocal's callbacks (providers.md §4.3–4.4), parsed into messaging's shapes.

Textlocal signs nothing: each account's callback URLs carry a secret `?key=` (checked by
the webhook). A delivery receipt is a form with `number`, `status` (D delivered,
U undelivered, I invalid number, ? no receipt after 4 days; P/E in some docs), `customID`
(what we sent as `custom`: the outbox message id) and `datetime` (IST, MySQL format). An
inbound SMS is a form with `sender`, `content`, `inNumber`, `keyword`, `comments`.
Textlocal gives inbound messages no id, so one is derived from sender, text and time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

from sahaya.customers import e164_or_none
from sahaya.messaging.domain import InboundKind, InboundMessage, OutboundState, Receipt

IST = timezone(timedelta(hours=5, minutes=30))
_STATES = {
    "D": OutboundState.DELIVERED,
    "U": OutboundState.FAILED,
    "I": OutboundState.FAILED,
    "E": OutboundState.FAILED,
}
_REASONS = {"U": "undelivered", "I": "invalid number", "E": "expired"}


class WireError(ValueError):
    """Not something Textlocal sends; the message says what is wrong."""


def _when(raw: str | None, fallback: datetime) -> datetime:
    if not raw:
        return fallback
    try:
        when = datetime.strptime(raw.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=IST)
        when.astimezone(UTC)  # year 1 in IST is before year 1 in UTC
    except (ValueError, OverflowError):
        return fallback
    return when


def receipt(form: Mapping[str, str], now: datetime) -> Receipt | None:
    """The receipt, or None for a status that changes nothing (pending, unknown)."""
    custom = (form.get("customID") or form.get("customid") or "").strip()
    status = (form.get("status") or "").strip().upper()
    if not custom or not status:
        raise WireError("customID and status are required")
    state = _STATES.get(status)
    if state is None:
        return None
    error = None
    if state == OutboundState.FAILED:
        error = f"Textlocal status {status}: {_REASONS.get(status, 'failed')}"
    return Receipt(custom, state, _when(form.get("datetime"), now).astimezone(UTC), error)


def inbound(form: Mapping[str, str], now: datetime) -> InboundMessage:
    sender = (form.get("sender") or "").strip()
    content = form.get("content") or ""
    if not sender or not content.strip():
        raise WireError("sender and content are required")
    phone = e164_or_none(sender if sender.startswith("+") else "+" + sender.lstrip("0"))
    if phone is None:
        raise WireError(f"sender: {sender!r} is not a phone number")
    text = (form.get("comments") or "").strip() if form.get("keyword") else content.strip()
    # No id from Textlocal: a retried post of the same text in the same minute is a repeat.
    minute = now.strftime("%Y%m%d%H%M")
    digest = hashlib.sha256(f"{phone}|{content}|{minute}".encode()).hexdigest()[:32]
    return InboundMessage(
        provider_message_id=f"tl-{digest}",
        address=phone,
        kind=InboundKind.TEXT,
        text=text or content.strip(),
        sent_at=now,
        phone=phone,
        raw=dict(form),
    )
