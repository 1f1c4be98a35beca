"""SMS providers' callbacks, one URL pair per account (Textlocal and Exotel sign nothing,
so each URL carries the account's secret `?key=`; a wrong one gets 403):

* `POST /webhooks/sms/{account_id}/receipt?key=…` — delivery reports (Textlocal's form,
  Exotel's form or JSON), applied to the outbox message they name; interim statuses are
  acknowledged and change nothing;
* `POST /webhooks/sms/{account_id}/inbound?key=…` — an inbound SMS (Textlocal inboxes):
  from a registered number it opens or continues a ticket, like any message.
Both are kept under a key of their own, so a retried post is a no-op; a database outage
answers 503 so the provider retries.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sahaya.channels import jsonbody, registry
from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import Channel, keepable
from sahaya.persistence.unreachable import UNREACHABLE
from sahaya.tickets import channel_events
from sahaya.web.deps import clock
from sahaya.web.hotlane import HOT
from sahaya.web.webhooks.channels import accept, account_for, plain

router = APIRouter(prefix="/webhooks/sms", tags=["sms"])
log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


async def _authorised(request: Request, account_id: str) -> ChannelAccount | Response:
    account = await account_for(request, account_id, Channel.SMS)
    if account is None:
        return plain(404, "unknown SMS account")
    key = request.query_params.get("key", "")
    expected = account.secret("webhook_key")
    if not expected or not hmac.compare_digest(key.encode(), expected.encode()):
        return plain(403, "unknown or missing key")
    return account


async def _fields(request: Request) -> dict[str, str] | Response:
    raw = await request.body()  # at most MAX_BODY: web.bodylimit
    try:
        text = raw.decode()
        if "json" in request.headers.get("content-type", ""):
            parsed = jsonbody.loads(raw)
            if not isinstance(parsed, dict):
                return plain(400, "expected a JSON object")
            return {str(k): str(v) for k, v in parsed.items() if v is not None}
        return keepable(dict(parse_qsl(text, keep_blank_values=True)))  # type: ignore[no-any-return]
    except (UnicodeDecodeError, ValueError) as exc:
        return plain(400, f"unreadable body: {exc}")


async def _read(
    request: Request, account_id: str
) -> tuple[ChannelAccount, dict[str, str]] | Response:
    """The account (by the URL's id and key) and the posted fields, or the refusal."""
    account = await _authorised(request, account_id)
    if isinstance(account, Response):
        return account
    fields = await _fields(request)
    if isinstance(fields, Response):
        return fields
    return account, fields


async def _accept(
    request: Request, account: ChannelAccount, event: channel_events.Event
) -> Response:
    try:
        accepted = await accept(request, account, [event])
    except UNREACHABLE as exc:
        log.warning("SMS callback not accepted, database unreachable: %s", exc)
        return plain(503, "temporarily unable to accept; retry")
    outcomes = [{"outcome": r.outcome, "ticket": r.number} for r in accepted.outcomes]
    return JSONResponse({"status": "ok", "new": accepted.new, "outcomes": outcomes})


@HOT.route(router, "POST", "/{account_id}/receipt")
async def receipt(account_id: str, request: Request) -> Response:
    read = await _read(request, account_id)
    if isinstance(read, Response):
        return read
    account, fields = read
    try:
        found = registry.sms_receipt(account, fields, await clock())
    except registry.WireError as exc:
        return plain(400, str(exc))
    if found is None:
        interim = [{"outcome": "interim", "ticket": None}]
        return JSONResponse({"status": "ok", "new": 0, "outcomes": interim})
    return await _accept(request, account, found)


@HOT.route(router, "POST", "/{account_id}/inbound")
async def inbound(account_id: str, request: Request) -> Response:
    read = await _read(request, account_id)
    if isinstance(read, Response):
        return read
    account, fields = read
    try:
        message = registry.sms_inbound(account, fields, await clock())
    except registry.WireError as exc:
        return plain(400, str(exc))
    return await _accept(request, account, message)
