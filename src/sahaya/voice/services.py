"""Use cases of the voice context: gate a call, plan who rings, record how it ended, and turn
repeated unanswered calls into a ticket and a callback. Keyword-only, time passed in.

The gate is the hot path: it reads the customer and writes the call row on a plain psycopg
connection (ADR 0005). The rest goes through the unit of work.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sahaya.access import Principal
from sahaya.access.tokens import token_hash  # webhook keys are kept like API tokens
from sahaya.customers import CustomerRow
from sahaya.customers.repository import card_by_phone
from sahaya.network import NetworkRepository, NodeRow
from sahaya.network import domain as network_domain
from sahaya.network.repository import ancestor_paths
from sahaya.persistence import Database, UnitOfWork
from sahaya.persistence.sealed import seal
from sahaya.voice import domain
from sahaya.voice.domain import CallReport, GateDecision
from sahaya.voice.errors import InvalidTiming
from sahaya.voice.repository import (
    VoiceRepository,
    account_by_key,
    account_row_by_id,
    mark_verified_by_call,
    record_gate,
    record_gates,
)
from sahaya.voice.tables import CallbackRequestRow, VoiceAccountRow, VoiceNodeTimingRow

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
    secret: str = "",
) -> tuple[VoiceAccountRow, str]:
    """A new Exotel account and its webhook secret (shown once; only its hash is kept). The
    API token is sealed with `secret` (the server's secret key)."""
    key = secrets.token_urlsafe(24)
    row = VoiceAccountRow(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=name.strip() or "exotel",
        webhook_key_hash=token_hash(key),
        account_sid=account_sid,
        api_base_url=api_base_url,
        api_key=api_key,
        api_token=seal(api_token, secret),
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
            found = await account_by_key(connection, token_hash(key))
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
    return await VoiceRepository(uow.session).account_by_hash(token_hash(key))


# --------------------------------------------------------------------------------- gate


@dataclass(frozen=True, slots=True)
class GateResult:
    decision: GateDecision
    reason: str
    repeated: bool = False


async def gate(
    *, database: Database, account: Account, report: CallReport, now: datetime
) -> GateResult:
    """Registered caller → allow; unknown, blocked or unreadable number → deny. The call row
    is written either way; a repeated request gets the first decision back. A call to the
    verification number marks a registered caller's number verified (missed-call
    verification): the call row and the customer's `verified_via`/`verified_at` record it."""
    verifying = account.is_verification_call(report.called)
    e164 = report.caller_e164
    card = None
    if e164 is None:
        decision, reason = GateDecision.DENY, f"caller number {report.caller!r} cannot be read"
    else:
        card = await card_by_phone(database, account.tenant_id, e164)
        if card is None:
            decision, reason = GateDecision.DENY, f"{e164} is not a registered customer"
        elif card.blocked:
            decision, reason = GateDecision.DENY, f"{e164} is blocked"
        elif verifying:
            decision = GateDecision.ALLOW
            reason = f"missed-call verification of {e164} ({card.name})"
        else:
            decision = GateDecision.ALLOW
            reason = f"registered customer {card.name} of {card.home_node}"
    values = (
        uuid.uuid4(),
        account.tenant_id,
        account.id,
        report.call_sid,
        report.caller,
        e164,
        report.called,
        card.id if card else None,
        card.home_node_id if card else None,
        decision.value,
        reason,
        now,
        now,
    )
    if not verifying:  # the hot path: one autocommit statement, shared by a batch of calls
        calls = database.batcher("call-gate", functools.partial(record_gates, database))
        recorded = await calls.get(values)
        assert recorded is not None  # noqa: S101 - every row of a batch gets an answer
        stored, stored_reason, inserted = recorded
    else:
        async with database.reading() as connection, connection.transaction():
            stored, stored_reason, inserted = await record_gate(connection, values)
            if inserted and card is not None and decision == GateDecision.ALLOW:
                await mark_verified_by_call(connection, card.id, now)
    return GateResult(GateDecision(stored), stored_reason, repeated=not inserted)


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


@dataclass(frozen=True, slots=True)
class NodeTiming:
    node: str
    ring_seconds: int
    budget_seconds: int
    set_at: str | None  # the node whose setting applies; None: the install's default


async def effective_timing(*, uow: UnitOfWork, node: NodeRow, config: VoiceConfig) -> NodeTiming:
    rows = await VoiceRepository(uow.session).timings(node.tenant_id)
    overrides = {path: domain.DialTiming(r.ring_seconds, r.budget_seconds) for path, r in rows}
    timing = domain.timing_for(node.path, overrides, config.timing)
    source = next((p for p in reversed(ancestor_paths(node.path)) if p in overrides), None)
    return NodeTiming(node.path, timing.ring_seconds, timing.budget_seconds, source)


async def set_timing(
    *,
    uow: UnitOfWork,
    node: NodeRow,
    ring_seconds: int | None,
    budget_seconds: int | None,
    now: datetime,
) -> None:
    """Set (or, with both None, remove) a node's own timing; its subtree inherits it."""
    repo = VoiceRepository(uow.session)
    row = await uow.session.get(VoiceNodeTimingRow, node.id)
    if ring_seconds is None and budget_seconds is None:
        if row is not None:
            await uow.session.delete(row)
        return
    ring = ring_seconds if ring_seconds is not None else (row.ring_seconds if row else 20)
    budget = budget_seconds if budget_seconds is not None else (row.budget_seconds if row else 120)
    try:
        domain.DialTiming(ring, budget)
    except ValueError as exc:
        raise InvalidTiming(str(exc), field="ring_seconds") from None
    if row is None:
        repo.add(
            VoiceNodeTimingRow(
                tenant_id=node.tenant_id,
                node_id=node.id,
                ring_seconds=ring,
                budget_seconds=budget,
                updated_at=now,
            )
        )
    else:
        row.ring_seconds, row.budget_seconds, row.updated_at = ring, budget, now


@dataclass(frozen=True, slots=True)
class Presence:
    executive_id: uuid.UUID
    name: str
    rank: int
    node: str
    phone: str
    availability: str
    on_call: bool  # offered a call that has not ended (derived from the call records)


async def presence(
    *, uow: UnitOfWork, actor: Principal, node_path: str | None, now: datetime, config: VoiceConfig
) -> list[Presence]:
    """Who is free, away or on a call, inside the actor's subtree (or `node_path` in it)."""
    scope = node_path if node_path and actor.sees(node_path) else actor.node_path
    people = await NetworkRepository(uow.session).executives_in_subtree(actor.tenant_id, scope)
    busy = await VoiceRepository(uow.session).executives_on_calls(
        actor.tenant_id, now - config.on_call_horizon
    )
    return [
        Presence(e.id, e.name, e.rank, n.path, e.phone_e164, e.availability, e.id in busy)
        for e, n in people
    ]
