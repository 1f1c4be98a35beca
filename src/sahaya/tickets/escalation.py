"""Firing SLA clocks: the periodic sweep takes due clocks in batches, locked with their
tickets (`SKIP LOCKED`), reads once what the batch needs (nodes, calendars, leads), fires
warnings and breaches, escalates up the ladder and tells the leads — one e-mail per address
per batch. Each fired column is set once, so two workers, or a re-run after a crash, never
act twice; a clock that cannot fire is postponed instead of holding up the others.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sahaya.access.repository import AccessRepository
from sahaya.messaging import services as messaging
from sahaya.network import NetworkRepository, NodeRow
from sahaya.network.repository import ancestor_paths
from sahaya.persistence import UnitOfWork
from sahaya.sla import TicketClockRow
from sahaya.sla import domain as sla
from sahaya.tickets import domain
from sahaya.tickets.repository import (
    NewEvent,
    TicketRepository,
    new_event,
    write_events,
    write_swept,
)
from sahaya.tickets.sla import DEFAULT, SYSTEM, SlaConfig, _calendar, _event, _schedule
from sahaya.tickets.tables import TicketRow

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Batch:
    """What one sweep batch reads once, in a handful of queries, instead of per clock:
    the tickets' nodes and their ancestors, calendars, leads and assignees' emails."""

    now: datetime
    nodes: dict[uuid.UUID, NodeRow]
    by_path: dict[tuple[uuid.UUID, str], NodeRow]
    calendars: dict[uuid.UUID, sla.BusinessCalendar]  # node id → its (inherited) calendar
    leads: dict[uuid.UUID, list[str]]  # node id → supervisors bound to that very node
    assignees: dict[uuid.UUID, str]  # executive id → email

    @classmethod
    async def load(cls, uow: UnitOfWork, tickets: list[TicketRow], now: datetime) -> _Batch:
        network = NetworkRepository(uow.session)
        own = await network.nodes_by_ids({t.node_id for t in tickets})
        nodes = {n.id: n for n in own}
        for tenant_id in {n.tenant_id for n in own}:
            paths = {p for n in own if n.tenant_id == tenant_id for p in ancestor_paths(n.path)}
            nodes.update((n.id, n) for n in await network.nodes_by_paths(tenant_id, list(paths)))
        ids = list(nodes)
        assigned = {t.assignee_id for t in tickets if t.assignee_id is not None}
        # The same lookup intake uses (tickets.sla._calendar): cached per tenant.
        calendars = {n.id: (await _calendar(uow, n, now))[1] for n in nodes.values()}
        return cls(
            now=now,
            nodes=nodes,
            by_path={(n.tenant_id, n.path): n for n in nodes.values()},
            calendars=calendars,
            leads=await AccessRepository(uow.session).supervisor_emails_by_node(ids),
            assignees=await network.executive_emails(assigned) if assigned else {},
        )

    def lineage(self, node: NodeRow) -> list[NodeRow]:
        """The node and its ancestors, nearest first."""
        found = (self.by_path.get((node.tenant_id, p)) for p in ancestor_paths(node.path))
        return [n for n in reversed(list(found)) if n is not None]

    def calendar(self, node: NodeRow) -> sla.BusinessCalendar:
        return self.calendars[node.id]

    def parent(self, node: NodeRow) -> NodeRow | None:
        parent_path = node.path.rpartition("/")[0]
        return self.by_path.get((node.tenant_id, parent_path)) if parent_path else None

    def recipients(self, ticket: TicketRow) -> list[str]:
        """The assignee and the leads (supervisors at the ticket's node or above)."""
        found = [self.assignees[ticket.assignee_id]] if ticket.assignee_id in self.assignees else []
        node = self.nodes.get(ticket.node_id)
        for n in self.lineage(node) if node is not None else []:
            found += self.leads.get(n.id, [])
        return found


def _escalate(
    ticket: TicketRow, row: TicketClockRow, batch: _Batch, config: SlaConfig
) -> list[NewEvent]:
    now = batch.now
    node = batch.nodes[ticket.node_id]
    # A clock started on the tree (level = the node's level) counts as the first tier when
    # the ladder is one of named tiers: the ticket then stays on its node and climbs tiers.
    current = row.level if row.level in config.ladder.levels else config.ladder.levels[0]
    target_level = config.ladder.next_level(current)
    if target_level is None:
        return [new_event(ticket, SYSTEM, "escalation_exhausted", {"level": current}, now)]
    parent = batch.parent(node)
    changes: dict[str, Any] = {"level": [current, target_level]}
    if config.ladder == sla.TREE_LADDER and parent is not None:
        changes["node"] = [node.path, parent.path]
        ticket.node_id = parent.id
        node = parent
    if ticket.assignee_id is not None:
        changes["assignee_id"] = [str(ticket.assignee_id), None]
        ticket.assignee_id = None
    if ticket.status != domain.Status.OPEN.value:
        changes["status"] = [ticket.status, domain.Status.OPEN.value]
        ticket.status = domain.Status.OPEN.value
    ticket.updated_at = now
    # A fresh start at the new level: the clocks restart from the escalation.
    row.level, row.escalations, row.started_at, row.pauses = (
        target_level,
        row.escalations + 1,
        now,
        [],
    )
    row.fr_warned_at = row.fr_breached_at = row.res_warned_at = row.res_breached_at = None
    _schedule(row, batch.calendar(node), config.policy)
    return [new_event(ticket, SYSTEM, "escalated", changes, now)]


_DEADLINES = (
    ("first_response", "fr_warn_at", "fr_due_at", "fr_warned_at", "fr_breached_at"),
    ("resolution", "res_warn_at", "res_due_at", "res_warned_at", "res_breached_at"),
)


def _fire(
    row: TicketClockRow, ticket: TicketRow, batch: _Batch, config: SlaConfig
) -> list[NewEvent]:
    """Fire whatever is due on a locked clock row and its locked ticket."""
    now = batch.now
    if row.stopped_at is not None:
        row.next_fire_at = None
        return []
    events: list[NewEvent] = []
    breached = False
    for deadline, warn_at, due_at, warned, breach in _DEADLINES:
        for action, at, fired in (("sla_warning", warn_at, warned), ("sla_breach", due_at, breach)):
            when = getattr(row, at)
            if when is None or when > now or getattr(row, fired) is not None:
                continue
            setattr(row, fired, now)
            breached = breached or action == "sla_breach"
            changes = {"deadline": deadline, "due_at": getattr(row, due_at).isoformat()}
            events.append(new_event(ticket, SYSTEM, action, changes | {"level": row.level}, now))
    if breached:
        events.extend(_escalate(ticket, row, batch, config))
    else:
        _schedule(row, batch.calendar(batch.nodes[ticket.node_id]), config.policy)
    return events


@dataclass(frozen=True, slots=True)
class _Fired:
    ticket: TicketRow
    events: list[NewEvent]


def _lines(fired: _Fired) -> list[str]:
    return [f"{e.action.replace('_', ' ')}: {e.changes}" for e in fired.events]


async def _notify(uow: UnitOfWork, fired: list[_Fired], batch: _Batch) -> None:
    """Tell the assignee and the leads (supervisors at the ticket's node or above) by email.

    One message per address per sweep batch: a ticket's own notice when it concerns one
    ticket, else one digest listing them all — when hundreds of tickets breach together
    (an outage), a lead gets one email, not hundreds (alert grouping, as on-call tools do).
    """
    by_address: dict[str, list[_Fired]] = {}
    for item in fired:
        for address in {a.strip().lower() for a in batch.recipients(item.ticket) if a.strip()}:
            by_address.setdefault(address, []).append(item)
    for address, items in sorted(by_address.items()):
        first = items[0].ticket
        if len(items) == 1:
            actions = ", ".join(e.action for e in items[0].events)
            subject = f"[{first.number}] SLA: {actions}"
            body = f"Ticket {first.number}: {first.subject}\n\n" + "\n".join(_lines(items[0]))
            reference, ticket_id = first.number, first.id
        else:
            counts = Counter(e.action for item in items for e in item.events)
            subject = f"SLA: {len(items)} tickets — " + ", ".join(
                f"{n} {action}" for action, n in sorted(counts.items())
            )
            body = "\n\n".join(
                f"Ticket {i.ticket.number}: {i.ticket.subject}\n" + "\n".join(_lines(i))
                for i in items
            )
            stamp = batch.now.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            reference, ticket_id = f"sla-digest:{stamp}", None  # fits outbox's 40 chars
        await messaging.queue_staff_notice(
            uow=uow,
            tenant_id=first.tenant_id,
            recipients=[address],
            subject=subject,
            body=body,
            reference=reference,
            ticket_id=ticket_id,
            now=batch.now,
        )


async def sweep(
    *, uow: UnitOfWork, now: datetime, limit: int = 500, config: SlaConfig = DEFAULT
) -> int:
    """Fire the clocks that are due, up to `limit`; returns how many were handled. Jobs only
    accelerate; this catches whatever a crash or a lost job missed.

    Each clock and its ticket are locked together (rows another worker holds are skipped),
    and everything the batch needs is read once, so the cost per clock is Python only."""
    due = await TicketRepository(uow.session).clocks_due(now, limit)
    if not due:
        return 0
    batch = await _Batch.load(uow, [ticket for _, ticket in due], now)
    fired = []
    for row, ticket in due:
        events = _fire(row, ticket, batch, config)
        if events:
            fired.append(_Fired(ticket, events))
    # The rows are written in two statements for the whole batch, then let go by the ORM
    # (which would otherwise send one UPDATE per row at flush).
    session = uow.session
    changed = [ticket for _, ticket in due if session.is_modified(ticket)]
    driver = await uow.driver()
    await write_swept(driver, [row for row, _ in due], changed)
    await write_events(driver, [e for item in fired for e in item.events])
    for row, ticket in due:
        session.expunge(row)
        session.expunge(ticket)
    # After firing: an escalated ticket's leads are those of the node it moved up to.
    await _notify(uow, fired, batch)
    return len(due)


async def fire_one_or_postpone(
    *, uow: UnitOfWork, now: datetime, delay: timedelta, config: SlaConfig = DEFAULT
) -> bool | None:
    """Fire the most overdue clock alone; if that fails, postpone it by `delay` with an audit
    event, so one clock that cannot fire does not hold up every other ticket's deadlines.
    None when nothing is due, else whether it fired."""
    due = await TicketRepository(uow.session).clocks_due(now, 1)
    if not due:
        return None
    row, ticket = due[0]
    try:
        async with uow.session.begin_nested():
            batch = await _Batch.load(uow, [ticket], now)
            events = _fire(row, ticket, batch, config)
            await uow.session.flush()  # the clock and ticket, through the ORM here
            await write_events(await uow.driver(), events)
            await _notify(uow, [_Fired(ticket, events)] if events else [], batch)
            await uow.session.flush()
        return True
    except Exception:
        log.exception("SLA clock of %s failed to fire; postponed by %s", ticket.number, delay)
    row.next_fire_at = now + delay  # still locked: the savepoint kept the row lock
    _event(uow, ticket, "sla_fire_failed", {"retry_at": row.next_fire_at.isoformat()}, now)
    return False
