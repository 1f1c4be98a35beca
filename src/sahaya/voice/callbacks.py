"""Callbacks: a customer who could not get through is called back — the first available
executive of their sub-district's chain is rung first and the customer connected when they
answer (Exotel's `Calls/connect`). Tries are spaced and counted; a completed conversation
closes the request. The state is in the row (`status`, `attempts`, `next_attempt_at`), so a
periodic sweep resumes whatever a crash interrupted, and each row is locked while handled,
so two workers never place the same try twice.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sahaya.access import Principal
from sahaya.customers import CustomerRow
from sahaya.network import NodeRow
from sahaya.network import services as network
from sahaya.network.domain import ChainStep
from sahaya.persistence import UnitOfWork
from sahaya.persistence.sealed import UnsealError, unseal
from sahaya.tickets import domain as ticket_domain
from sahaya.tickets.repository import TicketRepository
from sahaya.tickets.services import _entry
from sahaya.tickets.tables import TicketRow
from sahaya.voice import domain
from sahaya.voice.errors import CallbackNotOpen, UnknownCallback
from sahaya.voice.ports import CallPlacer, CallRequest, PlaceCallError, PlacerAccount
from sahaya.voice.repository import (
    VoiceRepository,
    claim_for_callback,
    provisional_sid,
    screen_pops,
    unclaim,
)
from sahaya.voice.services import Account, VoiceConfig
from sahaya.voice.tables import CallbackRequestRow, CallRow, VoiceAccountRow

log = logging.getLogger(__name__)
SYSTEM = "system:callback"


def status_token(secret: str, account_id: uuid.UUID) -> str:
    """The credential in the StatusCallback URL of calls Sahaya places: only the webhook
    key's hash is stored, so the URL carries an HMAC of the account id instead."""
    return hmac.new(
        secret.encode(), f"exotel-status:{account_id}".encode(), hashlib.sha256
    ).hexdigest()


def status_url(public_url: str, secret: str, account_id: uuid.UUID) -> str:
    token = status_token(secret, account_id)
    return f"{public_url.rstrip('/')}/webhooks/exotel/status?account={account_id}&token={token}"


@dataclass(frozen=True, slots=True)
class Sweep:
    placed: int = 0
    waiting: int = 0  # nobody free at the right level: tried again shortly
    retried: int = 0  # a try's report never came: counted as failed
    failed: int = 0


async def request_now(
    *, uow: UnitOfWork, actor: Principal, callback_id: uuid.UUID, now: datetime
) -> CallbackRequestRow:
    """A person asks for the call to be placed now (manual trigger)."""
    repo = VoiceRepository(uow.session)
    row = await repo.callback(actor.tenant_id, callback_id, lock=True)
    node = await uow.session.get(NodeRow, row.node_id) if row else None
    if row is None or node is None or not actor.sees(node.path):
        raise UnknownCallback(f"no callback request {callback_id}")
    if row.status != "pending":
        raise CallbackNotOpen(f"callback request {callback_id} is {row.status}")
    row.dial_requested_at = now
    row.next_attempt_at = now
    row.updated_at = now
    return row


async def place_due(
    *,
    uow: UnitOfWork,
    placer: CallPlacer,
    now: datetime,
    config: VoiceConfig,
    policy: domain.CallbackPolicy,
    public_url: str,
    secret: str,
    limit: int = 10,
) -> Sweep:
    """Place the due callbacks (a small batch: rows stay locked while the provider answers)."""
    repo = VoiceRepository(uow.session)
    placed = waiting = retried = failed = 0
    for row in await repo.callbacks_due(now, limit):
        if row.status == "dialling":  # the report of the last try never came
            retried += 1
            await _release_unreported(repo, row, now)
            if not _failed_attempt(row, policy, now, "no report from the provider"):
                failed += 1
            continue
        outcome = await _place(uow, row, placer, now, config, public_url, secret)
        if outcome == "placed":
            placed += 1
        elif outcome == "waiting":
            waiting += 1
        else:
            why = f"try {row.attempts} not placed: {outcome}"
            again = _failed_attempt(row, policy, now, why)
            if not again:
                failed += 1
            await _note(uow, row, f"Callback {why}. " + _next_try(row, again), now)
    return Sweep(placed, waiting, retried, failed)


async def _place(
    uow: UnitOfWork,
    row: CallbackRequestRow,
    placer: CallPlacer,
    now: datetime,
    config: VoiceConfig,
    public_url: str,
    secret: str,
) -> str:
    """Try to place the call: "placed"; "waiting" (nobody free, or the provider's trouble:
    tried again shortly, uncounted); else why it cannot be placed. Such a refusal — no
    account, or one Exotel says waiting will not cure (a 4xx: a number or credentials it
    rejects) — counts as a try, as an unanswered one does: the supervisor sees each reason
    on the request, an operator has the tries' spacing to fix an account, and after the
    last try the request fails with the reason rather than being placed again forever."""
    repo = VoiceRepository(uow.session)
    account = await repo.callback_account(row)
    node = await uow.session.get(NodeRow, row.node_id)
    customer = await uow.session.get(CustomerRow, row.customer_id)
    if account is None or node is None or customer is None:
        row.attempts += 1
        return "no Exotel account" if account is None else "the customer or node is gone"
    async with uow.database.reading() as connection:  # a try that died before placing
        await unclaim(connection, row.tenant_id, provisional_sid(row.id))
    on_call = await repo.executives_on_calls(row.tenant_id, now - config.on_call_horizon)
    chain = await network.escalation_chain(
        uow=uow, node=node, service=row.service_code, now=now, depth=config.depth, on_call=on_call
    )
    if not chain.kept:
        return _wait_for_executive(row, now)
    try:
        credentials = _placer_account(account, secret)
    except UnsealError as exc:  # an operator must fix the key; the request waits, uncounted
        log.error("callback %s not placed: Exotel account %s: %s", row.id, account.name, exc)
        return _wait_for_executive(row, now, str(exc))
    claimed = await _claim(uow, row, account, customer, chain.kept, now, config)
    if claimed is None:  # everyone free at the read was offered another call since
        return _wait_for_executive(row, now)
    step, call_id = claimed
    try:
        sid = await placer.connect(
            credentials,
            CallRequest(
                first=step.executive.phone_e164,
                second=customer.phone_e164,
                status_callback=status_url(public_url, secret, account.id),
                custom_field=f"callback:{row.id}",
                ring_seconds=config.timing.ring_seconds,
            ),
        )
    except PlaceCallError as exc:
        log.warning("callback %s not placed: %s", row.id, exc)
        async with uow.database.reading() as connection:  # the executive is free again
            await unclaim(connection, row.tenant_id, provisional_sid(row.id))
        row.last_error = str(exc)[:500]
        row.updated_at = now
        if exc.transient:
            row.next_attempt_at = now + domain.CallbackPolicy().wait_for_executive
            return "waiting"
        row.attempts += 1
        return str(exc)
    call = await uow.session.get(CallRow, call_id)
    assert call is not None  # noqa: S101 - committed by the claim
    call.call_sid = sid  # the executive counts as on a call until the report comes
    # The customer's card on the console of the executive Exotel is ringing.
    await screen_pops(
        uow.database, executives=(step.executive.id,), sid=sid, offered_at=now, customer=customer.id
    )
    row.status = "dialling"
    row.attempts += 1
    row.last_call_id = call.id  # a requested callback keeps its request: its retries follow
    row.next_attempt_at = now + domain.CallbackPolicy().report_timeout
    row.updated_at = now
    return "placed"


async def _release_unreported(
    repo: VoiceRepository, row: CallbackRequestRow, now: datetime
) -> None:
    """A try whose report never came stops holding its executive."""
    if row.last_call_id is None:
        return
    for leg in await repo.legs(row.last_call_id):
        if leg.outcome is None:
            leg.outcome, leg.ended_at = domain.LegOutcome.UNREPORTED.value, now


def _wait_for_executive(row: CallbackRequestRow, now: datetime, why: str | None = None) -> str:
    if why is not None:
        row.last_error = why[:500]
    row.next_attempt_at = now + domain.CallbackPolicy().wait_for_executive
    row.updated_at = now
    return "waiting"


async def _claim(
    uow: UnitOfWork,
    row: CallbackRequestRow,
    account: VoiceAccountRow,
    customer: CustomerRow,
    kept: tuple[ChainStep, ...],
    now: datetime,
    config: VoiceConfig,
) -> tuple[ChainStep, uuid.UUID] | None:
    """The first executive of the chain this callback could hold, and its provisional call
    (committed at once, see `repository._CLAIM_FOR_CALLBACK`)."""
    async with uow.database.reading() as connection:
        for step in kept:
            call_id = await claim_for_callback(
                connection,
                {
                    "tenant": row.tenant_id,
                    "account": account.id,
                    "sid": provisional_sid(row.id),
                    "phone": step.executive.phone_e164,
                    "to": customer.phone_e164,
                    "customer": customer.id,
                    "node": row.node_id,
                    "service": row.service_code,
                    "reason": f"callback {row.id}: {step.reason}",
                    "ticket": row.ticket_id,
                    "executive": step.executive.id,
                    "level": step.level.value,
                    "now": now,
                    "since": now - config.on_call_horizon,
                },
            )
            if call_id is not None:
                return step, call_id
    return None


def _placer_account(account: VoiceAccountRow, secret: str) -> PlacerAccount:
    return PlacerAccount(
        api_base_url=account.api_base_url,
        account_sid=account.account_sid,
        api_key=account.api_key,
        api_token=unseal(account.api_token, secret),
        caller_id=account.caller_id,
    )


def _failed_attempt(
    row: CallbackRequestRow, policy: domain.CallbackPolicy, now: datetime, why: str
) -> bool:
    """Schedule the next try; False when the tries are used up (the request fails)."""
    row.last_error = why[:500]
    row.updated_at = now
    retry_at = policy.after_failed_attempt(row.attempts, now)
    if retry_at is None:
        row.status, row.next_attempt_at = "failed", None
        return False
    row.status, row.next_attempt_at = "pending", retry_at
    return True


async def on_report(
    *,
    uow: UnitOfWork,
    call: CallRow,
    status: str,
    legs: tuple[str | None, ...],
    talked: bool,
    duration: int | None,
    now: datetime,
    policy: domain.CallbackPolicy,
) -> None:
    """The provider's report on a placed callback: done, or another try later."""
    repo = VoiceRepository(uow.session)
    row = await repo.callback_for_call(call.id)
    if row is None or row.status != "dialling":
        return
    # Without `Legs` (a form report), a completed call is one the executive took.
    executive = legs[0] if legs else ("completed" if talked else status)
    for leg in await repo.legs(call.id):
        leg.outcome = "answered" if executive == "completed" else "no_answer"
        leg.ended_at = now
    if talked:
        row.status, row.completed_at, row.next_attempt_at = "completed", now, None
        row.updated_at = now
        note = f"Called back: conversation of {duration or 0} s."
    else:
        who = "the executive" if executive != "completed" else "the customer"
        again = _failed_attempt(row, policy, now, f"try {row.attempts}: {status} ({who})")
        note = f"Callback try {row.attempts}: {status}, {who} did not pick up. " + _next_try(
            row, again
        )
    await _note(uow, row, note, now)


def _next_try(row: CallbackRequestRow, again: bool) -> str:
    return f"Next try at {row.next_attempt_at:%H:%M} UTC." if again else "No tries left."


async def _note(uow: UnitOfWork, row: CallbackRequestRow, note: str, now: datetime) -> None:
    """What became of a try, on the request's ticket, for the agents who follow it."""
    if row.ticket_id is None:
        return
    ticket = await uow.session.get(TicketRow, row.ticket_id)
    if ticket is None:
        return
    tickets = TicketRepository(uow.session)
    _entry(
        tickets,
        ticket,
        kind=ticket_domain.EntryKind.SYSTEM_EVENT,
        author=SYSTEM,
        body=note,
        now=now,
    )
    tickets.record_event(
        ticket, actor=SYSTEM, action="callback", changes={"status": row.status}, now=now
    )


def _callback_id(custom_field: str | None) -> uuid.UUID | None:
    prefix, _, value = (custom_field or "").partition(":")
    if prefix != "callback":
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class StatusEvent:
    call_sid: str
    status: str
    event_type: str
    duration: int | None
    recording_url: str | None
    legs: tuple[str | None, ...] = ()
    custom_field: str | None = None


_STATUS_OUTCOME = {
    "completed": domain.Outcome.ANSWERED,
    "busy": domain.Outcome.BUSY,
    "no-answer": domain.Outcome.NO_ANSWER,
    "failed": domain.Outcome.FAILED,
    "canceled": domain.Outcome.CALLER_HUNG_UP,
}


async def record_status(
    *,
    uow: UnitOfWork,
    account: Account,
    event: StatusEvent,
    now: datetime,
    policy: domain.CallbackPolicy,
) -> bool:
    """The end of a call Sahaya placed. The outcome is written once (Exotel retries up to
    twice), and a callback's request moves on; False when the call is not one of ours."""
    repo = VoiceRepository(uow.session)
    callback_id = _callback_id(event.custom_field)
    if callback_id is not None:
        # The report can overtake the commit of the transaction that placed the call (a
        # fast failure): waiting for the request's row lock waits for that commit.
        await repo.callback(account.tenant_id, callback_id, lock=True)
    call = await repo.call(account.tenant_id, event.call_sid, lock=True)
    if call is None:
        return False
    if event.event_type != "terminal" or call.outcome is not None:
        return True
    outcome = _STATUS_OUTCOME.get(event.status)
    if outcome is None:  # in-progress: not an end
        return True
    # Answered means a conversation; otherwise whoever did not pick up decides.
    talked = domain.conversation_happened(event.status, event.legs, event.duration)
    if talked:
        outcome = domain.Outcome.ANSWERED
        # The executive rung first took it: like an inbound call they answered, it ends
        # the customer's run of unanswered calls (the busy-caller rule).
        legs = await repo.legs(call.id)
        call.answered_by = legs[0].executive_id if legs else None
    elif outcome == domain.Outcome.ANSWERED:
        outcome = domain.Outcome.NO_ANSWER
    call.outcome = outcome.value
    call.duration_seconds = event.duration
    call.recording_url = event.recording_url
    call.ended_at = call.updated_at = now
    await on_report(
        uow=uow,
        call=call,
        status=event.status,
        legs=event.legs,
        talked=talked,
        duration=event.duration,
        now=now,
        policy=policy,
    )
    return True
