"""All queries of the voice context."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.customers import CustomerRow
from sahaya.network import NodeRow
from sahaya.persistence import Database
from sahaya.voice.domain import NOT_BLAMED, UNANSWERED
from sahaya.voice.tables import (
    BusyRulePendingRow,
    CallbackRequestRow,
    CallLegRow,
    CallRow,
    VoiceAccountRow,
    VoiceNodeTimingRow,
)

log = logging.getLogger(__name__)

# The gate's write: one statement, idempotent on (tenant, CallSid). A repeated request gets
# the decision recorded the first time back (`inserted` false).
_RECORD_GATE = """
INSERT INTO calls (id, tenant_id, account_id, call_sid, direction, from_raw, from_e164, to_raw,
                   customer_id, node_id, decision, reason, started_at, updated_at)
VALUES (%s, %s, %s, %s, 'inbound', %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, call_sid) DO UPDATE SET updated_at = calls.updated_at
RETURNING decision, reason, (xmax = 0) AS inserted"""

_ACCOUNT_BY_KEY = """
SELECT id, tenant_id, name, caller_id, verify_number FROM voice_accounts
WHERE webhook_key_hash = %s"""

_ACCOUNT_BY_ID = """
SELECT id, tenant_id, name, caller_id, verify_number FROM voice_accounts WHERE id = %s"""

_MARK_VERIFIED = """
UPDATE customers SET verification = 'verified', verified_via = 'missed_call',
                     verified_at = %s, updated_at = %s
WHERE id = %s AND NOT (verification = 'verified' AND verified_via = 'missed_call')"""


# The same for a batch of calls (persistence.batching): one statement and one commit for
# every gate request that queued behind the previous batch. Rows are locked in key order, so
# two workers' batches that share a CallSid (Exotel retrying) cannot deadlock.
_RECORD_GATES = """
INSERT INTO calls (id, tenant_id, account_id, call_sid, direction, from_raw, from_e164, to_raw,
                   customer_id, node_id, decision, reason, started_at, updated_at)
SELECT (r->>0)::uuid, (r->>1)::uuid, (r->>2)::uuid, r->>3, 'inbound', r->>4, r->>5, r->>6,
       (r->>7)::uuid, (r->>8)::uuid, r->>9, r->>10, (r->>11)::timestamptz,
       (r->>12)::timestamptz
FROM jsonb_array_elements(%s::jsonb) AS r
ORDER BY (r->>1)::uuid, r->>3
ON CONFLICT (tenant_id, call_sid) DO UPDATE SET updated_at = calls.updated_at
RETURNING tenant_id, call_sid, decision, reason, (xmax = 0) AS inserted"""

# (id, tenant, account, CallSid, from, from E.164, to, customer, node, decision, reason,
#  started, updated): one gate request's row.
GateValues = tuple[Any, ...]
Recorded = tuple[str, str, bool]  # the decision kept, its reason, whether this request made it


async def record_gate(connection: AsyncConnection, values: Sequence[Any]) -> Recorded:
    """The gate's write for one call, on a plain autocommit psycopg connection (ADR 0005)."""
    cursor = await connection.execute(_RECORD_GATE, values, prepare=True)
    row = await cursor.fetchone()
    assert row is not None  # noqa: S101 - INSERT … ON CONFLICT DO UPDATE always returns
    return str(row[0]), str(row[1]), bool(row[2])


async def record_gates(
    database: Database, batch: list[GateValues]
) -> dict[GateValues, Recorded | Exception]:
    """Many gate requests' rows in one statement. A CallSid twice in the batch is written
    once (the later copy is a repeat); a row PostgreSQL refuses sends the batch row by row,
    so only that request fails."""
    firsts: dict[tuple[Any, Any], GateValues] = {}
    for values in batch:
        firsts.setdefault((values[1], values[3]), values)
    unique = list(firsts.values())
    stored: dict[tuple[Any, Any], Recorded | Exception] = {}
    async with database.reading() as connection:
        try:
            # One JSON document, not thirteen arrays: psycopg dumps array elements one by
            # one in Python (the batch's largest cost on our side).
            rows = json.dumps(unique, default=str)
            cursor = await connection.execute(_RECORD_GATES, (rows,), prepare=True)
            for tenant_id, sid, decision, reason, inserted in await cursor.fetchall():
                stored[(tenant_id, sid)] = (str(decision), str(reason), bool(inserted))
        except (psycopg.DataError, psycopg.IntegrityError):
            for values in unique:
                try:
                    stored[(values[1], values[3])] = await record_gate(connection, values)
                except (psycopg.DataError, psycopg.IntegrityError) as exc:
                    stored[(values[1], values[3])] = exc
    out: dict[GateValues, Recorded | Exception] = {}
    for values in batch:
        key = (values[1], values[3])
        result = stored[key]
        if firsts[key] is not values and not isinstance(result, Exception):
            result = (result[0], result[1], False)  # the same CallSid twice: a repeat
        out[values] = result
    return out


async def account_by_key(
    connection: AsyncConnection, key_hash: bytes
) -> tuple[uuid.UUID, uuid.UUID, str, str, str] | None:
    cursor = await connection.execute(_ACCOUNT_BY_KEY, (key_hash,), prepare=True)
    row = await cursor.fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4])


async def account_row_by_id(
    connection: AsyncConnection, account_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID, str, str, str] | None:
    cursor = await connection.execute(_ACCOUNT_BY_ID, (account_id,), prepare=True)
    row = await cursor.fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4])


async def mark_verified_by_call(
    connection: AsyncConnection, customer_id: uuid.UUID, now: datetime
) -> None:
    await connection.execute(_MARK_VERIFIED, (now, now, customer_id), prepare=True)


class VoiceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)

    async def call(
        self, tenant_id: uuid.UUID, call_sid: str, *, lock: bool = False
    ) -> CallRow | None:
        query = select(CallRow).where(CallRow.tenant_id == tenant_id, CallRow.call_sid == call_sid)
        if lock:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def insert_call_if_new(self, values: dict[str, Any]) -> None:
        await self.session.execute(
            insert(CallRow)
            .values(values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "call_sid"])
        )

    async def legs(self, call_id: uuid.UUID) -> list[CallLegRow]:
        rows = await self.session.scalars(
            select(CallLegRow).where(CallLegRow.call_id == call_id).order_by(CallLegRow.position)
        )
        return list(rows)

    async def executives_on_calls(
        self, tenant_id: uuid.UUID, since: datetime
    ) -> frozenset[uuid.UUID]:
        """Executives holding an open leg offered after `since` (a leg whose outcome never
        arrived stops blocking them at the horizon)."""
        rows = await self.session.scalars(
            select(CallLegRow.executive_id).where(
                CallLegRow.tenant_id == tenant_id,
                CallLegRow.outcome.is_(None),
                CallLegRow.offered_at >= since,
            )
        )
        return frozenset(rows)

    async def recent_leg_outcomes(self, executive_id: uuid.UUID, limit: int) -> list[str]:
        """The executive's latest rung legs' outcomes, newest first."""
        rows = await self.session.scalars(
            select(CallLegRow.outcome)
            .where(
                CallLegRow.executive_id == executive_id,
                CallLegRow.outcome.is_not(None),
                CallLegRow.outcome.not_in(NOT_BLAMED),
            )
            .order_by(CallLegRow.offered_at.desc())
            .limit(limit)
        )
        return [r for r in rows if r is not None]

    async def unanswered_since(self, customer_id: uuid.UUID, since: datetime) -> list[datetime]:
        """When the customer's unanswered calls since `since` started — only those after
        their last answered call: getting through ends a run of unanswered calls, and so
        does a callback that reached a conversation (its executive is its `answered_by`).
        Only calls the customer made count: a callback try nobody picked up is not one.
        The outcome's fast path's statement (`_UNANSWERED_SINCE`), on this transaction's
        connection: one rule, written once."""
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, AsyncConnection)  # noqa: S101 - the psycopg dialect
        values = {"customer": customer_id, "since": since}
        cursor = await driver.execute(_UNANSWERED_SINCE, values, prepare=True)
        row = await cursor.fetchone()
        return [] if row is None else list(row[0])

    async def lock_customer(self, customer_id: uuid.UUID) -> CustomerRow | None:
        """Serialises the busy-caller rule per customer across requests and workers.
        `FOR NO KEY UPDATE`: it must not wait on the key-share locks that inserting a call
        (foreign key to the customer) takes, or two outcomes deadlock."""
        return await self.session.scalar(
            select(CustomerRow).where(CustomerRow.id == customer_id).with_for_update(key_share=True)
        )

    async def busy_rules_due(self, before: datetime, limit: int) -> list[uuid.UUID]:
        """Calls whose busy-caller rule is pending since before `before`, oldest first."""
        rows = await self.session.scalars(
            select(BusyRulePendingRow.call_id)
            .where(BusyRulePendingRow.due_at < before)
            .order_by(BusyRulePendingRow.due_at)
            .limit(limit)
        )
        return list(rows)

    async def pending_busy_rule(self, call_id: uuid.UUID) -> CallRow | None:
        """The call of a pending rule, locked as `call(lock=True)` locks it (the order a
        live `apply_busy_rule` takes: call, then customer); None when the rule was settled
        meanwhile or a request holds the call (it is settling it)."""
        return await self.session.scalar(
            select(CallRow)
            .join(BusyRulePendingRow, BusyRulePendingRow.call_id == CallRow.id)
            .where(CallRow.id == call_id)
            .with_for_update(of=CallRow, skip_locked=True)
        )

    async def busy_rule_applied(self, customer_id: uuid.UUID, since: datetime) -> bool:
        """Whether the rule already ran for the customer since `since`: one of the calls
        they made carries a ticket, or a callback request was made for them. (A callback
        try carries its ticket too, but it is not the rule having run.)"""
        calls = select(CallRow.id).where(
            CallRow.customer_id == customer_id,
            CallRow.direction == "inbound",
            CallRow.started_at > since,
            CallRow.ticket_id.is_not(None),
        )
        requests = select(CallbackRequestRow.id).where(
            CallbackRequestRow.customer_id == customer_id, CallbackRequestRow.created_at > since
        )
        found = await self.session.scalar(select(calls.exists() | requests.exists()))
        return bool(found)

    async def settle_busy_rule(self, call_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(BusyRulePendingRow).where(BusyRulePendingRow.call_id == call_id)
        )

    async def postpone_busy_rule(self, call_id: uuid.UUID, now: datetime, error: str) -> None:
        await self.session.execute(
            update(BusyRulePendingRow)
            .where(BusyRulePendingRow.call_id == call_id)
            .values(
                due_at=now,
                attempts=BusyRulePendingRow.attempts + 1,
                last_error=error[:2000],
            )
        )

    async def open_callback(self, customer_id: uuid.UUID) -> CallbackRequestRow | None:
        return await self.session.scalar(
            select(CallbackRequestRow).where(
                CallbackRequestRow.customer_id == customer_id,
                CallbackRequestRow.status.in_(("pending", "dialling")),
            )
        )

    async def callbacks(
        self, tenant_id: uuid.UUID, root_path: str, statuses: Sequence[str], limit: int
    ) -> list[tuple[CallbackRequestRow, NodeRow, CustomerRow]]:
        """Callback requests inside a subtree, oldest first."""
        rows = await self.session.execute(
            select(CallbackRequestRow, NodeRow, CustomerRow)
            .join(NodeRow, NodeRow.id == CallbackRequestRow.node_id)
            .join(CustomerRow, CustomerRow.id == CallbackRequestRow.customer_id)
            .where(
                CallbackRequestRow.tenant_id == tenant_id,
                CallbackRequestRow.status.in_(statuses),
                (NodeRow.path == root_path) | NodeRow.path.startswith(root_path + "/"),
            )
            .order_by(CallbackRequestRow.created_at, CallbackRequestRow.id)
            .limit(limit)
        )
        return [(r[0], r[1], r[2]) for r in rows.all()]

    async def callbacks_due(self, now: datetime, limit: int) -> list[CallbackRequestRow]:
        """Callback requests to act on, locked (rows another worker holds are skipped):
        pending ones that are due and automatic or asked for by a person, and placed ones
        whose report is overdue."""
        pending = (CallbackRequestRow.status == "pending") & (
            CallbackRequestRow.auto.is_(True) | CallbackRequestRow.dial_requested_at.is_not(None)
        )
        rows = await self.session.scalars(
            select(CallbackRequestRow)
            .where(
                CallbackRequestRow.status.in_(("pending", "dialling")),
                CallbackRequestRow.next_attempt_at <= now,
                pending | (CallbackRequestRow.status == "dialling"),
            )
            .order_by(CallbackRequestRow.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def callback_for_call(self, call_id: uuid.UUID) -> CallbackRequestRow | None:
        return await self.session.scalar(
            select(CallbackRequestRow)
            .where(CallbackRequestRow.last_call_id == call_id)
            .with_for_update()
        )

    async def callback(
        self, tenant_id: uuid.UUID, callback_id: uuid.UUID, *, lock: bool = False
    ) -> CallbackRequestRow | None:
        query = select(CallbackRequestRow).where(
            CallbackRequestRow.tenant_id == tenant_id, CallbackRequestRow.id == callback_id
        )
        if lock:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def callback_account(self, row: CallbackRequestRow) -> VoiceAccountRow | None:
        """The account a callback goes out on: the one the customer called in on (its
        ExoPhone is the number they know), else the tenant's first."""
        if row.call_id is not None:
            found = await self.session.scalar(
                select(VoiceAccountRow)
                .join(CallRow, CallRow.account_id == VoiceAccountRow.id)
                .where(CallRow.id == row.call_id, VoiceAccountRow.tenant_id == row.tenant_id)
            )
            if found is not None:
                return found
        return await self.first_account(row.tenant_id)

    async def first_account(self, tenant_id: uuid.UUID) -> VoiceAccountRow | None:
        return await self.session.scalar(
            select(VoiceAccountRow)
            .where(VoiceAccountRow.tenant_id == tenant_id)
            .order_by(VoiceAccountRow.created_at, VoiceAccountRow.id)
            .limit(1)
        )

    async def timings(self, tenant_id: uuid.UUID) -> list[tuple[str, VoiceNodeTimingRow]]:
        rows = await self.session.execute(
            select(NodeRow.path, VoiceNodeTimingRow)
            .join(NodeRow, NodeRow.id == VoiceNodeTimingRow.node_id)
            .where(VoiceNodeTimingRow.tenant_id == tenant_id)
        )
        return [(r[0], r[1]) for r in rows.all()]

    async def account_by_hash(self, digest: bytes) -> VoiceAccountRow | None:
        return await self.session.scalar(
            select(VoiceAccountRow).where(VoiceAccountRow.webhook_key_hash == digest)
        )

    async def account(self, account_id: uuid.UUID) -> VoiceAccountRow | None:
        return await self.session.get(VoiceAccountRow, account_id)


# ----------------------------------------------------------------------- dial hot path
# The Connect applet's dial list is the other routing decision Exotel waits on: two
# autocommit statements on a plain psycopg connection, one to read and one to offer
# (ADR 0013). Nobody holds two open legs: the unique partial index on open legs says so.

# The call (and any legs already offered), and — while it still needs a list — every
# executive of the franchisees owning its node and the node's ancestors, with whether each
# holds an open leg offered after the horizon.
_DIAL_VIEW = """
WITH c AS (
  SELECT c.id, c.decision, c.reason, c.outcome, c.node_id, n.path, c.customer_id,
         coalesce((SELECT array_agg(l.phone_e164 ORDER BY l.position)
                   FROM call_legs l WHERE l.call_id = c.id), '{}') AS offered, c.updated_at
  FROM calls c LEFT JOIN nodes n ON n.id = c.node_id
  WHERE c.tenant_id = %(tenant)s AND c.call_sid = %(sid)s)
SELECT c.id, c.decision, c.reason, c.outcome, c.node_id, c.path, c.customer_id, c.offered,
       c.updated_at, x.*
FROM c LEFT JOIN LATERAL (
  SELECT p.id, p.name, p.level, p.path, e.id, e.name, e.rank, e.phone_e164, e.services,
         e.working_hours::text, e.timezone, e.availability,
         EXISTS (SELECT 1 FROM call_legs l
                 WHERE l.executive_id = e.id AND l.outcome IS NULL
                   AND l.offered_at >= %(since)s)
  FROM nodes p LEFT JOIN executives e ON e.franchisee_id = p.franchisee_id
  WHERE c.offered = '{}' AND c.outcome IS NULL AND c.decision = 'allow'
    AND p.tenant_id = %(tenant)s
    AND p.path IN (SELECT array_to_string(parts[1:i], '/')
                   FROM string_to_array(c.path, '/') AS parts,
                        generate_series(1, cardinality(parts)) AS i)) x ON true"""

SCREEN_POP_CHANNEL = "sahaya_screen_pop"

# The caller's card on an executive's screen-pop: who they are and their latest open
# tickets; one column, `profile` (the same for an inbound offer and a callback).
_PROFILE = """
SELECT json_build_object(
         'id', c.id, 'name', c.name, 'phone', c.phone_e164, 'email', c.email,
         'language', c.language, 'node', n.path, 'verification', c.verification,
         'open_tickets', (
           SELECT coalesce(json_agg(json_build_object(
                    'number', t.number, 'subject', t.subject, 'status', t.status,
                    'severity', t.severity, 'created_at', t.created_at)
                    ORDER BY t.created_at DESC), '[]'::json)
           FROM (SELECT number, subject, status, severity, created_at FROM tickets
                 WHERE customer_id = c.id AND status NOT IN ('resolved', 'closed')
                 ORDER BY created_at DESC LIMIT 5) t)) AS profile
FROM customers c JOIN nodes n ON n.id = c.home_node_id WHERE c.id = %(customer)s::uuid"""

# Offer the call: lock it — only as the read saw it (same `updated_at`, no outcome): a copy
# of this request that offered first, or the outcome closing the call, changed the row, and
# then this statement writes nothing — release the chosen executives' legs that outlived
# the horizon (their outcome never came), take the first `depth` per level of the plan's
# candidates (its picks, then who else was free) that no offer of another call has taken
# since the read — what a fresh read and plan would choose (`dialling.choose`) — insert
# one leg per executive in executive order (so two offers never wait on each other in a
# cycle) and record the service. Returns the numbers and executives offered, in order (their
# screen-pops follow, `screen_pops`). A call changed
# since the read, or a leg the unique index still refuses (an offer of the same executive
# committing at this very moment), undoes the whole statement as a serialisation failure:
# the caller reads again and plans again.
_OFFER = """
WITH call AS (
  SELECT id FROM calls
  WHERE id = %(call)s::uuid AND updated_at = %(seen)s::timestamptz AND outcome IS NULL
  FOR UPDATE),
expired AS (
  UPDATE call_legs SET outcome = 'unreported', ended_at = %(now)s::timestamptz
  WHERE executive_id = ANY(%(executives)s::uuid[]) AND outcome IS NULL
    AND offered_at < %(since)s::timestamptz AND EXISTS (SELECT 1 FROM call)
  RETURNING 1),
free AS (
  SELECT x.*, row_number() OVER (PARTITION BY x.level ORDER BY x.seq) AS nth
  FROM unnest(%(executives)s::uuid[], %(positions)s::int[], %(levels)s::text[],
              %(phones)s::text[]) AS x(executive, seq, level, phone)
  WHERE NOT EXISTS (SELECT 1 FROM call_legs o
                    WHERE o.executive_id = x.executive AND o.outcome IS NULL
                      AND o.offered_at >= %(since)s::timestamptz)),
offered AS (
  SELECT executive, (row_number() OVER (ORDER BY seq))::int AS position, level, phone
  FROM free
  WHERE nth <= CASE level WHEN 'sub_district' THEN %(depth_sub_district)s::int
                          WHEN 'district' THEN %(depth_district)s::int
                          ELSE %(depth_state)s::int END
  ORDER BY seq LIMIT %(max_numbers)s::int),
legs AS (
  INSERT INTO call_legs (id, tenant_id, call_id, executive_id, position, level, phone_e164,
                         offered_at)
  SELECT gen_random_uuid(), %(tenant)s::uuid, call.id, executive, position, level, phone,
         %(now)s::timestamptz
  FROM offered, call
  WHERE (SELECT count(*) FROM expired) >= 0
  ORDER BY executive
  ON CONFLICT DO NOTHING
  RETURNING executive_id, position, phone_e164),
noted AS (
  UPDATE calls SET service_code = %(service)s::text,
                   reason = CASE
                     WHEN (SELECT coalesce(array_agg(phone ORDER BY position), '{}')
                           FROM offered) = %(planned)s::text[] THEN %(reason)s::text
                     ELSE format(%(replanned)s::text, (SELECT count(*) FROM offered)) END,
                   updated_at = %(now)s::timestamptz
  WHERE id = (SELECT id FROM call)
  RETURNING 1)
SELECT (SELECT coalesce(array_agg(phone_e164 ORDER BY position), '{}') FROM legs),
       (SELECT coalesce(array_agg(executive_id ORDER BY position), '{}') FROM legs)
WHERE sahaya_retry_unless(
        EXISTS (SELECT FROM call)
          AND (SELECT count(*) FROM legs) = (SELECT count(*) FROM offered),
        'the call changed since it was read, or an executive was offered another call')"""

_NODE_TIMINGS = """
SELECT n.path, t.ring_seconds, t.budget_seconds
FROM voice_node_timings t JOIN nodes n ON n.id = t.node_id WHERE t.tenant_id = %s"""

_ACTIVE_SERVICES = "SELECT code FROM services WHERE tenant_id = %s AND active ORDER BY code"


async def dial_view(
    connection: AsyncConnection, tenant_id: uuid.UUID, call_sid: str, since: datetime
) -> list[tuple[Any, ...]]:
    """The call's row (first 9 columns) and, when it still needs a list, one row per
    executive along its path; no rows when the call is unknown."""
    cursor = await connection.execute(
        _DIAL_VIEW, {"tenant": tenant_id, "sid": call_sid, "since": since}, prepare=True
    )
    return await cursor.fetchall()


_NOTE_REASON = "UPDATE calls SET reason = %s, updated_at = %s WHERE id = %s AND outcome IS NULL"


async def note_reason(
    connection: AsyncConnection, call_id: uuid.UUID, reason: str, now: datetime
) -> None:
    """Why a call got the list it got, when no offer recorded it."""
    await connection.execute(_NOTE_REASON, (reason[:1000], now, call_id), prepare=True)


async def offer(
    connection: AsyncConnection, values: dict[str, Any]
) -> tuple[tuple[str, ...], tuple[uuid.UUID, ...]]:
    """The numbers and executives offered, in order (others than planned when some were
    offered another call since the read); raises `psycopg.errors.SerializationFailure` when
    the call changed or a leg was refused (see `_OFFER`)."""
    cursor = await connection.execute(_OFFER, values, prepare=True)
    row = await cursor.fetchone()
    return ((), ()) if row is None else (tuple(row[0]), tuple(row[1]))


# The screen-pops of executives just offered a call — an inbound offer's or a callback's —
# one NOTIFY each with the caller's card, in a transaction of their own, after the offer
# committed: a NOTIFY inside the offer held PostgreSQL's queue lock (one for the whole
# server) across the offer's WAL flush, so every other dialling call queued behind it. The
# pops are not durable state (the legs are), so this commit need not wait for its flush.
_SCREEN_POPS = f"""
SELECT set_config('synchronous_commit', 'off', true),
       pg_notify('{SCREEN_POP_CHANNEL}', json_build_object(
         'executive_id', x.executive, 'position', x.position, 'call_sid', %(sid)s::text,
         'offered_at', %(offered_at)s::timestamptz, 'customer', card.profile)::text)
FROM unnest(%(executives)s::uuid[]) WITH ORDINALITY AS x (executive, position),
     ({_PROFILE}) AS card"""  # noqa: S608 - constants of this module, values bound


async def screen_pops(
    database: Database,
    *,
    executives: Sequence[uuid.UUID],
    sid: str,
    offered_at: datetime,
    customer: uuid.UUID | None,
    connection: AsyncConnection | None = None,
) -> None:
    """Tell each executive's console, in dial order, who is calling (`_SCREEN_POPS`), on
    the caller's `connection` or one of the database's. Best effort: the call is offered
    (or placed) and recorded all the same, so a pop that cannot be sent is only logged —
    failing would undo a callback's record and place it again."""
    if not executives or customer is None:
        return
    values = {
        "executives": list(executives),
        "sid": sid,
        "offered_at": offered_at,
        "customer": customer,
    }
    try:
        if connection is not None:
            await connection.execute(_SCREEN_POPS, values, prepare=True)
        else:
            async with database.reading() as own:
                await own.execute(_SCREEN_POPS, values, prepare=True)
    except psycopg.Error as exc:
        log.warning("call %s: no screen-pop for %d executive(s): %s", sid, len(executives), exc)


async def active_services(connection: AsyncConnection, tenant_id: uuid.UUID) -> tuple[str, ...]:
    cursor = await connection.execute(_ACTIVE_SERVICES, (tenant_id,), prepare=True)
    return tuple(str(row[0]) for row in await cursor.fetchall())


async def node_timings(
    connection: AsyncConnection, tenant_id: uuid.UUID
) -> list[tuple[str, int, int]]:
    cursor = await connection.execute(_NODE_TIMINGS, (tenant_id,), prepare=True)
    return [(str(r[0]), int(r[1]), int(r[2])) for r in await cursor.fetchall()]


# ------------------------------------------------------------------------ callback claim
# A callback rings one executive first: the executive is claimed — an outbound call row
# under a provisional CallSid, one per request, and its open leg — by a statement that
# commits at once, before the provider is asked, so no dial plan waits on the provider.
_CLAIM_FOR_CALLBACK = """
WITH expired AS (
  UPDATE call_legs SET outcome = 'unreported', ended_at = %(now)s
  WHERE executive_id = %(executive)s AND outcome IS NULL AND offered_at < %(since)s
  RETURNING 1),
call AS (
  INSERT INTO calls (id, tenant_id, account_id, call_sid, direction, from_raw, from_e164,
                     to_raw, customer_id, node_id, service_code, decision, reason, ticket_id,
                     started_at, updated_at)
  VALUES (gen_random_uuid(), %(tenant)s, %(account)s, %(sid)s, 'outbound', %(phone)s,
          %(phone)s, %(to)s, %(customer)s, %(node)s, %(service)s, 'allow', %(reason)s,
          %(ticket)s, %(now)s, %(now)s)
  RETURNING id),
leg AS (
  INSERT INTO call_legs (id, tenant_id, call_id, executive_id, position, level, phone_e164,
                         offered_at)
  SELECT gen_random_uuid(), %(tenant)s, call.id, %(executive)s, 1, %(level)s, %(phone)s,
         %(now)s
  FROM call WHERE (SELECT count(*) FROM expired) >= 0
  ON CONFLICT DO NOTHING
  RETURNING call_id)
SELECT (SELECT call_id FROM leg)
WHERE sahaya_retry_unless(EXISTS (SELECT FROM leg), 'the executive holds another call')"""

# A provisional call that was never placed: the provider refused it, or the worker stopped
# before asking (the request's next try finds it). Its leg goes with it.
_UNCLAIM = """
DELETE FROM calls WHERE tenant_id = %s AND call_sid = %s AND direction = 'outbound'"""


def provisional_sid(callback_id: uuid.UUID) -> str:
    return f"pending:{callback_id}"


async def claim_for_callback(
    connection: AsyncConnection, values: dict[str, Any]
) -> uuid.UUID | None:
    """The provisional call holding the executive, or None when they hold another call
    (then nothing is written)."""
    try:
        cursor = await connection.execute(_CLAIM_FOR_CALLBACK, values, prepare=True)
    except psycopg.errors.SerializationFailure:
        return None
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def unclaim(connection: AsyncConnection, tenant_id: uuid.UUID, sid: str) -> None:
    await connection.execute(_UNCLAIM, (tenant_id, sid), prepare=True)


# The screen-pop of a callback, sent once the provider has taken the call (so it rings the
# executive now) under the CallSid its report will carry: the event an inbound offer sends
# (`_OFFER`) — the customer's card and open tickets — as position 1 of its dial list.


# --------------------------------------------------------------------- outcome fast path

# When a customer's unanswered calls in the window started (the busy-caller rule): calls
# they made, after their last call that reached an executive (a callback included); the
# customer is `{customer}`, an SQL expression. As `VoiceRepository.unanswered_since`.
_UNANSWERED_STARTS = f"""
SELECT coalesce(array_agg(u.started_at), '{{{{}}}}') FROM calls u
WHERE u.customer_id = {{customer}} AND u.direction = 'inbound' AND u.started_at > %(since)s
  AND u.outcome IN ({", ".join(f"'{o}'" for o in sorted(UNANSWERED))})
  AND NOT EXISTS (SELECT FROM calls a WHERE a.customer_id = {{customer}}
                  AND a.answered_by IS NOT NULL AND a.started_at > u.started_at)"""  # noqa: S608

# The call as the outcome needs it: its legs, when it was last changed (the close writes
# only if nothing changed since), and when the caller's other unanswered calls of the
# window started (the busy-caller rule).
_CALL_FOR_OUTCOME = f"""
SELECT c.id, c.outcome, c.customer_id,
       coalesce((SELECT array_agg(l.phone_e164 ORDER BY l.position)
                 FROM call_legs l WHERE l.call_id = c.id), '{{}}') AS phones,
       coalesce((SELECT array_agg(l.executive_id ORDER BY l.position)
                 FROM call_legs l WHERE l.call_id = c.id), '{{}}') AS executives,
       c.updated_at, c.started_at,
       ({_UNANSWERED_STARTS.format(customer="c.customer_id")}) AS unanswered
FROM calls c WHERE c.tenant_id = %(tenant)s AND c.call_sid = %(sid)s"""  # noqa: S608 - as above

# Each executive's latest rung legs, newest first (the missed-in-a-row rule), including the
# ones about to be written by this outcome, which are passed in.
_RECENT_OUTCOMES = f"""
SELECT x.executive,
       array(SELECT l.outcome FROM call_legs l
             WHERE l.executive_id = x.executive AND l.outcome IS NOT NULL
               AND l.outcome NOT IN ({", ".join(f"'{o}'" for o in sorted(NOT_BLAMED))})
             ORDER BY l.offered_at DESC LIMIT %s)
FROM unnest(%s::uuid[]) AS x(executive)"""  # noqa: S608 - enum constants, values bound

# A customer who got through to an executive no longer needs the callback they were owed:
# a pending request is cancelled, saying why (one being dialled right now is left to its
# report). Shared by the fast close and `cancel_served_callback`.
_CALLBACK_SERVED = """
  UPDATE callback_requests
  SET status = 'cancelled', next_attempt_at = NULL, updated_at = %(now)s::timestamptz,
      last_error = %(served)s::text
  WHERE customer_id = %(customer)s::uuid AND status = 'pending' AND {answered}"""
_SERVED_BY_THIS_CLOSE = _CALLBACK_SERVED.format(
    answered="%(answered_by)s::uuid IS NOT NULL AND EXISTS (SELECT FROM call)"
)

# Close the call once, and only as it was read: a repeat (or a concurrent copy) of the
# report finds it closed, an offer committed since the read changed it — either way this
# writes nothing. Returns whether this statement closed it.
_CLOSE_CALL = f"""
WITH call AS (
  UPDATE calls SET outcome = %(outcome)s::text, dialled_number = %(dialled)s::text,
         duration_seconds = %(duration)s::int, recording_url = %(recording)s::text,
         answered_by = %(answered_by)s::uuid, ended_at = %(now)s::timestamptz,
         updated_at = %(now)s::timestamptz
  WHERE id = %(call)s::uuid AND outcome IS NULL AND updated_at = %(seen)s::timestamptz
  RETURNING id),
legs AS (
  UPDATE call_legs l SET outcome = x.outcome, ended_at = %(now)s::timestamptz
  FROM unnest(%(positions)s::int[], %(outcomes)s::text[]) AS x(position, outcome)
  WHERE l.call_id = (SELECT id FROM call) AND l.position = x.position
  RETURNING 1),
pending AS (
  INSERT INTO busy_rule_pending (call_id, due_at)
  SELECT id, %(now)s::timestamptz FROM call WHERE %(watch)s::boolean),
served AS ({_SERVED_BY_THIS_CLOSE})
SELECT EXISTS (SELECT FROM call) AND (SELECT count(*) FROM legs) >= 0"""  # noqa: S608

# The caller's unanswered calls, read after the call's own close has committed: of two
# concurrent unanswered calls, the later reader sees both.
_UNANSWERED_SINCE = _UNANSWERED_STARTS.format(customer="%(customer)s")

# The same read, which also settles the call's pending rule when it is not reached (the
# count of `domain.BusyRule.triggered`: started within the window, up to now); a rule
# reached keeps its row until `apply_busy_rule` commits the ticket and callback.
_UNANSWERED_SETTLED = f"""
WITH seen AS ({_UNANSWERED_SINCE}),
settled AS (
  DELETE FROM busy_rule_pending
  WHERE call_id = %(call)s
    AND (SELECT count(*) FROM unnest((SELECT * FROM seen)) AS t (at) WHERE t.at <= %(now)s)
        < %(calls)s)
SELECT * FROM seen"""  # noqa: S608 - a constant of this module, values bound


async def call_for_outcome(
    connection: AsyncConnection, tenant_id: uuid.UUID, call_sid: str, since: datetime
) -> tuple[Any, ...] | None:
    """(id, outcome, customer, phones, executives, updated_at, started_at, the customer's
    unanswered calls' start times since `since`), or None for an unknown call."""
    cursor = await connection.execute(
        _CALL_FOR_OUTCOME, {"tenant": tenant_id, "sid": call_sid, "since": since}, prepare=True
    )
    return await cursor.fetchone()


async def recent_outcomes(
    connection: AsyncConnection, executives: list[uuid.UUID], limit: int
) -> dict[uuid.UUID, list[str]]:
    cursor = await connection.execute(_RECENT_OUTCOMES, (limit, executives), prepare=True)
    return {row[0]: list(row[1]) for row in await cursor.fetchall()}


async def cancel_served_callback(
    connection: AsyncConnection,
    customer_id: uuid.UUID,
    call_sid: str,
    now: datetime,
) -> None:
    """The customer got through on `call_sid`: their pending callback is not needed."""
    await connection.execute(
        _CALLBACK_SERVED.format(answered="true"),
        {"customer": customer_id, "now": now, "served": served_reason(call_sid)},
        prepare=True,
    )


def served_reason(call_sid: str) -> str:
    return f"not needed: the customer got through on call {call_sid}"[:500]


async def close_call(connection: AsyncConnection, values: dict[str, Any]) -> bool:
    """Whether this statement closed the call (False: it was already closed)."""
    cursor = await connection.execute(_CLOSE_CALL, values, prepare=True)
    row = await cursor.fetchone()
    return bool(row and row[0])


async def settle_unanswered(
    connection: AsyncConnection,
    call_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    since: datetime,
    now: datetime,
    calls: int,
) -> list[datetime]:
    """When the customer's unanswered calls since `since` started, read after this call's
    close has committed; and the call's pending rule removed when it is not reached."""
    cursor = await connection.execute(
        _UNANSWERED_SETTLED,
        {"customer": customer_id, "since": since, "call": call_id, "now": now, "calls": calls},
        prepare=True,
    )
    row = await cursor.fetchone()
    return list(row[0]) if row else []
