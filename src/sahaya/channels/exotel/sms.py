"""Exotel SMS (providers.md §1.e): send through `POST /v1/Accounts/{sid}/Sms/send.json`
(form-encoded, HTTP Basic with the API key and token) and read its status callback.

An account's `address` is its sender (a DLT-approved header or the ExoPhone); settings
hold `account_sid`, the DLT entity id, the DLT template ids (one per Sahaya template, or
one for all) and the `status_callback` URL; secrets
hold `api_key`, `api_token` and the `webhook_key` that callback URLs carry. Malayalam
needs `EncodingType=unicode`. HTTP 200 means accepted, not delivered: the status callback
says `sent` (delivered to the handset) or `failed`/`failed_dnd`; the JSON shape of the newer
docs (`delivered`, `ExoStatusCode`) is accepted too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import OutboundState, Receipt
from sahaya.messaging.ports import (
    OutboundMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
)

PROVIDER = "exotel_sms"
DEFAULT_BASE_URL = "https://api.in.exotel.com"
_FINAL = {
    "sent": OutboundState.DELIVERED,
    "delivered": OutboundState.DELIVERED,
    "failed": OutboundState.FAILED,
    "failed_dnd": OutboundState.FAILED,
}


class WireError(ValueError):
    """Not something Exotel sends."""


async def send(
    account: ChannelAccount, message: OutboundMessage, http: httpx.AsyncClient
) -> SendResult:
    sid = str(account.settings.get("account_sid") or "")
    form = {
        "From": account.address,
        "To": message.recipient,
        "Body": message.body,
        "CustomField": str(message.id),
        "SmsType": "transactional",
    }
    if any(ord(ch) > 127 for ch in message.body):
        form["EncodingType"] = "unicode"
    for setting, name in (("status_callback", "StatusCallback"), ("dlt_entity_id", "DltEntityId")):
        if account.settings.get(setting):
            form[name] = str(account.settings[setting])
    if template_id := dlt_template_id(account.settings, message.template):
        form["DltTemplateId"] = template_id
    try:
        response = await http.post(
            f"{account.api_base_url or DEFAULT_BASE_URL}/v1/Accounts/{sid}/Sms/send.json",
            data=form,
            auth=(account.secret("api_key"), account.secret("api_token")),
        )
    except httpx.TransportError as exc:
        raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSendError(f"Exotel HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code >= 400:
        problem = answer.get("RestException", {}) if isinstance(answer, dict) else {}
        raise PermanentSendError(
            f"Exotel HTTP {response.status_code}: {problem.get('Message') or response.text[:300]}"
        )
    try:
        return SendResult(provider_message_id=str(answer["SMSMessage"]["Sid"]))
    except (KeyError, TypeError):
        raise TransientSendError(f"unexpected answer: {response.text[:300]}") from None


def dlt_template_id(settings: Mapping[str, object], template: str | None) -> str | None:
    """The DLT template a message's text was registered under: in India every SMS body
    must match one, and a sign-in code, an acknowledgement and an agent's reply are
    different texts — so an id per Sahaya template (`dlt_templates`), else the account's
    one `dlt_template_id`."""
    per_template = settings.get("dlt_templates")
    if isinstance(per_template, Mapping) and template and per_template.get(template):
        return str(per_template[template])
    fallback = settings.get("dlt_template_id")
    return str(fallback) if fallback else None


def receipt(fields: Mapping[str, object], now: datetime) -> Receipt | None:
    """The status callback (form or JSON) as a receipt; None for an interim status."""
    sid = str(fields.get("SmsSid") or "").strip()
    status = str(fields.get("Status") or "").strip().lower()
    if not sid or not status:
        raise WireError("SmsSid and Status are required")
    state = _FINAL.get(status)
    if state is None:
        return None  # queued, sending, submitted: nothing final yet
    error = None
    if state == OutboundState.FAILED:
        detail = fields.get("DetailedStatus") or ""
        code = fields.get("DetailedStatusCode") or fields.get("ExoStatusCode") or ""
        error = f"Exotel {status}: {detail} {code}".strip()
    return Receipt(sid, state, _sent_at(fields.get("DateSent"), now), error)


IST = ZoneInfo("Asia/Kolkata")
SENT_WITHIN = timedelta(days=7)


def _sent_at(value: object, now: datetime) -> datetime:
    """When Exotel says the SMS reached its end (`DateSent`, `YYYY-MM-DD HH:mm:ss`; Exotel's
    timestamps are Indian time), else when the callback came: never later than now, nor
    earlier than Exotel keeps trying (a few days; `0001-01-01` is no date)."""
    try:
        sent = datetime.strptime(str(value).strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=IST)
    except ValueError:
        return now
    return sent if now - SENT_WITHIN <= sent <= now else now
