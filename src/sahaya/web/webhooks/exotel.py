"""Exotel's call-flow webhooks: gate (Passthru), dial (Connect dynamic URL), outcome
(Passthru after Connect) and the status callback of calls Sahaya places.

Exotel does not sign requests: each account's URLs carry a secret `?key=` (a wrong one gets
403). Malformed requests get a 400 with the reason, never a 5xx. When the database cannot be
reached in time the gate and the dial step follow the configured fallback policy (default:
let the call through to the State franchisee's line) and log why.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from sahaya.channels.exotel import wire
from sahaya.persistence import Database, UnitOfWork
from sahaya.persistence.unreachable import DATABASE_FAILURES
from sahaya.settings import Settings
from sahaya.voice import callbacks, dialling, domain, outcomes
from sahaya.voice import services as voice
from sahaya.voice.config import callback_policy, voice_config
from sahaya.voice.domain import CallReport
from sahaya.voice.fallback import STATE_LINES
from sahaya.web.deps import clock
from sahaya.web.hotlane import HOT

router = APIRouter(prefix="/webhooks/exotel", tags=["exotel"])
log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024  # a status callback is a few hundred bytes; gate, dial, outcome are GETs


def _text(status: int, message: str) -> PlainTextResponse:
    return PlainTextResponse(message, status_code=status)


async def _account(request: Request) -> voice.Account | Response:
    database: Database = request.app.state.database
    key = request.query_params.get("key", "")
    account = await voice.account_for_key(database=database, key=key)
    if account is None:
        return _text(403, "unknown or missing key")
    return account


def _passthru(request: Request) -> CallReport | Response:
    try:
        return wire.parse_passthru(dict(request.query_params))
    except wire.WireError as exc:
        return _text(400, str(exc))


async def _account_and_call(request: Request) -> tuple[voice.Account, CallReport] | Response:
    """The account the key names and the call Exotel reports, or the 403/400 to answer."""
    account = await _account(request)
    if isinstance(account, Response):
        return account
    call = _passthru(request)
    if isinstance(call, Response):
        return call
    return account, call


def _hang_up() -> Response:
    """`302`: the Passthru's second branch, which the flow wires to a hang-up."""
    return Response(status_code=302, headers={"Location": "/"})


def _fallback_allows(settings: Settings) -> bool:
    return settings.voice_gate_fallback == "allow"


@HOT.route(router, "GET", "/gate")
async def gate(request: Request) -> Response:
    """Passthru at the start of the flow: `200` registered caller, `302` anyone else."""
    settings: Settings = request.app.state.settings
    try:
        # One time budget for the whole decision (a timer per stage was measurable).
        async with asyncio.timeout(settings.voice_gate_timeout_ms / 1000):
            asked = await _account_and_call(request)
            if isinstance(asked, Response):
                return asked
            account, call = asked
            result = await voice.gate(
                database=request.app.state.database,
                account=account,
                report=call,
                now=await clock(),
            )
    except DATABASE_FAILURES as exc:
        return _gate_fallback(settings, request, f"gate could not decide: {exc!r}")
    except Exception as exc:  # a bug must not leave a caller in silence: the policy decides
        log.exception("exotel gate failed")
        return _gate_fallback(settings, request, f"gate failed: {exc!r}")
    if result.decision == domain.GateDecision.ALLOW:
        return _text(200, "allow")
    return _hang_up()


def _gate_fallback(settings: Settings, request: Request, why: str) -> Response:
    sid = request.query_params.get("CallSid", "?")
    log.warning(
        "exotel gate fallback (%s) for CallSid %s: %s", settings.voice_gate_fallback, sid, why
    )
    if _fallback_allows(settings):
        return _text(200, "fallback")
    return _hang_up()


@HOT.route(router, "GET", "/dial")
async def dial(request: Request) -> Response:
    """Connect applet's dynamic URL: the numbers to ring, in order, as Exotel's JSON."""
    settings: Settings = request.app.state.settings
    account: voice.Account | None = None
    try:
        async with asyncio.timeout(settings.voice_gate_timeout_ms / 1000):  # one budget
            asked = await _account_and_call(request)
            if isinstance(asked, Response):
                return asked
            account, call = asked
            plan = await _plan(request, account, call)
    except DATABASE_FAILURES as exc:
        return _dial_fallback(settings, request, account, f"dial plan failed: {exc!r}")
    except Exception as exc:  # a bug must not leave a caller in silence: the policy decides
        log.exception("exotel dial failed")
        return _dial_fallback(settings, request, account, f"dial plan failed: {exc!r}")
    return _connect(settings, account.caller_id or call.called, plan.numbers, plan.ring_seconds)


async def _plan(request: Request, account: voice.Account, call: CallReport) -> dialling.DialPlan:
    settings: Settings = request.app.state.settings
    return await dialling.dial(
        database=request.app.state.database,
        account=account,
        report=call,
        now=await clock(),
        config=voice_config(settings),
    )


def _connect(
    settings: Settings,
    caller_id: str,
    numbers: tuple[str, ...] | list[str],
    ring_seconds: int | None = None,
) -> Response:
    return JSONResponse(
        wire.connect_response(
            numbers=list(numbers),
            caller_id=caller_id,
            ring_seconds=ring_seconds or settings.voice_ring_seconds,
            max_conversation_seconds=settings.voice_max_conversation_seconds,
        )
    )


def _dial_fallback(
    settings: Settings, request: Request, account: voice.Account | None, why: str
) -> Response:
    sid = request.query_params.get("CallSid", "?")
    log.warning("exotel dial fallback for CallSid %s: %s", sid, why)
    numbers: list[str] = []
    if _fallback_allows(settings):  # the configured line, else the State franchisee's
        tenant_id = account.tenant_id if account else request.app.state.tenant_id
        known = STATE_LINES.known(tenant_id)
        numbers = [settings.voice_fallback_number] if settings.voice_fallback_number else [*known]
    caller_id = account.caller_id if account else request.query_params.get("CallTo", "")
    return _connect(settings, caller_id, numbers)


@HOT.route(router, "GET", "/outcome")
async def outcome(request: Request) -> Response:
    """Passthru after the Connect applet: how the call ended; frees the executives."""
    asked = await _account_and_call(request)
    if isinstance(asked, Response):
        return asked
    account, call = asked
    settings: Settings = request.app.state.settings
    recorded = await outcomes.record_outcome_fast(
        database=request.app.state.database,
        account=account,
        report=call,
        now=await clock(),
        config=voice_config(settings),
    )
    if recorded is None:  # the full path: auto-away, unknown call
        async with UnitOfWork(request.app.state.database) as uow:
            recorded = await outcomes.record_outcome(
                uow=uow,
                account=account,
                report=call,
                now=await clock(),
                config=voice_config(settings),
            )
            await uow.commit()
    elif recorded.busy_rule_due:  # the caller's unanswered calls reached the rule
        async with UnitOfWork(request.app.state.database) as uow:
            recorded = await outcomes.apply_busy_rule(
                uow=uow,
                account=account,
                call_sid=call.call_sid,
                recorded=recorded,
                now=await clock(),
                config=voice_config(settings),
            )
            await uow.commit()
    return _text(200, recorded.outcome.value)


@HOT.route(router, "POST", "/status")
async def status(request: Request) -> Response:
    """Status callback of a call Sahaya placed (`Calls/connect`), form or JSON; repeats of
    the same `CallSid` and event are no-ops. Authenticated by the account's key, or by the
    signed account id Sahaya put in the StatusCallback URL."""
    account = await _status_account(request)
    if isinstance(account, Response):
        return account
    try:
        event = wire.parse_status(await request.body(), request.headers.get("content-type", ""))
    except wire.WireError as exc:
        return _text(400, str(exc))
    settings: Settings = request.app.state.settings
    async with UnitOfWork(request.app.state.database) as uow:
        known = await callbacks.record_status(
            uow=uow,
            account=account,
            event=callbacks.StatusEvent(
                call_sid=event.call_sid,
                status=event.status,
                event_type=event.event_type,
                duration=event.conversation_duration,
                recording_url=event.recording_url,
                legs=tuple(leg.status for leg in event.legs),
                custom_field=event.custom_field,
            ),
            now=await clock(),
            policy=callback_policy(settings),
        )
        await uow.commit()
    if not known:
        log.info("exotel status for unknown CallSid %s ignored", event.call_sid)
    return _text(200, "ok")


async def _status_account(request: Request) -> voice.Account | Response:
    account_id, token = request.query_params.get("account"), request.query_params.get("token")
    if not account_id or not token:
        return await _account(request)
    settings: Settings = request.app.state.settings
    try:
        parsed = uuid.UUID(account_id)
    except ValueError:
        return _text(403, "unknown or missing key")
    expected = callbacks.status_token(settings.secret_key.get_secret_value(), parsed)
    if not hmac.compare_digest(expected.encode(), token.encode()):
        return _text(403, "unknown or missing key")
    found = await voice.account_by_id(database=request.app.state.database, account_id=parsed)
    return found if found is not None else _text(403, "unknown or missing key")
