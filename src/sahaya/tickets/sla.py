"""A ticket's SLA clocks: started at intake, paused and resumed with the ticket's status,
stopped on resolution, and fired — warnings, breaches, escalation up the ladder.

Deadlines are indexed columns on `sla_ticket_clocks`; `sweep` locks each due clock with its
ticket (`SKIP LOCKED`) and sets each fired column once, so two workers, or a re-run after a
crash, never act twice.
The default ladder climbs the franchise tree: the ticket moves to the parent node (L1 = the
sub-district team, L2 = district, L3 = state), is re-queued as *open*, and its clocks
restart there.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sahaya.access.repository import AccessRepository
from sahaya.messaging import services as messaging
from sahaya.network import NetworkRepository, NodeRow
from sahaya.network.repository import ancestor_paths
from sahaya.persistence import UnitOfWork
from sahaya.sla import CalendarRow, RcaFollowUpRow, SlaRepository, TicketClockRow, calendars
from sahaya.sla import domain as sla
from sahaya.tickets import domain
from sahaya.tickets.repository import TicketRepository
from sahaya.tickets.tables import TicketEventRow, TicketRow

log = logging.getLogger(__name__)
SYSTEM = "system:sla"
RCA_REMIND_EVERY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class SlaConfig:
    policy: sla.SlaPolicy = sla.DEFAULT_POLICY
    ladder: sla.Ladder = field(default=sla.TREE_LADDER)

    @classmethod
    def named(cls, ladder: str) -> SlaConfig:
        """`tree` (sub-district → district → state) or `tiers` (L1 → L2 → L3 engineers)."""
        return cls(ladder=sla.TIER_LADDER if ladder == "tiers" else sla.TREE_LADDER)


DEFAULT = SlaConfig()


def _years(now: datetime) -> range:
    return range(now.year - 1, now.year + 3)


async def _calendar(
    uow: UnitOfWork, node: NodeRow, now: datetime
) -> tuple[uuid.UUID | None, sla.BusinessCalendar]:
    """The calendar attached nearest to the node (inherited down the tree), or the default.
    The tenant's attachments come from the per-process reference cache."""
    years = _years(now)

    async def load() -> dict[str, tuple[uuid.UUID, sla.BusinessCalendar]]:
        rows = await SlaRepository(uow.session).calendars_by_node_path(node.tenant_id)
        return {path: (row.id, calendars.from_row(row, years)) for path, row in rows.items()}

    attached = await uow.cache.get(("calendars", node.tenant_id, years.start), load)
    for path in reversed(ancestor_paths(node.path)):  # nearest first
        if path in attached:
            return attached[path]
    return None, calendars.default_calendar(years)


def _pauses(row: TicketClockRow) -> list[sla.Interval]:
    return [
        sla.Interval(datetime.fromisoformat(str(s)), datetime.fromisoformat(e) if e else None)
        for s, e in row.pauses
    ]


def _schedule(row: TicketClockRow, calendar: sla.BusinessCalendar, policy: sla.SlaPolicy) -> None:
    """Recompute due and warning instants, and the next instant anything must fire."""
    if row.stopped_at is not None:
        row.fr_due_at = row.fr_warn_at = row.res_due_at = row.res_warn_at = None
        row.next_fire_at = None
        return
    clocks = {
        c.kind: c
        for c in sla.clocks(
            policy=policy,
            calendar=calendar,
            severity=sla.Severity(row.severity),
            opened_at=row.started_at,
            pauses=_pauses(row),
            first_responded_at=row.first_responded_at,
        )
    }
    first = clocks.get(sla.Deadline.FIRST_RESPONSE)
    row.fr_due_at, row.fr_warn_at = (first.due_at, first.warn_at) if first else (None, None)
    res = clocks[sla.Deadline.RESOLUTION]
    row.res_due_at, row.res_warn_at = res.due_at, res.warn_at
    pending = [
        at
        for at, fired in (
            (row.fr_warn_at, row.fr_warned_at),
            (row.fr_due_at, row.fr_breached_at),
            (row.res_warn_at, row.res_warned_at),
            (row.res_due_at, row.res_breached_at),
        )
        if at is not None and fired is None
    ]
    row.next_fire_at = min(pending) if pending else None


async def start(
    *, uow: UnitOfWork, ticket: TicketRow, node: NodeRow, now: datetime, config: SlaConfig = DEFAULT
) -> TicketClockRow:
    calendar_id, calendar = await _calendar(uow, node, now)
    row = TicketClockRow(
        ticket_id=ticket.id,
        tenant_id=ticket.tenant_id,
        calendar_id=calendar_id,
        severity=ticket.severity,
        started_at=now,
        pauses=[],
        level=node.level,
        escalations=0,
    )
    _schedule(row, calendar, config.policy)
    SlaRepository(uow.session).add(row)
    return row


async def _refresh(
    uow: UnitOfWork, row: TicketClockRow, node: NodeRow, now: datetime, config: SlaConfig
) -> None:
    _, calendar = await _calendar(uow, node, now)
    _schedule(row, calendar, config.policy)


async def on_status(
    *,
    uow: UnitOfWork,
    ticket: TicketRow,
    node: NodeRow,
    before: domain.Status,
    after: domain.Status,
    now: datetime,
    config: SlaConfig = DEFAULT,
) -> None:
    """Pause while waiting on the customer or a third party; stop when done; resume."""
    row = await SlaRepository(uow.session).clock(ticket.id, lock=True)
    if row is None:
        return
    pauses = [list(p) for p in row.pauses]
    if after in domain.PAUSED and before not in domain.PAUSED:
        pauses.append([now.isoformat(), None])
    if before in domain.PAUSED and after not in domain.PAUSED and pauses and pauses[-1][1] is None:
        pauses[-1][1] = now.isoformat()
    row.pauses = pauses
    row.stopped_at = now if after in domain.DONE else None
    if after == domain.Status.RESOLVED:
        await _request_rca(uow, ticket, now)
    row.severity = ticket.severity
    await _refresh(uow, row, node, now, config)


async def on_severity(
    *, uow: UnitOfWork, ticket: TicketRow, node: NodeRow, now: datetime, config: SlaConfig = DEFAULT
) -> None:
    """A new severity means a new resolution target, counted from the same start."""
    row = await SlaRepository(uow.session).clock(ticket.id, lock=True)
    if row is None:
        return
    row.severity = ticket.severity
    row.res_warned_at = row.res_breached_at = None
    await _refresh(uow, row, node, now, config)


async def on_first_response(
    *, uow: UnitOfWork, ticket: TicketRow, node: NodeRow, now: datetime, config: SlaConfig = DEFAULT
) -> None:
    row = await SlaRepository(uow.session).clock(ticket.id, lock=True)
    if row is None or row.first_responded_at is not None:
        return
    row.first_responded_at = now
    await _refresh(uow, row, node, now, config)


async def _request_rca(uow: UnitOfWork, ticket: TicketRow, now: datetime) -> None:
    """A resolved critical ticket owes an RCA within 72 h (seed 003); tickets.rca tracks it."""
    due = sla.rca_due(now, severity=sla.Severity(ticket.severity))
    if due is None or await uow.session.get(RcaFollowUpRow, ticket.id) is not None:
        return
    uow.session.add(
        RcaFollowUpRow(
            ticket_id=ticket.id,
            tenant_id=ticket.tenant_id,
            due_at=due,
            next_reminder_at=due - RCA_REMIND_EVERY,
            reminders=0,
            created_at=now,
        )
    )
    _event(uow, ticket, "rca_requested", {"due_at": due.isoformat()}, now)


def _event(
    uow: UnitOfWork, ticket: TicketRow, action: str, changes: dict[str, Any], now: datetime
) -> TicketEventRow:
    return TicketRepository(uow.session).record_event(
        ticket, actor=SYSTEM, action=action, changes=changes, now=now
    )


@dataclass(slots=True)
class _Batch:
    """What one sweep batch reads once, in a handful of queries, instead of per clock:
    the tickets' nodes and their ancestors, calendars, leads and assignees' emails."""

    now: datetime
    nodes: dict[uuid.UUID, NodeRow]
    by_path: dict[tuple[uuid.UUID, str], NodeRow]
    attached: dict[uuid.UUID, CalendarRow]  # node id → calendar attached there
    leads: dict[uuid.UUID, list[str]]  # node id → supervisors bound to that very node
    assignees: dict[uuid.UUID, str]  # executive id → email
    _calendars: dict[uuid.UUID | None, sla.BusinessCalendar] = field(default_factory=dict)

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
        return cls(
            now=now,
            nodes=nodes,
            by_path={(n.tenant_id, n.path): n for n in nodes.values()},
            attached=await SlaRepository(uow.session).calendars_attached(ids),
            leads=await AccessRepository(uow.session).supervisor_emails_by_node(ids),
            assignees=await network.executive_emails(assigned) if assigned else {},
        )

    def lineage(self, node: NodeRow) -> list[NodeRow]:
        """The node and its ancestors, nearest first."""
        found = (self.by_path.get((node.tenant_id, p)) for p in ancestor_paths(node.path))
        return [n for n in reversed(list(found)) if n is not None]

    def calendar(self, node: NodeRow) -> sla.BusinessCalendar:
        row = next((self.attached[n.id] for n in self.lineage(node) if n.id in self.attached), None)
        key = None if row is None else row.id
        if key not in self._calendars:
            years = _years(self.now)
            self._calendars[key] = (
                calendars.default_calendar(years) if row is None else calendars.from_row(row, years)
            )
        return self._calendars[key]

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
    uow: UnitOfWork, ticket: TicketRow, row: TicketClockRow, batch: _Batch, config: SlaConfig
) -> list[TicketEventRow]:
    now = batch.now
    node = batch.nodes[ticket.node_id]
    # A clock started on the tree (level = the node's level) counts as the first tier when
    # the ladder is one of named tiers: the ticket then stays on its node and climbs tiers.
    current = row.level if row.level in config.ladder.levels else config.ladder.levels[0]
    target_level = config.ladder.next_level(current)
    if target_level is None:
        return [_event(uow, ticket, "escalation_exhausted", {"level": current}, now)]
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
    return [_event(uow, ticket, "escalated", changes, now)]


_DEADLINES = (
    ("first_response", "fr_warn_at", "fr_due_at", "fr_warned_at", "fr_breached_at"),
    ("resolution", "res_warn_at", "res_due_at", "res_warned_at", "res_breached_at"),
)


def _fire(
    uow: UnitOfWork, row: TicketClockRow, ticket: TicketRow, batch: _Batch, config: SlaConfig
) -> list[TicketEventRow]:
    """Fire whatever is due on a locked clock row and its locked ticket."""
    now = batch.now
    if row.stopped_at is not None:
        row.next_fire_at = None
        return []
    events: list[TicketEventRow] = []
    breached = False
    for deadline, warn_at, due_at, warned, breach in _DEADLINES:
        for action, at, fired in (("sla_warning", warn_at, warned), ("sla_breach", due_at, breach)):
            when = getattr(row, at)
            if when is None or when > now or getattr(row, fired) is not None:
                continue
            setattr(row, fired, now)
            breached = breached or action == "sla_breach"
            changes = {"deadline": deadline, "due_at": getattr(row, due_at).isoformat()}
            events.append(_event(uow, ticket, action, changes | {"level": row.level}, now))
    if breached:
        events.extend(_escalate(uow, ticket, row, batch, config))
    else:
        _schedule(row, batch.calendar(batch.nodes[ticket.node_id]), config.policy)
    return events


@dataclass(frozen=True, slots=True)
class _Fired:
    ticket: TicketRow
    events: list[TicketEventRow]


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
        events = _fire(uow, row, ticket, batch, config)
        if events:
            fired.append(_Fired(ticket, events))
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
            events = _fire(uow, row, ticket, batch, config)
            await _notify(uow, [_Fired(ticket, events)] if events else [], batch)
            await uow.session.flush()
        return True
    except Exception:
        log.exception("SLA clock of %s failed to fire; postponed by %s", ticket.number, delay)
    row.next_fire_at = now + delay  # still locked: the savepoint kept the row lock
    _event(uow, ticket, "sla_fire_failed", {"retry_at": row.next_fire_at.isoformat()}, now)
    return False
