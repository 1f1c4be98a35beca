"""WhatsApp Cloud API webhook, one URL per account: `/webhooks/whatsapp/{account_id}`.

`GET` answers Meta's subscription handshake with the challenge when the verify token
matches (else 403). `POST` checks `X-Hub-Signature-256` over the raw body with the
account's app secret (forged or missing → 401), parses the envelope (malformed → 400),
keeps every message and status under its wamid (Meta retries for up to 7 days and sends
copies to every subscribed app: a repeat is a no-op), turns messages into tickets and
statuses into delivery states, and answers 200. Events for another phone number and
known-but-unsupported ones (reactions, template status updates) are logged and
acknowledged. A database outage answers 503, so Meta keeps the event and retries.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sahaya.channels.whatsapp_cloud import wire
from sahaya.messaging.domain import Channel
from sahaya.persistence.unreachable import UNREACHABLE
from sahaya.tickets import channel_events
from sahaya.web.hotlane import HOT
from sahaya.web.webhooks.channels import accept, account_for, plain

router = APIRouter(prefix="/webhooks/whatsapp", tags=["whatsapp"])
log = logging.getLogger(__name__)
MAX_BODY = 3 * 1024 * 1024  # Meta's payloads stay under 3 MB


@router.get("/{account_id}")
async def handshake(account_id: str, request: Request) -> Response:
    account = await account_for(request, account_id, Channel.WHATSAPP)
    if account is None:
        return plain(404, "unknown WhatsApp account")
    answer = wire.challenge(dict(request.query_params), account.secret("verify_token"))
    if answer is None:
        return plain(403, "verify token does not match")
    return plain(200, answer)


@HOT.route(router, "POST", "/{account_id}")
async def events(account_id: str, request: Request) -> Response:
    account = await account_for(request, account_id, Channel.WHATSAPP)
    if account is None:
        return plain(404, "unknown WhatsApp account")
    raw = await request.body()  # at most MAX_BODY: web.bodylimit
    if not wire.signature_valid(
        raw, request.headers.get("x-hub-signature-256"), account.secret("app_secret")
    ):
        return plain(401, "X-Hub-Signature-256 does not match the body")
    try:
        parsed = wire.parse(raw)
    except wire.WireError as exc:
        return plain(400, str(exc))
    batch: list[channel_events.Event] = []
    for number_id, message in parsed.messages:
        if number_id == account.address:
            batch.append(message)
        else:
            parsed.ignored.append(f"message for phone_number_id {number_id}")
    for number_id, receipt in parsed.receipts:
        if number_id == account.address:
            batch.append(receipt)
        else:
            parsed.ignored.append(f"status for phone_number_id {number_id}")
    if parsed.ignored:
        log.info("WhatsApp account %s: ignored %s", account.id, "; ".join(parsed.ignored))
    try:
        accepted = await accept(request, account, batch)
    except UNREACHABLE as exc:
        log.warning("WhatsApp events not accepted, database unreachable: %s", exc)
        return plain(503, "temporarily unable to accept events; retry")
    return JSONResponse(
        {
            "status": "ok",
            "new": accepted.new,
            "repeated": accepted.repeated,
            "deferred": accepted.deferred,
            # Meta ignores the body; the simulator and operators read what happened.
            "outcomes": [{"outcome": r.outcome, "ticket": r.number} for r in accepted.outcomes],
        }
    )
