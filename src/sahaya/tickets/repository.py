"""All queries of the ticketing context."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from sqlalchemy import func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.contracts.domain import ContractView
from sahaya.contracts.repository import VIEWS_JSON as CONTRACT_VIEWS_JSON
from sahaya.contracts.repository import views_from_json
from sahaya.customers import InvalidPhone, to_e164
from sahaya.network import NodeRow
from sahaya.persistence.fast_insert import Expression
from sahaya.sla import TicketClockRow
from sahaya.tickets.tables import TicketAttachmentRow, TicketEntryRow, TicketEventRow, TicketRow

# Ticket numbers come from one PostgreSQL sequence per tenant and prefix. `nextval` is not
# transactional: concurrent intakes never wait on each other (a counter row serialised them
# all, see bench/README.md), and a number is never handed out twice; a rolled-back ticket
# leaves a gap.
_NEXT_NUMBER = text("SELECT nextval(to_regclass(:name))")
_NEXT_NUMBER_SQL = "SELECT nextval(to_regclass(%s))"


_NUMBER = re.compile(r"^[A-Z]{2,4}-\d{6,}$")
_PHONE_TEXT = re.compile(r"^\+?[\d\s-]{10,16}$")


def _as_phone(text: str) -> str | None:
    if not _PHONE_TEXT.match(text.strip()):
        return None
    try:
        return to_e164(text)
    except InvalidPhone:
        return None


def sequence_name(tenant_id: uuid.UUID, prefix: str) -> str:
    return f"ticket_number_{tenant_id.hex}_{prefix.lower()}"


# 'simple' configuration: no stemming, so Malayalam and English words, numbers and names all
# match as written; the search box is parsed with websearch_to_tsquery ("quoted phrases", -not).
_SEARCH_CONFIG = "'simple'::regconfig"
# PostgreSQL refuses a tsvector over 1 MB: a message adds at most its first SEARCH_CHARS
# characters, and `sahaya_search_add` (migration 0025) keeps a ticket's words as they are
# when adding more would pass the limit.
SEARCH_CHARS = 50_000
_INDEX_TEXT = text("UPDATE tickets SET search = sahaya_search_add(search, :text) WHERE id = :id")


_REFERENCED_TICKET_ID = """
SELECT id FROM tickets
WHERE tenant_id = %s AND customer_id = %s AND number = %s AND status <> 'closed'
FOR UPDATE"""


async def referenced_ticket_id(
    driver: AsyncConnection, tenant_id: uuid.UUID, customer_id: uuid.UUID, number: str
) -> uuid.UUID | None:
    """The customer's ticket with this number, unless closed, locked."""
    cursor = await driver.execute(
        _REFERENCED_TICKET_ID, (tenant_id, customer_id, number.strip().upper()), prepare=True
    )
    row = await cursor.fetchone()
    return None if row is None else row[0]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An audit event about to be written: the one shape every writer uses."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    ticket_id: uuid.UUID
    actor: str
    action: str
    changes: dict[str, Any]
    created_at: datetime


def new_event(
    ticket: TicketRow, actor: str, action: str, changes: dict[str, Any], now: datetime
) -> NewEvent:
    return NewEvent(uuid.uuid4(), ticket.tenant_id, ticket.id, actor, action, changes, now)


_WRITE_EVENTS = """
INSERT INTO ticket_events (id, tenant_id, ticket_id, actor, action, changes, created_at)
SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::text[], %s::text[],
                     %s::jsonb[], %s::timestamptz[])"""


async def write_events(driver: AsyncConnection, events: Sequence[NewEvent]) -> None:
    """Many audit events in one statement (the SLA sweep writes thousands a second)."""
    if events:
        await driver.execute(
            _WRITE_EVENTS,
            (
                [e.id for e in events],
                [e.tenant_id for e in events],
                [e.ticket_id for e in events],
                [e.actor for e in events],
                [e.action for e in events],
                [Jsonb(e.changes) for e in events],
                [e.created_at for e in events],
            ),
            prepare=True,
        )


# The duplicate guard's probe and — only when it finds no open ticket — the new ticket's
# number (NULL until the prefix's sequence exists) and the customer's contracts: one round
# trip where a new ticket took three.
_INTAKE_PROBE = f"""
WITH open AS (
  SELECT id FROM tickets
  WHERE tenant_id = %(tenant)s AND customer_id = %(customer)s AND service_code = %(service)s
    AND status NOT IN ('resolved', 'closed') AND updated_at >= %(since)s
  ORDER BY updated_at DESC LIMIT 1
  FOR UPDATE)
SELECT (SELECT id FROM open),
       CASE WHEN NOT EXISTS (SELECT FROM open) THEN nextval(to_regclass(%(sequence)s)) END,
       CASE WHEN NOT EXISTS (SELECT FROM open) THEN ({CONTRACT_VIEWS_JSON}) END"""  # noqa: S608


@dataclass(frozen=True, slots=True)
class Probe:
    open_id: uuid.UUID | None
    number: int | None  # the sequence's next value (None: an open ticket, or no sequence)
    contracts: list[ContractView] | None


async def intake_probe(
    driver: AsyncConnection,
    tenant_id: uuid.UUID,
    customer_id: uuid.UUID,
    service_code: str,
    since: datetime,
    sequence: str,
) -> Probe:
    """The duplicate guard's probe (the customer's most recent unresolved ticket for the
    service touched since `since`, locked) and what a new ticket needs next, in one
    statement on the unit of work's own psycopg connection."""
    cursor = await driver.execute(
        _INTAKE_PROBE,
        {
            "tenant": tenant_id,
            "customer": customer_id,
            "service": service_code,
            "since": since,
            "sequence": sequence,
        },
        prepare=True,
    )
    row = await cursor.fetchone()
    assert row is not None  # noqa: S101 - a SELECT without FROM always answers
    found, number, contracts = row
    views = None if contracts is None else views_from_json(contracts)
    return Probe(found, None if number is None else int(number), views)


class TicketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_sequence(
        self, tenant_id: uuid.UUID, prefix: str, *, driver: AsyncConnection | None = None
    ) -> int:
        name = sequence_name(tenant_id, prefix)
        if driver is not None:  # the hot path: one prepared statement
            cursor = await driver.execute(_NEXT_NUMBER_SQL, (name,), prepare=True)
            found = await cursor.fetchone()
            value = found[0] if found else None
        else:
            value = await self.session.scalar(_NEXT_NUMBER, {"name": name})
        if value is None:  # the prefix's first ticket: create its sequence
            if not name.replace("_", "").isalnum():
                raise ValueError(f"unsafe sequence name {name!r}")
            try:
                async with self.session.begin_nested():
                    await self.session.execute(text(f'CREATE SEQUENCE IF NOT EXISTS "{name}"'))
            except IntegrityError:
                pass  # a concurrent first ticket created it (and has committed): use it
            value = await self.session.scalar(_NEXT_NUMBER, {"name": name})
        assert value is not None  # noqa: S101 - the sequence exists now
        return int(value)

    async def by_number(
        self, tenant_id: uuid.UUID, number: str, *, lock: bool = False
    ) -> tuple[TicketRow, NodeRow] | None:
        query = (
            select(TicketRow, NodeRow)
            .join(NodeRow, NodeRow.id == TicketRow.node_id)
            .where(TicketRow.tenant_id == tenant_id, TicketRow.number == number)
        )
        if lock:
            query = query.with_for_update(of=TicketRow)
        row = (await self.session.execute(query)).first()
        return None if row is None else (row[0], row[1])

    async def queue(
        self,
        *,
        tenant_id: uuid.UUID,
        root_path: str,
        channel: str | None,
        statuses: Sequence[str],
        severity: str | None,
        node_path: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[tuple[TicketRow, NodeRow]]:
        """Tickets oldest first (FIFO), inside the caller's subtree."""
        scope = node_path or root_path
        query = (
            select(TicketRow, NodeRow)
            .join(NodeRow, NodeRow.id == TicketRow.node_id)
            .where(
                TicketRow.tenant_id == tenant_id,
                or_(NodeRow.path == scope, NodeRow.path.startswith(scope + "/")),
                TicketRow.status.in_(statuses),
            )
        )
        if channel:
            query = query.where(TicketRow.channel == channel)
        if severity:
            query = query.where(TicketRow.severity == severity)
        if after is not None:
            query = query.where(
                or_(
                    TicketRow.created_at > after[0],
                    (TicketRow.created_at == after[0]) & (TicketRow.id > after[1]),
                )
            )
        query = query.order_by(TicketRow.created_at, TicketRow.id).limit(limit)
        return [(r[0], r[1]) for r in (await self.session.execute(query)).all()]

    @staticmethod
    def search_vector(content: str) -> Expression:
        """The search vector of a new ticket, computed by PostgreSQL in its INSERT (which
        `persistence.fast_insert.insert_new` writes)."""
        return Expression(f"to_tsvector({_SEARCH_CONFIG}, %s)", (content,))

    async def index_text(self, ticket_id: uuid.UUID, content: str) -> None:
        """Add words to a ticket's search vector (after the row is flushed)."""
        await self.session.execute(_INDEX_TEXT, {"id": ticket_id, "text": content})

    async def search(
        self, *, tenant_id: uuid.UUID, node_ids: Sequence[uuid.UUID] | None, query: str, limit: int
    ) -> list[tuple[TicketRow, NodeRow]]:
        """Newest matches first, among tickets of `node_ids` (None: the whole tenant).

        Not ranked by relevance: ranking means scoring every match, and a common word
        matches a quarter of a million tickets (bench/ticket_search.py: ~0.5 s). Newest
        first lets PostgreSQL walk `ix_tickets_recent` (or, inside a subtree,
        `ix_tickets_node_recent`) and stop at `limit` for common words, and use the GIN
        index for rare ones; the search column's statistics target is raised so the planner
        can tell which is which (migration 0016)."""
        statement = (
            select(TicketRow, NodeRow)
            .join(NodeRow, NodeRow.id == TicketRow.node_id)
            .where(TicketRow.tenant_id == tenant_id)
            .order_by(TicketRow.created_at.desc())
            .limit(limit)
        )
        if node_ids is not None:
            statement = statement.where(TicketRow.node_id.in_(list(node_ids)))
        # A ticket number or a phone number is answered from its own index: the planner
        # cannot tell how rare such a word is and would walk every ticket by recency.
        exact = query.strip().upper()
        if _NUMBER.match(exact):
            statement = statement.where(TicketRow.number == exact)
        elif (phone := _as_phone(query)) is not None:
            statement = statement.where(TicketRow.contact_phone == phone)
        else:
            tsquery = func.websearch_to_tsquery("simple", query)
            statement = statement.where(TicketRow.search.op("@@")(tsquery))
        return [(r[0], r[1]) for r in (await self.session.execute(statement)).all()]

    async def entries(self, ticket_id: uuid.UUID) -> list[TicketEntryRow]:
        rows = await self.session.scalars(
            select(TicketEntryRow)
            .where(TicketEntryRow.ticket_id == ticket_id)
            .order_by(TicketEntryRow.seq)
        )
        return list(rows)

    async def attachments(self, ticket_id: uuid.UUID) -> list[TicketAttachmentRow]:
        rows = await self.session.scalars(
            select(TicketAttachmentRow)
            .where(TicketAttachmentRow.ticket_id == ticket_id)
            .order_by(TicketAttachmentRow.created_at, TicketAttachmentRow.filename)
        )
        return list(rows)

    async def events(self, ticket_id: uuid.UUID) -> list[TicketEventRow]:
        rows = await self.session.scalars(
            select(TicketEventRow)
            .where(TicketEventRow.ticket_id == ticket_id)
            .order_by(TicketEventRow.seq)
        )
        return list(rows)

    async def clocks_due(self, now: datetime, limit: int) -> list[tuple[TicketClockRow, TicketRow]]:
        """Clocks with something to fire, each locked with its ticket, most overdue first;
        rows another worker (or an API request) holds are skipped, to be taken next time."""
        rows = await self.session.execute(
            select(TicketClockRow, TicketRow)
            .join(TicketRow, TicketRow.id == TicketClockRow.ticket_id)
            .where(TicketClockRow.next_fire_at <= now)
            .order_by(TicketClockRow.next_fire_at)
            .limit(limit)
            .with_for_update(of=[TicketClockRow, TicketRow], skip_locked=True)
        )
        return [(row[0], row[1]) for row in rows.all()]

    def record_event(
        self,
        ticket: TicketRow,
        *,
        actor: str,
        action: str,
        changes: dict[str, Any],
        now: datetime,
    ) -> TicketEventRow:
        """Add one audit event (who, what, before → after) to the ticket's history."""
        e = new_event(ticket, actor, action, changes, now)
        event = TicketEventRow.fresh(  # not asdict(): it would deep-copy `changes`
            id=e.id,
            tenant_id=e.tenant_id,
            ticket_id=e.ticket_id,
            actor=e.actor,
            action=e.action,
            changes=e.changes,
            created_at=e.created_at,
        )
        self.session.add(event)
        return event

    def add(self, row: object) -> None:
        self.session.add(row)


# The sweep's writes, one statement per table for a whole batch (instead of one ORM UPDATE
# per row at flush, which was most of the sweep's cost: bench/README.md, SLA timers).
_WRITE_CLOCKS = """
UPDATE sla_ticket_clocks AS c SET
  started_at = x.started_at, pauses = x.pauses, fr_due_at = x.fr_due_at,
  fr_warn_at = x.fr_warn_at, res_due_at = x.res_due_at, res_warn_at = x.res_warn_at,
  fr_warned_at = x.fr_warned_at, fr_breached_at = x.fr_breached_at,
  res_warned_at = x.res_warned_at, res_breached_at = x.res_breached_at,
  next_fire_at = x.next_fire_at, level = x.level, escalations = x.escalations
FROM unnest(%s::uuid[], %s::timestamptz[], %s::jsonb[], %s::timestamptz[],
            %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[],
            %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[],
            %s::text[], %s::int[])
  AS x(ticket_id, started_at, pauses, fr_due_at, fr_warn_at, res_due_at, res_warn_at,
       fr_warned_at, fr_breached_at, res_warned_at, res_breached_at, next_fire_at, level,
       escalations)
WHERE c.ticket_id = x.ticket_id"""

_WRITE_TICKETS = """
UPDATE tickets AS t SET node_id = x.node_id, assignee_id = x.assignee_id, status = x.status,
                        updated_at = x.updated_at
FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::text[], %s::timestamptz[])
  AS x(id, node_id, assignee_id, status, updated_at)
WHERE t.id = x.id"""


async def write_swept(
    driver: AsyncConnection, clocks: Sequence[TicketClockRow], tickets: Sequence[TicketRow]
) -> None:
    """Write a sweep batch's clocks (all of them: each was rescheduled) and the tickets that
    changed (escalated), in the unit of work's transaction."""
    if clocks:
        await driver.execute(
            _WRITE_CLOCKS,
            (
                [c.ticket_id for c in clocks],
                [c.started_at for c in clocks],
                [Jsonb(c.pauses) for c in clocks],
                [c.fr_due_at for c in clocks],
                [c.fr_warn_at for c in clocks],
                [c.res_due_at for c in clocks],
                [c.res_warn_at for c in clocks],
                [c.fr_warned_at for c in clocks],
                [c.fr_breached_at for c in clocks],
                [c.res_warned_at for c in clocks],
                [c.res_breached_at for c in clocks],
                [c.next_fire_at for c in clocks],
                [c.level for c in clocks],
                [c.escalations for c in clocks],
            ),
            prepare=True,
        )
    if tickets:
        await driver.execute(
            _WRITE_TICKETS,
            (
                [t.id for t in tickets],
                [t.node_id for t in tickets],
                [t.assignee_id for t in tickets],
                [t.status for t in tickets],
                [t.updated_at for t in tickets],
            ),
            prepare=True,
        )
