"""Telegram Bot API webhook, one URL per bot: `POST /webhooks/telegram/{account_id}`.

The request must carry `X-Telegram-Bot-Api-Secret-Token` equal to the bot's webhook
secret (set with `setWebhook`; anything else → 403). The update is kept under its
`update_id` (Telegram repeats an update until it gets a 2xx: a repeat is a no-op), then a
`/start <token>` or a shared contact links the chat to a customer, and messages become
tickets. Unsupported updates (edits, stickers, group chats) are acknowledged and logged.
A database outage answers 503 so Telegram keeps the update and retries.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask

from sahaya.channels.telegram import api as telegram_api
from sahaya.channels.telegram import wire
from sahaya.messaging.domain import Channel, InboundKind
from sahaya.persistence.unreachable import UNREACHABLE
from sahaya.web.hotlane import HOT
from sahaya.web.webhooks.channels import accept, account_for, plain

router = APIRouter(prefix="/webhooks/telegram", tags=["telegram"])
log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024


@HOT.route(router, "POST", "/{account_id}")
async def update(account_id: str, request: Request) -> Response:
    account = await account_for(request, account_id, Channel.TELEGRAM)
    if account is None:
        return plain(404, "unknown Telegram bot")
    header = request.headers.get("x-telegram-bot-api-secret-token")
    if not wire.secret_valid(header, account.secret("webhook_secret")):
        return plain(403, "X-Telegram-Bot-Api-Secret-Token does not match")
    raw = await request.body()  # at most MAX_BODY: web.bodylimit
    try:
        message = wire.parse(raw)
    except wire.WireError as exc:
        return plain(400, str(exc))
    if message.kind == InboundKind.UNSUPPORTED:
        log.info("Telegram bot %s: unsupported update (%s)", account.id, message.text)
    try:
        accepted = await accept(request, account, [message])
    except UNREACHABLE as exc:
        log.warning("Telegram update not accepted, database unreachable: %s", exc)
        return plain(503, "temporarily unable to accept updates; retry")
    query = message.raw.get("callback_query")
    answer = None
    if isinstance(query, dict) and isinstance(query.get("id"), str):
        # After the response: the tap is kept, now stop the button's spinner.
        answer = BackgroundTask(
            telegram_api.answer_callback, account, request.app.state.http, query["id"]
        )
    return JSONResponse(
        {
            "ok": True,
            "new": accepted.new,
            "repeated": accepted.repeated,
            "deferred": accepted.deferred,
            "outcomes": [{"outcome": r.outcome, "ticket": r.number} for r in accepted.outcomes],
        },
        background=answer,
    )
