"""A channel message kept — and, in the commonest case, threaded — by one statement.

Every inbound message must first be kept under its provider id (a copy of it is then a
no-op), and most are a known customer writing again into their open ticket. Measured by
bench/whatsapp_inbound.py, the ORM path spent ~14 ms of Python per message on twelve
statements, and the first psycopg version still took six round trips (BEGIN, keep, touch
the conversation, find the sender, write, COMMIT). `keep_or_thread` is one autocommit
statement (ADR 0012): it keeps the event and, when the message is plain content from a
known, unblocked customer with an open ticket for the service that is not paused, also
moves the conversation on, adds the thread entry, the ticket's search words and
`updated_at`, the audit event, and marks the event processed — exactly what
`tickets.inbound.receive` would write. Otherwise it only keeps the event, unprocessed, and
the caller processes it as the retry sweep would (now, not later).

Order inside the statement: the event first (a concurrent copy waits on its unique key,
then does nothing), then the conversation, then the ticket's row lock — the conversation
before the ticket, as on the full path, so the two cannot deadlock. What the statement read
at its start is checked again under the ticket's lock; if the ticket changed meanwhile the
statement fails as a serialisation failure, nothing of it stays, and it is run again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg import AsyncConnection
from psycopg.errors import SerializationFailure
from psycopg.types.json import Jsonb

from sahaya.customers import CustomerRow
from sahaya.customers.repository import WITH_HOME, card_from_row
from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import InboundKind, InboundMessage
from sahaya.messaging.inbound import TOUCHED, Conversation, stored_key
from sahaya.network import NodeRow
from sahaya.tickets.domain import PAUSED, EntryKind

ACTOR = "admin:00000000-0000-0000-0000-000000000000:system:messaging"
_PLAIN = frozenset(
    {InboundKind.TEXT, InboundKind.LOCATION, InboundKind.BUTTON, InboundKind.CONTACT}
)
_PAUSED = tuple(sorted(s.value for s in PAUSED))
_KEEP_OR_THREAD = """
WITH look AS (
  SELECT s.id AS customer_id, s.name, open.id AS ticket_id, open.number
  FROM customers s
  CROSS JOIN LATERAL (
    SELECT id, number, status FROM tickets
    WHERE tenant_id = %(tenant)s AND customer_id = s.id AND service_code = %(service)s
      AND status NOT IN ('resolved', 'closed') AND updated_at >= %(since)s
    ORDER BY updated_at DESC LIMIT 1) open
  WHERE %(plain)s AND s.tenant_id = %(tenant)s AND NOT s.blocked
    AND open.status NOT IN (%(paused_1)s, %(paused_2)s)
    AND s.id = COALESCE(
      (SELECT customer_id FROM conversations
        WHERE account_id = %(account)s AND address = %(address)s),
      (SELECT customer_id FROM customer_identities
        WHERE tenant_id = %(tenant)s AND channel = %(channel)s AND external_id = %(address)s),
      (SELECT id FROM customers WHERE tenant_id = %(tenant)s AND phone_e164 = %(phone)s))),
ev AS (
  INSERT INTO inbound_events (id, tenant_id, account_id, dedupe_key, kind, payload,
    received_at, attempts, next_attempt_at, processed_at, outcome, customer_id, ticket_id)
  SELECT %(event)s, %(tenant)s, %(account)s, %(key)s, 'message', %(payload)s, %(now)s, 0,
    CASE WHEN look.ticket_id IS NULL THEN %(retry_at)s END,
    CASE WHEN look.ticket_id IS NOT NULL THEN %(now)s END,
    CASE WHEN look.ticket_id IS NOT NULL THEN 'threaded' END,
    look.customer_id, look.ticket_id
  FROM (VALUES (1)) AS one (n) LEFT JOIN look ON true
  ON CONFLICT (account_id, dedupe_key) DO NOTHING
  RETURNING outcome),
conv AS (
  INSERT INTO conversations (id, tenant_id, account_id, address, last_inbound_at, messages,
                             customer_id)
  SELECT %(conversation)s, %(tenant)s, %(account)s, %(address)s, %(sent_at)s, 1,
    look.customer_id
  FROM ev, look WHERE ev.outcome = 'threaded'
  ON CONFLICT (account_id, address) DO UPDATE
  SET last_inbound_at = GREATEST(conversations.last_inbound_at, EXCLUDED.last_inbound_at),
      messages = conversations.messages + 1, customer_id = EXCLUDED.customer_id
  RETURNING id),
locked AS (
  SELECT t.id FROM conv, look, tickets t
  WHERE t.id = look.ticket_id AND t.updated_at >= %(since)s
    AND t.status NOT IN ('resolved', 'closed', %(paused_1)s, %(paused_2)s)
  FOR UPDATE OF t),
entry AS (
  INSERT INTO ticket_entries (id, tenant_id, ticket_id, kind, author, body, created_at)
  SELECT %(entry)s, %(tenant)s, locked.id, %(kind)s,
    'customer:' || look.customer_id || ':' || look.name, %(body)s, %(now)s
  FROM locked, look),
touched AS (
  UPDATE tickets SET updated_at = %(now)s, search = sahaya_search_add(search, %(body)s)
  FROM locked WHERE tickets.id = locked.id),
audit AS (
  INSERT INTO ticket_events (id, tenant_id, ticket_id, actor, action, changes, created_at)
  SELECT %(audit)s, %(tenant)s, locked.id, %(actor)s, 'customer_message', %(changes)s,
    %(now)s
  FROM locked)
SELECT ev.outcome, look.customer_id, look.ticket_id, look.number,
  sahaya_retry_unless(ev.outcome IS NULL OR EXISTS (SELECT FROM locked),
                      'the open ticket changed while the message was threaded')
FROM ev LEFT JOIN look ON true"""
_TRIES = 3  # a ticket changing under the statement twice in a row is already rare


@dataclass(frozen=True, slots=True)
class Threaded:
    customer_id: uuid.UUID
    ticket_id: uuid.UUID
    number: str


@dataclass(frozen=True, slots=True)
class Kept:
    """The statement's outcome: `new` is False for a repeat (nothing written); `threaded` is
    set when the message was also threaded, else the event waits, unprocessed."""

    new: bool
    threaded: Threaded | None = None


def eligible(message: InboundMessage) -> bool:
    return (
        message.kind in _PLAIN
        and not message.media
        and message.link_token is None
        and message.shared_phone is None
        and message.ticket_hint is None
    )


async def keep_or_thread(
    connection: AsyncConnection,
    *,
    account: ChannelAccount,
    event_id: uuid.UUID,
    message: InboundMessage,
    payload: dict[str, object],
    service_code: str,
    window: timedelta,
    now: datetime,
    retry_at: datetime,
) -> Kept:
    """Keep the message (on an autocommit connection: the statement is its transaction)
    and thread it when it is the common case; see the module docstring."""
    params = {
        "tenant": account.tenant_id,
        "account": account.id,
        "channel": account.channel.value,
        "address": message.address,
        "phone": message.phone,
        "service": service_code,
        "since": now - window,
        "plain": eligible(message),
        "paused_1": _PAUSED[0],
        "paused_2": _PAUSED[1],
        "event": event_id,
        "key": stored_key(message.dedupe_key),
        "payload": Jsonb(payload),
        "now": now,
        "retry_at": retry_at,
        "conversation": uuid.uuid4(),
        "sent_at": min(message.sent_at, now),
        "entry": uuid.uuid4(),
        "kind": EntryKind.CUSTOMER_MESSAGE.value,
        "body": message.describe(),
        "audit": uuid.uuid4(),
        "actor": ACTOR,
        "changes": Jsonb({"channel": account.channel.value}),
    }
    attempt = 1
    while True:
        try:
            cursor = await connection.execute(_KEEP_OR_THREAD, params, prepare=True)
            row = await cursor.fetchone()
            break
        except SerializationFailure:
            if attempt == _TRIES:
                raise  # counted as "unreachable": the provider retries
            attempt += 1
    if row is None:
        return Kept(new=False)
    outcome, customer_id, ticket_id, number, _ = row
    if outcome != "threaded":
        return Kept(new=True)
    return Kept(new=True, threaded=Threaded(customer_id, ticket_id, str(number)))


# A kept message's processing starts here: lock its event (None when the retry sweep got
# there first — then nothing is touched), touch its conversation (event, then
# conversation: the order every path takes), and read the sender as `inbound._recognise`
# would for a phone or chat address — the conversation's customer, else a linked identity,
# else the phone. One round trip where these took two.
_CLAIM_AND_RECOGNISE = f"""
WITH claimed AS (
  SELECT id FROM inbound_events WHERE id = %(event)s AND processed_at IS NULL FOR UPDATE),
conv AS (
  INSERT INTO conversations (id, tenant_id, account_id, address, last_inbound_at, messages)
  SELECT %(conversation)s, %(tenant)s, %(account)s, %(address)s, %(sent_at)s, 1 FROM claimed
  {TOUCHED})
SELECT conv.id, conv.customer_id, card.*
FROM conv LEFT JOIN LATERAL ({WITH_HOME}
  WHERE c.tenant_id = %(tenant)s AND c.id = COALESCE(
    conv.customer_id,
    (SELECT customer_id FROM customer_identities
      WHERE tenant_id = %(tenant)s AND channel = %(channel)s AND external_id = %(address)s),
    (SELECT id FROM customers WHERE tenant_id = %(tenant)s AND phone_e164 = %(phone)s))
) card ON true"""  # noqa: S608 - a constant of customers.repository, values bound


@dataclass(frozen=True, slots=True)
class Claimed:
    conversation: Conversation
    sender: tuple[CustomerRow, NodeRow] | None  # None: not found by conversation or phone


async def claim_and_recognise(
    connection: AsyncConnection,
    *,
    account: ChannelAccount,
    event_id: uuid.UUID,
    message: InboundMessage,
    now: datetime,
) -> Claimed | None:
    """See `_CLAIM_AND_RECOGNISE`; on the unit of work's connection, inside its transaction."""
    cursor = await connection.execute(
        _CLAIM_AND_RECOGNISE,
        {
            "event": event_id,
            "conversation": uuid.uuid4(),
            "tenant": account.tenant_id,
            "account": account.id,
            "address": message.address,
            "sent_at": min(message.sent_at, now),
            "channel": account.channel.value,
            "phone": message.phone,
        },
        prepare=True,
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    sender = None if row[2] is None else card_from_row(row[2:])
    return Claimed(Conversation(row[0], row[1]), sender)
