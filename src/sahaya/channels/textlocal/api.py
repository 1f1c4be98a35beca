"""Textlocal India, outbound (providers.md §4.2): `POST https://api.textlocal.in/send/`,
form-encoded with the account's `apikey`, a DLT-approved `sender`, `numbers` as
91XXXXXXXXXX, and `custom` = our outbox message id, which Textlocal echoes as `customID`
in delivery receipts (so that id is also the message's provider id here).

Textlocal answers HTTP 200 with `"status": "failure"` and error codes: 7 (insufficient
credits) is worth retrying later; login, sender, number and content errors are not.
"""

from __future__ import annotations

from typing import Any

import httpx

from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.ports import (
    OutboundMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
)

PROVIDER = "textlocal"
DEFAULT_BASE_URL = "https://api.textlocal.in"
MAX_TEXT = 766
_TRANSIENT_CODES = frozenset({7})


def _failure(answer: dict[str, Any]) -> None:
    errors = answer.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    text = f"Textlocal error {first.get('code')}: {first.get('message')}"
    if first.get("code") in _TRANSIENT_CODES:
        raise TransientSendError(text)
    raise PermanentSendError(text)


async def send(
    account: ChannelAccount, message: OutboundMessage, http: httpx.AsyncClient
) -> SendResult:
    """Put one SMS on the wire from this account."""
    form = {
        "apikey": account.secret("apikey"),
        "sender": account.address,
        "numbers": message.recipient.lstrip("+"),
        "message": message.body[:MAX_TEXT],
        "custom": str(message.id),
    }
    if account.settings.get("receipt_url"):
        form["receipt_url"] = str(account.settings["receipt_url"])
    if any(ord(ch) > 127 for ch in message.body):
        form["unicode"] = "true"
    try:
        response = await http.post(f"{account.api_base_url or DEFAULT_BASE_URL}/send/", data=form)
    except httpx.TransportError as exc:
        raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientSendError(f"HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        raise TransientSendError(f"HTTP {response.status_code}: not JSON") from None
    if answer.get("status") != "success":
        _failure(answer)
    return SendResult(provider_message_id=str(message.id))
