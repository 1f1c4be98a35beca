"""The dial list for the Connect applet: the hot path, three statements on a plain psycopg
connection (ADR 0008). The escalation chain itself is `network.domain`'s pure function."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from psycopg import AsyncConnection

from sahaya.network import domain as network_domain
from sahaya.network.repository import ancestor_paths
from sahaya.persistence import Database
from sahaya.voice import domain
from sahaya.voice.domain import CallReport, GateDecision
from sahaya.voice.repository import (
    active_services,
    call_for_dial,
    claim_executives,
    node_timings,
    offer,
    path_executives,
)

# --------------------------------------------------------------------------------- dial
from sahaya.voice.services import Account, VoiceConfig, gate

log = logging.getLogger(__name__)


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
    (Exotel retries) gets the same list back. Three statements in one transaction on a
    plain psycopg connection: the call (locked), the executives along the tree, the offer."""
    for _ in range(2):
        async with database.reading() as connection, connection.transaction():
            row = await call_for_dial(connection, account.tenant_id, report.call_sid)
            if row is not None:
                return await _plan(connection, database, account, report, row, now, config)
        # A call the gate never saw (a flow without one, or a gate that fell back): record
        # it as the gate would, then plan.
        await gate(database=database, account=account, report=report, now=now)
    raise RuntimeError(f"call {report.call_sid} vanished while planning its dial list")


async def _plan(
    connection: AsyncConnection,
    database: Database,
    account: Account,
    report: CallReport,
    row: tuple[Any, ...],
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
    service = domain.selected_service(active, report.digits)
    if service is None:
        return DialPlan((), f"no service chosen (digits {report.digits!r}, {len(active)} active)")

    async def load_timings() -> dict[str, domain.DialTiming]:
        rows = await node_timings(connection, account.tenant_id)
        return {node: domain.DialTiming(ring, budget) for node, ring, budget in rows}

    overrides = await database.reference_cache.get(
        ("voice_timings", account.tenant_id), load_timings
    )
    timing = domain.timing_for(path, overrides, config.timing)
    since = now - config.on_call_horizon
    found = await path_executives(connection, account.tenant_id, ancestor_paths(path), since)
    nodes, on_call = _node_views(found)
    # Simultaneous calls must not be offered to the same person: claim the chosen ones; any
    # another planner holds, or a call took since our read, count as on a call, and the
    # chain is worked out again without them. Leaving people out of a chain only moves
    # later ones up, so what an earlier round claimed is still wanted: claims only grow,
    # and nobody is held who is not offered (no savepoint to roll back — psycopg drops every
    # prepared statement of the connection on any rollback).
    claimed: set[uuid.UUID] = set()
    for _ in range(_CLAIM_ROUNDS):
        chain = network_domain.escalation_chain(
            path=nodes, service=service, now=now, depth=config.depth, on_call=on_call
        )
        kept = chain.kept[: timing.max_numbers]
        chosen = [s.executive.id for s in kept]
        if claimed - set(chosen):  # cannot happen (tests/unit/test_escalation_chain.py)
            log.error("dial plan for %s dropped claimed executives", report.call_sid)
        wanted = [e for e in chosen if e not in claimed]
        got = await claim_executives(connection, wanted, since)
        claimed |= got
        taken = set(wanted) - got
        if not taken:
            break
        on_call = on_call | taken
    else:
        # Still contended after several rounds: nobody rather than a double offer. The
        # claims end with this transaction, a moment from now.
        chain = network_domain.escalation_chain(
            path=nodes, service=service, now=now, depth=config.depth, on_call=on_call
        )
        kept = ()
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
    await offer(
        connection,
        {
            "tenant": account.tenant_id,
            "call": call_id,
            "sid": report.call_sid,
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


_CLAIM_ROUNDS = 4


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
