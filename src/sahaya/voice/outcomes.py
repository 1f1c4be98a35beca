"""How an inbound call ended (Exotel's Passthru after Connect): per executive and for the
call, then what follows — executives who keep missing calls are set away, and a caller who
keeps getting nobody gets a ticket and a callback request."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from sahaya.access import Principal, Role
from sahaya.access.repository import AccessRepository
from sahaya.customers import CustomerRepository
from sahaya.messaging import services as messaging
from sahaya.network import ExecutiveRow, NetworkRepository, NodeRow
from sahaya.network import domain as network_domain
from sahaya.network import services as network
from sahaya.network.repository import ancestor_paths
from sahaya.persistence import Database, UnitOfWork
from sahaya.tickets import domain as ticket_domain
from sahaya.tickets import intake as ticket_intake
from sahaya.voice import domain
from sahaya.voice.domain import CallReport, GateDecision, Outcome
from sahaya.voice.repository import (
    VoiceRepository,
    call_for_outcome,
    cancel_served_callback,
    close_call,
    recent_outcomes,
    served_reason,
    settle_unanswered,
)
from sahaya.voice.services import SYSTEM, Account, VoiceConfig
from sahaya.voice.tables import CallbackRequestRow, CallRow

log = logging.getLogger(__name__)


async def _ensure_call(
    uow: UnitOfWork, account: Account, report: CallReport, now: datetime
) -> CallRow:
    """The call's row, locked; written now if the gate never saw it (a flow without a gate,
    or a gate that fell back while the database was away). Safe against the gate writing
    the same call at the same moment (Exotel retries overlap)."""
    repo = VoiceRepository(uow.session)
    row = await repo.call(account.tenant_id, report.call_sid, lock=True)
    if row is not None:
        return row
    found = None
    if report.caller_e164 is not None:
        customers = CustomerRepository(uow.session)
        found = await customers.by_phone(account.tenant_id, report.caller_e164)
    customer = found[0] if found else None
    allowed = customer is not None and not customer.blocked
    await repo.insert_call_if_new(
        {
            "id": uuid.uuid4(),
            "tenant_id": account.tenant_id,
            "account_id": account.id,
            "call_sid": report.call_sid,
            "direction": "inbound",
            "from_raw": report.caller,
            "from_e164": report.caller_e164,
            "to_raw": report.called,
            "customer_id": customer.id if customer else None,
            "node_id": customer.home_node_id if customer else None,
            "decision": (GateDecision.ALLOW if allowed else GateDecision.DENY).value,
            "reason": "recorded after the gate: "
            + ("registered customer" if allowed else "not allowed"),
            "started_at": now,
            "updated_at": now,
        }
    )
    row = await repo.call(account.tenant_id, report.call_sid, lock=True)
    assert row is not None  # noqa: S101 - inserted or already there
    return row


# ------------------------------------------------------------------------------ outcome


@dataclass(frozen=True, slots=True)
class Recorded:
    outcome: Outcome
    repeated: bool
    ticket_number: str | None = None
    callback_id: uuid.UUID | None = None
    set_away: tuple[str, ...] = ()
    busy_rule_due: bool = False  # closed by the fast path; `apply_busy_rule` still to run


async def record_outcome(
    *, uow: UnitOfWork, account: Account, report: CallReport, now: datetime, config: VoiceConfig
) -> Recorded:
    """How the call ended: per leg, for the call, and what follows — executives who keep
    missing calls are set away, and a caller who keeps getting nobody gets a ticket and a
    callback."""
    call = await _ensure_call(uow, account, report, now)
    if call.outcome is not None:
        return Recorded(Outcome(call.outcome), repeated=True)
    dialled_e164, outcome = report.dialled_e164, report.outcome
    repo = VoiceRepository(uow.session)
    legs = await repo.legs(call.id)
    results = domain.leg_outcomes([leg.phone_e164 for leg in legs], dialled_e164, outcome)
    missed: list[uuid.UUID] = []
    for leg, result in zip(legs, results, strict=True):
        leg.outcome, leg.ended_at = result.value, now
        if result == domain.LegOutcome.ANSWERED:
            call.answered_by = leg.executive_id
        if result in domain.MISSES:
            missed.append(leg.executive_id)
    call.outcome = outcome.value
    call.dialled_number = dialled_e164 or report.dialled
    call.duration_seconds = report.duration
    call.recording_url = report.recording_url
    call.ended_at = call.updated_at = now
    await uow.flush()
    if call.answered_by is not None and call.customer_id is not None:
        await cancel_served_callback(await uow.driver(), call.customer_id, call.call_sid, now)
    away = await _pause_repeat_missers(uow, account, missed, now, config)
    recorded = Recorded(outcome, repeated=False, set_away=away)
    if outcome in domain.UNANSWERED and call.customer_id is not None:
        return await _busy_caller(uow, account.tenant_id, call, recorded, now, config)
    return recorded


async def record_outcome_fast(
    *, database: Database, account: Account, report: CallReport, now: datetime, config: VoiceConfig
) -> Recorded | None:
    """The common outcome in two to four autocommit statements on a plain psycopg
    connection (ADR 0013): read the call, maybe the missers' recent legs, close the call
    once, and for an unanswered caller read their unanswered calls again once that close
    has committed. None when the unit-of-work path (`record_outcome`) must run: an unknown
    call, an executive to set away, or a caller this call brings to the busy-caller rule
    (then the close and the rule commit together). `busy_rule_due` when concurrent calls
    brought them there (then `apply_busy_rule` runs it)."""
    since = now - config.busy.window
    async with database.reading() as connection:
        for _ in range(_CLOSE_TRIES):
            row = await call_for_outcome(connection, account.tenant_id, report.call_sid, since)
            if row is None:
                return None
            stored, customer = row[1], row[2]
            if stored is not None:
                return await _repeated(connection, row[0], Outcome(stored), customer, now, config)
            decided = await _decide(connection, report, row, now, config)
            if decided is None:
                return None
            if await close_call(connection, decided):
                break
            # A copy of this report closed the call, or an offer changed it: read again.
        else:
            return None  # still changing under us: the unit of work locks the call
        if report.outcome not in domain.UNANSWERED or customer is None:
            return Recorded(report.outcome, repeated=False)
        times = await settle_unanswered(
            connection, decided["call"], customer, since=since, now=now, calls=config.busy.calls
        )
    due = config.busy.triggered(times, now)
    return Recorded(report.outcome, repeated=False, busy_rule_due=due)


_CLOSE_TRIES = 3


async def _decide(
    connection: AsyncConnection,
    report: CallReport,
    row: tuple[Any, ...],
    now: datetime,
    config: VoiceConfig,
) -> dict[str, Any] | None:
    """The close to write for a call read by `call_for_outcome`, or None when the unit of
    work must take it (an executive to set away, or the busy-caller rule reached)."""
    call_id, _, customer, phones, executives, seen, started, unanswered = row
    outcome, dialled_e164 = report.outcome, report.dialled_e164
    if (
        outcome in domain.UNANSWERED
        and customer is not None
        and config.busy.triggered([*unanswered, started], now)
    ):
        return None
    results = domain.leg_outcomes(list(phones), dialled_e164, outcome)
    missed = [e for e, r in zip(executives, results, strict=True) if r in domain.MISSES]
    if missed and config.miss_limit > 0:
        recent = await recent_outcomes(connection, missed, config.miss_limit - 1)
        for executive in missed:
            history = [domain.LegOutcome.MISSED] + [
                domain.LegOutcome(o) for o in recent.get(executive, [])
            ]
            if domain.missed_in_a_row(history, config.miss_limit):
                return None
    answered = next(
        (e for e, r in zip(executives, results, strict=True) if r == domain.LegOutcome.ANSWERED),
        None,
    )
    return {
        "call": call_id,
        # An unanswered call of a registered caller: its busy-caller rule is pending until
        # this request (or, if it dies, the worker's sweep) settles it.
        "watch": outcome in domain.UNANSWERED and customer is not None,
        "seen": seen,
        "now": now,
        "positions": list(range(1, len(results) + 1)),
        "outcomes": [r.value for r in results],
        "outcome": outcome.value,
        "dialled": dialled_e164 or report.dialled,
        "duration": report.duration,
        "recording": report.recording_url,
        "answered_by": answered,
        "customer": customer,
        "served": served_reason(report.call_sid),
    }


async def _repeated(
    connection: AsyncConnection,
    call_id: uuid.UUID,
    stored: Outcome,
    customer: uuid.UUID | None,
    now: datetime,
    config: VoiceConfig,
) -> Recorded:
    """A report of a call already closed. If it was unanswered and the busy-caller rule
    is due, the rule is applied (again, idempotently): the request that closed the call
    may have died before it did (and a pending rule not reached is settled, as the first
    request would have)."""
    if stored not in domain.UNANSWERED or customer is None:
        return Recorded(stored, repeated=True)
    since = now - config.busy.window
    times = await settle_unanswered(
        connection, call_id, customer, since=since, now=now, calls=config.busy.calls
    )
    return Recorded(stored, repeated=True, busy_rule_due=config.busy.triggered(times, now))


async def apply_busy_rule(
    *,
    uow: UnitOfWork,
    account: Account,
    call_sid: str,
    recorded: Recorded,
    now: datetime,
    config: VoiceConfig,
) -> Recorded:
    """The busy-caller rule for a call the fast path closed (`busy_rule_due`); nothing if
    it already ran for this call (the call carries its ticket). Settles the call's pending
    rule in the same transaction."""
    repo = VoiceRepository(uow.session)
    call = await repo.call(account.tenant_id, call_sid, lock=True)
    if call is None:
        return recorded
    await repo.settle_busy_rule(call.id)
    if call.customer_id is None or call.ticket_id is not None:
        return recorded
    return await _busy_caller(uow, account.tenant_id, call, recorded, now, config)


RESUME_AFTER = timedelta(seconds=30)  # the request that closed the call has had its turn


async def resume_busy_rules(
    *, database: Database, now: datetime, config: VoiceConfig, limit: int = 20
) -> int:
    """The worker's sweep: settle the busy-caller rules whose request died between closing
    its call and deciding the rule, each in its own transaction (one customer locked at a
    time). A rule that fails keeps its row, with the error, and is tried again after
    `RESUME_AFTER`. Returns how many were settled or postponed (not those whose call a
    request holds: they stay due)."""
    async with UnitOfWork(database) as uow:
        due = await VoiceRepository(uow.session).busy_rules_due(now - RESUME_AFTER, limit)
    done = 0
    for call_id in due:
        try:
            async with UnitOfWork(database) as uow:
                done += await _resume(uow, call_id, now, config)
                await uow.commit()
        except Exception as exc:
            log.exception("the busy-caller rule of call %s failed; tried again later", call_id)
            async with UnitOfWork(database) as uow:
                error = f"{type(exc).__name__}: {exc}"
                await VoiceRepository(uow.session).postpone_busy_rule(call_id, now, error)
                await uow.commit()
            done += 1
    return done


async def _resume(uow: UnitOfWork, call_id: uuid.UUID, now: datetime, config: VoiceConfig) -> bool:
    """Decide one pending rule as of its call's end — as its request would have — so a
    sweep that runs late still gives the caller the ticket and callback they earned; but
    not a second time, if the rule has run for them since the window opened (a concurrent
    call's request applied it, or a later call did)."""
    repo = VoiceRepository(uow.session)
    call = await repo.pending_busy_rule(call_id)
    if call is None:
        return False  # settled meanwhile, or a request holds the call: next time
    if call.customer_id is not None and call.ticket_id is None and call.outcome:
        as_of = call.ended_at or now
        if not await repo.busy_rule_applied(call.customer_id, as_of - config.busy.window):
            recorded = Recorded(Outcome(call.outcome), repeated=False)
            await _busy_caller(uow, call.tenant_id, call, recorded, now, config, as_of=as_of)
    await repo.settle_busy_rule(call.id)
    return True


async def _pause_repeat_missers(
    uow: UnitOfWork,
    account: Account,
    executive_ids: list[uuid.UUID],
    now: datetime,
    config: VoiceConfig,
) -> tuple[str, ...]:
    """An executive whose last `miss_limit` offered calls all went unanswered is set away,
    and the supervisors of their franchisee's node are told (Asterisk's auto-pause)."""
    repo = VoiceRepository(uow.session)
    paused = []
    for executive_id in executive_ids:
        recent = [
            domain.LegOutcome(o)
            for o in await repo.recent_leg_outcomes(executive_id, config.miss_limit)
        ]
        if not domain.missed_in_a_row(recent, config.miss_limit):
            continue
        executive = await uow.session.get(  # NO KEY UPDATE: leg inserts hold key-share locks
            ExecutiveRow, executive_id, with_for_update={"key_share": True}
        )
        if (
            executive is None
            or executive.availability != network_domain.Availability.AVAILABLE.value
        ):
            continue
        await network.set_availability(
            uow=uow, executive=executive, state=network_domain.Availability.AWAY, now=now
        )
        paused.append(executive.name)
        await _tell_supervisors(uow, account, executive, now, config)
    return tuple(paused)


async def _tell_supervisors(
    uow: UnitOfWork, account: Account, executive: ExecutiveRow, now: datetime, config: VoiceConfig
) -> None:
    network_repo = NetworkRepository(uow.session)
    owned = await network_repo.nodes_of_franchisee(executive.franchisee_id)
    paths = {p for node in owned for p in ancestor_paths(node.path)}
    nodes = await network_repo.nodes_by_paths(account.tenant_id, sorted(paths))
    emails = await AccessRepository(uow.session).supervisor_emails_by_node([n.id for n in nodes])
    recipients = sorted({e for found in emails.values() for e in found})
    if not recipients:
        return
    await messaging.queue_staff_notice(
        uow=uow,
        tenant_id=account.tenant_id,
        recipients=recipients,
        subject=f"{executive.name} set away after {config.miss_limit} missed calls",
        body=(
            f"{executive.name} ({executive.phone_e164}) did not pick up the last "
            f"{config.miss_limit} calls offered and is now set away: new calls skip them. "
            "Set them available again once they are back."
        ),
        reference=f"away:{executive.phone_e164}",
        ticket_id=None,
        now=now,
    )


async def _busy_caller(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    call: CallRow,
    recorded: Recorded,
    now: datetime,
    config: VoiceConfig,
    *,
    as_of: datetime | None = None,
) -> Recorded:
    """N unanswered calls within the window (ending at `as_of`, default now): one ticket
    (or the open one) and one callback request, however many calls or concurrent outcomes
    arrive (the customer row is locked)."""
    assert call.customer_id is not None  # noqa: S101 - checked by the caller
    repo = VoiceRepository(uow.session)
    customer = await repo.lock_customer(call.customer_id)
    if customer is None:
        return recorded
    at = as_of or now
    times = [
        t for t in await repo.unanswered_since(customer.id, at - config.busy.window) if t <= at
    ]
    if not config.busy.triggered(times, at):
        return recorded
    existing = await repo.open_callback(customer.id)
    if existing is not None:
        call.ticket_id = existing.ticket_id
        return Recorded(recorded.outcome, False, None, existing.id, recorded.set_away)
    home = await uow.session.get(NodeRow, customer.home_node_id)
    assert home is not None  # noqa: S101 - foreign key
    service = call.service_code or await _first_active_service(uow, tenant_id)
    opened = await ticket_intake.open_ticket(
        uow=uow,
        actor=await _system_actor(uow, tenant_id, home),
        intake=ticket_intake.Intake(
            customer_id=customer.id,
            service_code=service,
            channel=ticket_domain.Channel.VOICE,
            subject=f"Could not reach support: {len(times)} unanswered calls",
            message=(
                f"{customer.name} ({customer.phone_e164}) called {len(times)} times within "
                f"{int(config.busy.window.total_seconds() // 60)} minutes and nobody answered. "
                "A callback has been requested."
            ),
        ),
        now=now,
        thread_window=config.thread_window,
        known=(customer, home),
    )
    callback = CallbackRequestRow(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        customer_id=customer.id,
        node_id=home.id,
        service_code=service,
        call_id=call.id,
        ticket_id=opened.ticket.id,
        status="pending",
        attempts=0,
        auto=config.auto_callback,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    repo.add(callback)
    call.ticket_id = opened.ticket.id
    await uow.flush()
    return Recorded(recorded.outcome, False, opened.ticket.number, callback.id, recorded.set_away)


async def _first_active_service(uow: UnitOfWork, tenant_id: uuid.UUID) -> str:
    active = [s.code for s in await NetworkRepository(uow.session).services(tenant_id) if s.active]
    return active[0] if active else "apnafood"


async def _system_actor(uow: UnitOfWork, tenant_id: uuid.UUID, home: NodeRow) -> Principal:
    root_path = home.path.split("/")[0]
    root = await NetworkRepository(uow.session).node(tenant_id, root_path)
    assert root is not None  # noqa: S101 - every node has its root
    return Principal(
        tenant_id=tenant_id,
        role=Role.ADMIN,
        node_id=root.id,
        node_path=root.path,
        token_id=uuid.UUID(int=0),
        name=SYSTEM,
    )
