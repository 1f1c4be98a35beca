"""Use cases of the voice context: gate a call, plan who rings, record how it ended, and turn
repeated unanswered calls into a ticket and a callback. Keyword-only, time passed in.

The gate is the hot path: it reads the customer and writes the call row on a plain psycopg
connection (ADR 0005). The rest goes through the unit of work.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from psycopg import AsyncConnection

from sahaya.access import Principal, Role
from sahaya.access.repository import AccessRepository
from sahaya.customers import CustomerRepository, CustomerRow, InvalidPhone, to_e164
from sahaya.customers.repository import card_by_phone
from sahaya.messaging import services as messaging
from sahaya.network import ExecutiveRow, NetworkRepository, NodeRow
from sahaya.network import domain as network_domain
from sahaya.network import services as network
from sahaya.network.repository import ancestor_paths
from sahaya.persistence import Database, UnitOfWork
from sahaya.tickets import domain as ticket_domain
from sahaya.tickets import intake as ticket_intake
from sahaya.voice import domain
from sahaya.voice.domain import GateDecision, Outcome
from sahaya.voice.repository import (
    VoiceRepository,
    account_by_key,
    account_row_by_id,
    active_services,
    call_for_dial,
    mark_verified_by_call,
    offer,
    path_executives,
    record_gate,
)
from sahaya.voice.tables import CallbackRequestRow, CallRow, VoiceAccountRow

SYSTEM = "system:voice"


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    timing: domain.DialTiming = field(default_factory=domain.DialTiming)
    busy: domain.BusyRule = field(default_factory=domain.BusyRule)
    miss_limit: int = 3
    depth: network_domain.ChainDepth = field(default_factory=network_domain.ChainDepth)
    max_conversation_seconds: int = 3600
    thread_window: timedelta = timedelta(hours=24)
    auto_callback: bool = False

    @property
    def on_call_horizon(self) -> timedelta:
        """After this long a call whose outcome never came no longer blocks its executives."""
        return timedelta(seconds=self.timing.budget_seconds + self.max_conversation_seconds)


@dataclass(frozen=True, slots=True)
class Account:
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    caller_id: str
    verify_number: str = ""

    def is_verification_call(self, called: str) -> bool:
        """A call to the verification ExoPhone (compared on the last 10 digits, as Exotel
        writes its numbers with or without 0 and country code)."""
        return bool(self.verify_number) and _last10(called) == _last10(self.verify_number)


def _last10(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())[-10:]


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def create_account(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    name: str,
    caller_id: str,
    verify_number: str = "",
    account_sid: str = "",
    api_base_url: str = "https://api.in.exotel.com",
    api_key: str = "",
    api_token: str = "",
) -> tuple[VoiceAccountRow, str]:
    """A new Exotel account and its webhook secret (shown once; only its hash is kept)."""
    key = secrets.token_urlsafe(24)
    row = VoiceAccountRow(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=name.strip() or "exotel",
        webhook_key_hash=key_hash(key),
        account_sid=account_sid,
        api_base_url=api_base_url,
        api_key=api_key,
        api_token=api_token,
        caller_id=caller_id,
        verify_number=verify_number,
    )
    VoiceRepository(uow.session).add(row)
    await uow.flush()
    return row, key


async def account_for_key(*, database: Database, key: str) -> Account | None:
    """The Exotel account whose webhook secret this is (cached per process, by the key: it
    is in every flow URL anyway, and hashing it per request showed in the gate's profile)."""
    if not key or len(key) > 200:
        return None

    async def load() -> Account | None:
        async with database.reading() as connection:
            found = await account_by_key(connection, key_hash(key))
        return None if found is None else Account(*found)

    return await database.reference_cache.get(("voice_account", key), load, keep_none=False)


async def account_by_id(*, database: Database, account_id: uuid.UUID) -> Account | None:
    """An account by id (for URLs signed with `callbacks.status_token`), cached per process."""

    async def load() -> Account | None:
        async with database.reading() as connection:
            found = await account_row_by_id(connection, account_id)
        return None if found is None else Account(*found)

    return await database.reference_cache.get(
        ("voice_account_id", account_id), load, keep_none=False
    )


async def account_for_key_in(*, uow: UnitOfWork, key: str) -> VoiceAccountRow | None:
    """The account row for a webhook key, through the unit of work (no cache)."""
    return await VoiceRepository(uow.session).account_by_hash(key_hash(key))


# --------------------------------------------------------------------------------- gate


@dataclass(frozen=True, slots=True)
class GateResult:
    decision: GateDecision
    reason: str
    repeated: bool = False


async def gate(
    *,
    database: Database,
    account: Account,
    call_sid: str,
    caller: str,
    caller_e164: str | None,
    called: str,
    now: datetime,
) -> GateResult:
    """Registered caller → allow; unknown, blocked or unreadable number → deny. The call row
    is written either way; a repeated request gets the first decision back. A call to the
    verification number marks a registered caller's number verified (missed-call
    verification): the call row and the customer's `verified_via`/`verified_at` record it."""
    verifying = account.is_verification_call(called)
    async with database.reading() as connection:
        card = None
        if caller_e164 is None:
            decision, reason = GateDecision.DENY, f"caller number {caller!r} cannot be read"
        else:
            card = await card_by_phone(connection, account.tenant_id, caller_e164)
            if card is None:
                decision, reason = GateDecision.DENY, f"{caller_e164} is not a registered customer"
            elif card.blocked:
                decision, reason = GateDecision.DENY, f"{caller_e164} is blocked"
            elif verifying:
                decision = GateDecision.ALLOW
                reason = f"missed-call verification of {caller_e164} ({card.name})"
            else:
                decision = GateDecision.ALLOW
                reason = f"registered customer {card.name} of {card.home_node}"
        values = (
            uuid.uuid4(),
            account.tenant_id,
            account.id,
            call_sid,
            caller,
            caller_e164,
            called,
            card.id if card else None,
            card.home_node_id if card else None,
            decision.value,
            reason,
            now,
            now,
        )
        if not verifying:  # the hot path: one autocommit statement
            stored, stored_reason, inserted = await record_gate(connection, values)
        else:
            async with connection.transaction():
                stored, stored_reason, inserted = await record_gate(connection, values)
                if inserted and card is not None and decision == GateDecision.ALLOW:
                    await mark_verified_by_call(connection, card.id, now)
    return GateResult(GateDecision(stored), stored_reason, repeated=not inserted)


# --------------------------------------------------------------------------------- dial


@dataclass(frozen=True, slots=True)
class DialPlan:
    numbers: tuple[str, ...]
    reason: str
    steps: tuple[str, ...] = ()


async def _ensure_call(
    uow: UnitOfWork,
    account: Account,
    *,
    call_sid: str,
    caller: str,
    caller_e164: str | None,
    called: str,
    now: datetime,
) -> CallRow:
    """The call's row, locked; written now if the gate never saw it (a flow without a gate,
    or a gate that fell back while the database was away). Safe against the gate writing
    the same call at the same moment (Exotel retries overlap)."""
    repo = VoiceRepository(uow.session)
    row = await repo.call(account.tenant_id, call_sid, lock=True)
    if row is not None:
        return row
    found = None
    if caller_e164 is not None:
        found = await CustomerRepository(uow.session).by_phone(account.tenant_id, caller_e164)
    customer = found[0] if found else None
    allowed = customer is not None and not customer.blocked
    await repo.insert_call_if_new(
        {
            "id": uuid.uuid4(),
            "tenant_id": account.tenant_id,
            "account_id": account.id,
            "call_sid": call_sid,
            "direction": "inbound",
            "from_raw": caller,
            "from_e164": caller_e164,
            "to_raw": called,
            "customer_id": customer.id if customer else None,
            "node_id": customer.home_node_id if customer else None,
            "decision": (GateDecision.ALLOW if allowed else GateDecision.DENY).value,
            "reason": "recorded after the gate: "
            + ("registered customer" if allowed else "not allowed"),
            "started_at": now,
            "updated_at": now,
        }
    )
    row = await repo.call(account.tenant_id, call_sid, lock=True)
    assert row is not None  # noqa: S101 - inserted or already there
    return row


async def dial(
    *,
    database: Database,
    account: Account,
    call_sid: str,
    caller: str,
    caller_e164: str | None,
    called: str,
    digits: str | None,
    now: datetime,
    config: VoiceConfig,
) -> DialPlan:
    """Who rings for this call, in order: the escalation chain of the caller's home
    sub-district, without executives away, off shift or on another call. A repeated request
    (Exotel retries) gets the same list back. Three statements in one transaction on a
    plain psycopg connection: the call (locked), the executives along the tree, the offer."""
    for _ in range(2):
        async with database.reading() as connection, connection.transaction():
            row = await call_for_dial(connection, account.tenant_id, call_sid)
            if row is not None:
                return await _plan(
                    connection, database, account, call_sid, row, digits, now, config
                )
        # A call the gate never saw (a flow without one, or a gate that fell back): record
        # it as the gate would, then plan.
        await gate(
            database=database,
            account=account,
            call_sid=call_sid,
            caller=caller,
            caller_e164=caller_e164,
            called=called,
            now=now,
        )
    raise RuntimeError(f"call {call_sid} vanished while planning its dial list")


async def _plan(
    connection: AsyncConnection,
    database: Database,
    account: Account,
    call_sid: str,
    row: tuple[Any, ...],
    digits: str | None,
    now: datetime,
    config: VoiceConfig,
) -> DialPlan:
    call_id, decision, reason, outcome, node_id, path, customer_id, offered = row
    if offered:
        return DialPlan(tuple(offered), "repeated request: same list")
    if decision == GateDecision.DENY.value or node_id is None:
        return DialPlan((), f"not dialled: {reason}")
    if outcome is not None:
        return DialPlan((), "not dialled: the call has ended")

    async def load() -> tuple[str, ...]:
        return await active_services(connection, account.tenant_id)

    active = await database.reference_cache.get(("active_services", account.tenant_id), load)
    service = domain.selected_service(active, digits)
    if service is None:
        return DialPlan((), f"no service chosen (digits {digits!r}, {len(active)} active)")
    found = await path_executives(
        connection, account.tenant_id, ancestor_paths(path), now - config.on_call_horizon
    )
    nodes, on_call = _node_views(found)
    chain = network_domain.escalation_chain(
        path=nodes, service=service, now=now, depth=config.depth, on_call=on_call
    )
    kept = chain.kept[: config.timing.max_numbers]
    if kept:
        plan = DialPlan(
            tuple(s.executive.phone_e164 for s in kept),
            f"{len(kept)} to ring",
            tuple(s.reason for s in chain.steps) + chain.gaps,
        )
    else:
        gaps = "; ".join(chain.gaps or ("empty chain",))
        plan = DialPlan((), f"nobody reachable: {gaps}", chain.gaps)
    await offer(
        connection,
        {
            "tenant": account.tenant_id,
            "call": call_id,
            "sid": call_sid,
            "customer": customer_id,
            "now": now,
            "executives": [s.executive.id for s in kept],
            "positions": list(range(1, len(kept) + 1)),
            "levels": [s.level.value for s in kept],
            "phones": [s.executive.phone_e164 for s in kept],
            "service": service,
            "reason": plan.reason[:1000],
        },
    )
    return plan


@lru_cache(maxsize=4096)
def _hours(text: str, tz: str) -> network_domain.WeeklyHours:
    """Parsed working hours, by their JSON text: the same few shapes recur on every call."""
    return network_domain.WeeklyHours.from_mapping(json.loads(text), tz=tz)


def _node_views(
    rows: list[tuple[Any, ...]],
) -> tuple[list[network_domain.NodeView], frozenset[uuid.UUID]]:
    """The path's nodes nearest first, each with its executives; who is on a call."""
    nodes: dict[uuid.UUID, tuple[str, str, str, list[network_domain.ExecutiveView]]] = {}
    on_call = set()
    for node_id, name, level, path, *executive in rows:
        entry = nodes.setdefault(node_id, (name, level, path, []))
        exec_id, exec_name, rank, phone, services, hours, tz, availability, busy = executive
        if exec_id is None:
            continue
        entry[3].append(
            network_domain.ExecutiveView(
                id=exec_id,
                name=exec_name,
                rank=rank,
                phone_e164=phone,
                services=frozenset(services),
                hours=_hours(hours, tz),
                availability=network_domain.Availability(availability),
            )
        )
        if busy:
            on_call.add(exec_id)
    ordered = sorted(nodes.items(), key=lambda item: item[1][2].count("/"), reverse=True)
    views = [
        network_domain.NodeView(
            id=node_id, name=name, level=network_domain.Level(level), executives=tuple(people)
        )
        for node_id, (name, level, _, people) in ordered
    ]
    return views, frozenset(on_call)


# ------------------------------------------------------------------------------ outcome


@dataclass(frozen=True, slots=True)
class Recorded:
    outcome: Outcome
    repeated: bool
    ticket_number: str | None = None
    callback_id: uuid.UUID | None = None
    set_away: tuple[str, ...] = ()


async def record_outcome(
    *,
    uow: UnitOfWork,
    account: Account,
    call_sid: str,
    caller: str,
    caller_e164: str | None,
    called: str,
    call_type: str | None,
    dial_status: str | None,
    dialled: str | None,
    duration: int | None,
    recording_url: str | None,
    now: datetime,
    config: VoiceConfig,
) -> Recorded:
    """How the call ended: per leg, for the call, and what follows — executives who keep
    missing calls are set away, and a caller who keeps getting nobody gets a ticket and a
    callback."""
    call = await _ensure_call(
        uow,
        account,
        call_sid=call_sid,
        caller=caller,
        caller_e164=caller_e164,
        called=called,
        now=now,
    )
    if call.outcome is not None:
        return Recorded(Outcome(call.outcome), repeated=True)
    dialled_e164 = _e164(dialled)
    outcome = domain.outcome_of(call_type=call_type, dial_status=dial_status, dialled=dialled)
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
    call.dialled_number = dialled_e164 or dialled
    call.duration_seconds = duration
    call.recording_url = recording_url
    call.ended_at = call.updated_at = now
    await uow.flush()
    away = await _pause_repeat_missers(uow, account, missed, now, config)
    recorded = Recorded(outcome, repeated=False, set_away=away)
    if outcome in domain.UNANSWERED and call.customer_id is not None:
        return await _busy_caller(uow, account, call, recorded, now, config)
    return recorded


def _e164(raw: str | None) -> str | None:
    try:
        return to_e164(raw) if raw else None
    except InvalidPhone:
        return None


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
    account: Account,
    call: CallRow,
    recorded: Recorded,
    now: datetime,
    config: VoiceConfig,
) -> Recorded:
    """N unanswered calls within the window: one ticket (or the open one) and one callback
    request, however many calls or concurrent outcomes arrive (the customer row is locked)."""
    assert call.customer_id is not None  # noqa: S101 - checked by the caller
    repo = VoiceRepository(uow.session)
    customer = await repo.lock_customer(call.customer_id)
    if customer is None:
        return recorded
    times = await repo.unanswered_since(customer.id, now - config.busy.window)
    if not config.busy.triggered(times, now):
        return recorded
    existing = await repo.open_callback(customer.id)
    if existing is not None:
        call.ticket_id = existing.ticket_id
        return Recorded(recorded.outcome, False, None, existing.id, recorded.set_away)
    home = await uow.session.get(NodeRow, customer.home_node_id)
    assert home is not None  # noqa: S101 - foreign key
    service = call.service_code or await _first_active_service(uow, account.tenant_id)
    opened = await ticket_intake.open_ticket(
        uow=uow,
        actor=await _system_actor(uow, account, home),
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
        tenant_id=account.tenant_id,
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


async def _system_actor(uow: UnitOfWork, account: Account, home: NodeRow) -> Principal:
    root_path = home.path.split("/")[0]
    root = await NetworkRepository(uow.session).node(account.tenant_id, root_path)
    assert root is not None  # noqa: S101 - every node has its root
    return Principal(
        tenant_id=account.tenant_id,
        role=Role.ADMIN,
        node_id=root.id,
        node_path=root.path,
        token_id=uuid.UUID(int=0),
        name=SYSTEM,
    )


async def callbacks(
    *,
    uow: UnitOfWork,
    actor: Principal,
    node_path: str | None,
    statuses: tuple[str, ...],
    limit: int,
) -> list[tuple[CallbackRequestRow, NodeRow, CustomerRow]]:
    """Callback requests the actor may see, oldest first."""
    scope = node_path or actor.node_path
    if not actor.sees(scope):
        scope = actor.node_path
    return await VoiceRepository(uow.session).callbacks(actor.tenant_id, scope, statuses, limit)
