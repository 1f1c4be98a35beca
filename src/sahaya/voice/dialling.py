"""The dial list for the Connect applet: the hot path, two autocommit statements on a plain
psycopg connection — read the call and the executives along its path, then offer it
(ADR 0013). The escalation chain itself is `network.domain`'s pure function."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import DeadlockDetected, SerializationFailure

from sahaya.network import domain as network_domain
from sahaya.persistence import Database
from sahaya.voice import domain
from sahaya.voice.domain import CallReport, GateDecision
from sahaya.voice.fallback import STATE_LINES
from sahaya.voice.repository import (
    active_services,
    dial_view,
    node_timings,
    note_reason,
    offer,
    screen_pops,
)
from sahaya.voice.services import Account, VoiceConfig, gate

log = logging.getLogger(__name__)

# A refused offer (someone in the list was offered another call since the read) is planned
# again from a fresh read; after this many tries the call gets nobody rather than a double
# offer.
_OFFER_TRIES = 4


@dataclass(frozen=True, slots=True)
class DialPlan:
    numbers: tuple[str, ...]
    reason: str
    steps: tuple[str, ...] = ()
    ring_seconds: int | None = None  # the node's own timing, when it sets one


async def dial(
    *, database: Database, account: Account, report: CallReport, now: datetime, config: VoiceConfig
) -> DialPlan:
    """Who rings for this call, in order: the escalation chain of the caller's home
    sub-district, without executives away, off shift or on another call. A repeated request
    (Exotel retries) gets the same list back."""
    since = now - config.on_call_horizon
    gated = False
    call_id = None
    for _ in range(_OFFER_TRIES):
        async with database.reading() as connection:
            if STATE_LINES.due(account.tenant_id):  # for when the database is away
                await STATE_LINES.refresh(connection, account.tenant_id, config.depth.state)
            rows = await dial_view(connection, account.tenant_id, report.call_sid, since)
            if rows:
                found = await _plan(connection, database, account, report, rows, now, config, since)
                if isinstance(found, DialPlan):
                    return found
                plan, values = found
                try:
                    offered, executives = await offer(connection, values)
                except (SerializationFailure, DeadlockDetected):  # `_OFFER`: read, plan again
                    call_id = values["call"]
                    continue
                if not offered and plan.numbers:  # nobody planned is free any more
                    call_id = values["call"]
                    continue
                await screen_pops(
                    database,
                    executives=executives,
                    sid=report.call_sid,
                    offered_at=now,
                    customer=values["customer"],
                    connection=connection,
                )
                if offered == plan.numbers:
                    return plan
                # Some were offered another call since the read: the next in line ring.
                return replace(plan, numbers=offered, reason=values["replanned"] % len(offered))
        if gated:
            raise RuntimeError(f"call {report.call_sid} vanished while planning its dial list")
        # A call the gate never saw (a flow without one, or a gate that fell back): record
        # it as the gate would (on a connection of its own), then plan.
        await gate(database=database, account=account, report=report, now=now)
        gated = True
    # Still contended: nobody rather than a double offer; the call's record says why.
    log.warning("dial plan for %s still contended after %d tries", report.call_sid, _OFFER_TRIES)
    plan = DialPlan((), f"nobody reachable: still contended after {_OFFER_TRIES} tries")
    if call_id is not None:
        async with database.reading() as connection:
            await note_reason(connection, call_id, plan.reason, now)
    return plan


async def _plan(
    connection: AsyncConnection,
    database: Database,
    account: Account,
    report: CallReport,
    rows: list[tuple[Any, ...]],
    now: datetime,
    config: VoiceConfig,
    since: datetime,
) -> DialPlan | tuple[DialPlan, dict[str, Any]]:
    """The plan, and the offer to write for it — or only a plan when there is nothing to
    write (a repeat, a denied or ended call, no service chosen)."""
    call_id, decision, reason, outcome, node_id, path, customer_id, offered, seen = rows[0][:9]
    if offered:  # with the node's ring time, as the first answer had it
        timing = await _timing(connection, database, account, path, config)
        return DialPlan(
            tuple(offered), "repeated request: same list", ring_seconds=timing.ring_seconds
        )
    if decision == GateDecision.DENY.value or node_id is None:
        return DialPlan((), f"not dialled: {reason}")
    if outcome is not None:
        return DialPlan((), "not dialled: the call has ended")

    async def load() -> tuple[str, ...]:
        return await active_services(connection, account.tenant_id)

    active = await database.reference_cache.get(("active_services", account.tenant_id), load)
    service = domain.selected_service(active, report.digits)
    if service is None:
        return DialPlan((), f"no service chosen (digits {report.digits!r}, {len(active)} active)")
    timing = await _timing(connection, database, account, path, config)
    nodes, on_call = _node_views([row[9:] for row in rows if row[9] is not None])
    chain = network_domain.escalation_chain(
        path=nodes, service=service, now=now, depth=config.depth, on_call=on_call
    )
    # The chain's picks and, behind them, who else is free at each level: the offer takes
    # the first `depth` per level of those still free when it commits (see `_OFFER`).
    candidates = _once_each(
        tuple(s for s in chain.steps if s.kept or s.skip == network_domain.SkipReason.BEYOND_DEPTH)
    )
    kept = choose(candidates, config.depth, timing.max_numbers)
    if kept:
        plan = DialPlan(
            tuple(s.executive.phone_e164 for s in kept),
            f"{len(kept)} to ring, {timing.ring_seconds}s each",
            tuple(s.reason for s in chain.steps) + chain.gaps,
            timing.ring_seconds,
        )
    else:
        gaps = "; ".join(chain.gaps or ("empty chain",))
        plan = DialPlan((), f"nobody reachable: {gaps}", chain.gaps, timing.ring_seconds)
    return plan, {
        "tenant": account.tenant_id,
        "call": call_id,
        "seen": seen,
        "sid": report.call_sid,
        "customer": customer_id,
        "now": now,
        "since": since,
        "executives": [s.executive.id for s in candidates],
        "positions": list(range(1, len(candidates) + 1)),
        "levels": [s.level.value for s in candidates],
        "phones": [s.executive.phone_e164 for s in candidates],
        "depth_sub_district": config.depth.sub_district,
        "depth_district": config.depth.district,
        "depth_state": config.depth.state,
        "max_numbers": timing.max_numbers,
        "planned": list(plan.numbers),
        "replanned": f"%s to ring, {timing.ring_seconds}s each"
        " (some planned were offered another call: the next in line ring instead)",
        "service": service,
        "reason": plan.reason[:1000],
    }


def choose(
    candidates: tuple[network_domain.ChainStep, ...], depth: network_domain.ChainDepth, limit: int
) -> tuple[network_domain.ChainStep, ...]:
    """The first `depth` candidates of each level, in order, at most `limit` in all — what
    `_OFFER` picks in SQL from those still free when it commits."""
    taken: dict[network_domain.Level, int] = {}
    chosen = []
    for step in candidates:
        if taken.get(step.level, 0) < depth.for_level(step.level):
            taken[step.level] = taken.get(step.level, 0) + 1
            chosen.append(step)
    return tuple(chosen[:limit])


async def _timing(
    connection: AsyncConnection,
    database: Database,
    account: Account,
    path: str,
    config: VoiceConfig,
) -> domain.DialTiming:
    """The ring time and budget for a caller's home node (per-node settings, cached)."""

    async def load_timings() -> dict[str, domain.DialTiming]:
        found = await node_timings(connection, account.tenant_id)
        return {node: domain.DialTiming(ring, budget) for node, ring, budget in found}

    overrides = await database.reference_cache.get(
        ("voice_timings", account.tenant_id), load_timings
    )
    return domain.timing_for(path, overrides, config.timing)


def _once_each(
    kept: tuple[network_domain.ChainStep, ...],
) -> tuple[network_domain.ChainStep, ...]:
    """A franchisee may own two nodes of one path (a district and one of its taluks): its
    executives then appear twice in the chain. Each is rung once, at their first place."""
    first: dict[uuid.UUID, network_domain.ChainStep] = {}
    for step in kept:
        first.setdefault(step.executive.id, step)
    return tuple(first.values())


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
