"""A ticket's SLA clocks: started at intake, paused and resumed with the ticket's status,
stopped on resolution, and fired — warnings, breaches, escalation up the ladder.

Deadlines are columns on `sla_ticket_clocks`; `fire` takes the clock row's lock and sets
each fired column once, so a job and the periodic sweep (or two workers) never act twice.
The default ladder climbs the franchise tree: the ticket moves to the parent node (L1 = the
sub-district team, L2 = district, L3 = state), is re-queued as *open*, and its clocks
restart there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sahaya.access.repository import AccessRepository
from sahaya.messaging import services as messaging
from sahaya.network import ExecutiveRow, NetworkRepository, NodeRow
from sahaya.network.repository import ancestor_paths
from sahaya.persistence import UnitOfWork
from sahaya.sla import RcaFollowUpRow, SlaRepository, TicketClockRow, calendars
from sahaya.sla import domain as sla
from sahaya.tickets import domain
from sahaya.tickets.repository import TicketRepository
from sahaya.tickets.tables import TicketEventRow, TicketRow

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
    path = await NetworkRepository(uow.session).nodes_by_paths(
        node.tenant_id, ancestor_paths(node.path)
    )
    nearest_first = [n.id for n in sorted(path, key=lambda n: n.path.count("/"), reverse=True)]
    row = await SlaRepository(uow.session).nearest_calendar(node.tenant_id, nearest_first)
    if row is None:
        return None, calendars.default_calendar(_years(now))
    return row.id, calendars.from_row(row, _years(now))


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


async def _escalate(
    uow: UnitOfWork, ticket: TicketRow, row: TicketClockRow, now: datetime, config: SlaConfig
) -> list[TicketEventRow]:
    network = NetworkRepository(uow.session)
    node = await network.node_by_id(ticket.tenant_id, ticket.node_id)
    assert node is not None  # noqa: S101 - foreign key
    # A clock started on the tree (level = the node's level) counts as the first tier when
    # the ladder is one of named tiers: the ticket then stays on its node and climbs tiers.
    current = row.level if row.level in config.ladder.levels else config.ladder.levels[0]
    target_level = config.ladder.next_level(current)
    if target_level is None:
        return [_event(uow, ticket, "escalation_exhausted", {"level": current}, now)]
    parent_path = "/".join(node.path.split("/")[:-1])
    parent = await network.node(ticket.tenant_id, parent_path) if parent_path else None
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
    await _refresh(uow, row, node, now, config)
    return [_event(uow, ticket, "escalated", changes, now)]


async def fire(
    *, uow: UnitOfWork, row: TicketClockRow, now: datetime, config: SlaConfig = DEFAULT
) -> list[str]:
    """Fire whatever is due on a locked clock row; returns the actions taken."""
    ticket = await uow.session.get(TicketRow, row.ticket_id, with_for_update=True)
    if ticket is None or row.stopped_at is not None:
        row.next_fire_at = None
        return []
    events: list[TicketEventRow] = []
    breached = False
    for deadline, warn_at, due_at, warned, breach in (
        ("first_response", "fr_warn_at", "fr_due_at", "fr_warned_at", "fr_breached_at"),
        ("resolution", "res_warn_at", "res_due_at", "res_warned_at", "res_breached_at"),
    ):
        if (
            getattr(row, warn_at) is not None
            and getattr(row, warn_at) <= now
            and getattr(row, warned) is None
        ):
            setattr(row, warned, now)
            events.append(
                _event(
                    uow,
                    ticket,
                    "sla_warning",
                    {
                        "deadline": deadline,
                        "due_at": getattr(row, due_at).isoformat(),
                        "level": row.level,
                    },
                    now,
                )
            )
        if (
            getattr(row, due_at) is not None
            and getattr(row, due_at) <= now
            and getattr(row, breach) is None
        ):
            setattr(row, breach, now)
            breached = True
            events.append(
                _event(
                    uow,
                    ticket,
                    "sla_breach",
                    {
                        "deadline": deadline,
                        "due_at": getattr(row, due_at).isoformat(),
                        "level": row.level,
                    },
                    now,
                )
            )
    if breached:
        events.extend(await _escalate(uow, ticket, row, now, config))
    else:
        node = await NetworkRepository(uow.session).node_by_id(ticket.tenant_id, ticket.node_id)
        assert node is not None  # noqa: S101
        await _refresh(uow, row, node, now, config)
    if events:
        await _notify(uow, ticket, events, now)
    return [e.action for e in events]


async def _notify(
    uow: UnitOfWork, ticket: TicketRow, events: list[TicketEventRow], now: datetime
) -> None:
    """Warn the assignee and the leads (supervisors at the ticket's node or above) by email."""
    recipients: list[str] = []
    if ticket.assignee_id is not None:
        executive = await uow.session.get(ExecutiveRow, ticket.assignee_id)
        if executive is not None and executive.email:
            recipients.append(executive.email)
    node = await NetworkRepository(uow.session).node_by_id(ticket.tenant_id, ticket.node_id)
    if node is not None:
        recipients += await AccessRepository(uow.session).supervisor_emails(
            ticket.tenant_id, ancestor_paths(node.path)
        )
    lines = [f"{e.action.replace('_', ' ')}: {e.changes}" for e in events]
    await messaging.queue_staff_notice(
        uow=uow,
        tenant_id=ticket.tenant_id,
        recipients=recipients,
        subject=f"[{ticket.number}] SLA: {', '.join(e.action for e in events)}",
        body=f"Ticket {ticket.number}: {ticket.subject}\n\n" + "\n".join(lines),
        reference=ticket.number,
        ticket_id=ticket.id,
        now=now,
    )


async def sweep(
    *, uow: UnitOfWork, now: datetime, limit: int = 500, config: SlaConfig = DEFAULT
) -> int:
    """Fire the clocks that are due, up to `limit`; returns how many were handled. Jobs only
    accelerate; this catches whatever a crash or a lost job missed."""
    rows = await SlaRepository(uow.session).due_clocks(now, limit)
    for row in rows:
        await fire(uow=uow, row=row, now=now, config=config)
    return len(rows)
