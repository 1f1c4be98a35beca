"""The commonest channel message, without the ORM: a known customer writing again into
their open ticket. Measured by bench/whatsapp_inbound.py, the ORM path spent ~14 ms of
Python per message on twelve statements; this path, after the caller's conversation upsert,
reads once and writes four or five rows in one statement on the unit of work's own psycopg
connection (ADR 0005, 0011), prepared.

It only takes a message it can finish exactly as `tickets.inbound.receive` would: plain
content (no media, links or commands), a customer already known by the conversation, a
linked identity or their phone, not blocked, and an open ticket for the service that is
not paused (a paused ticket's SLA clocks must resume: that is the full path's job). For
anything else it returns None *before writing*, and the caller takes the full path.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import InboundKind, InboundMessage
from sahaya.messaging.inbound import FINISH_SQL, LINK_SQL, Conversation
from sahaya.persistence.fast_insert import chain
from sahaya.tickets.domain import PAUSED, EntryKind

ACTOR = "admin:00000000-0000-0000-0000-000000000000:system:messaging"
_PLAIN = frozenset(
    {InboundKind.TEXT, InboundKind.LOCATION, InboundKind.BUTTON, InboundKind.CONTACT}
)
_PAUSED = tuple(s.value for s in PAUSED)

# One round trip: the sender (by conversation, linked identity, then phone — the order of
# `tickets.inbound._recognise`) and their open ticket for the service, locked.
_SENDER_AND_TICKET = """
WITH sender AS (
  SELECT c.id, c.name, c.blocked FROM customers c
  WHERE c.tenant_id = %(tenant)s AND c.id = COALESCE(
    (SELECT customer_id FROM conversations
      WHERE account_id = %(account)s AND address = %(address)s),
    (SELECT customer_id FROM customer_identities
      WHERE tenant_id = %(tenant)s AND channel = %(channel)s AND external_id = %(address)s),
    (SELECT id FROM customers WHERE tenant_id = %(tenant)s AND phone_e164 = %(phone)s)))
SELECT sender.id, sender.name, sender.blocked, open.id, open.number, open.status
FROM sender LEFT JOIN LATERAL (
  SELECT id, number, status FROM tickets
  WHERE tenant_id = %(tenant)s AND customer_id = sender.id AND service_code = %(service)s
    AND status NOT IN ('resolved', 'closed') AND updated_at >= %(since)s
  ORDER BY updated_at DESC LIMIT 1
  FOR UPDATE) open ON true"""
_ENTRY = """
INSERT INTO ticket_entries (id, tenant_id, ticket_id, kind, author, body, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)"""
_TOUCH = """
UPDATE tickets SET updated_at = %s, search = search || to_tsvector('simple', %s)
WHERE id = %s"""
_AUDIT = """
INSERT INTO ticket_events (id, tenant_id, ticket_id, actor, action, changes, created_at)
VALUES (%s, %s, %s, %s, 'customer_message', %s, %s)"""


@dataclass(frozen=True, slots=True)
class Threaded:
    customer_id: uuid.UUID
    ticket_id: uuid.UUID
    number: str


def eligible(message: InboundMessage) -> bool:
    return (
        message.kind in _PLAIN
        and not message.media
        and message.link_token is None
        and message.shared_phone is None
        and message.ticket_hint is None
    )


async def thread(
    driver: AsyncConnection,
    *,
    account: ChannelAccount,
    conversation: Conversation,
    event_id: uuid.UUID,
    message: InboundMessage,
    service_code: str,
    window: timedelta,
    now: datetime,
) -> Threaded | None:
    """Add the message to the customer's open ticket, or None (nothing written)."""
    if not eligible(message):
        return None
    cursor = await driver.execute(
        _SENDER_AND_TICKET,
        {
            "tenant": account.tenant_id,
            "account": account.id,
            "address": message.address,
            "channel": account.channel.value,
            "phone": message.phone,
            "service": service_code,
            "since": now - window,
        },
        prepare=True,
    )
    found = await cursor.fetchone()
    if found is None or found[2]:  # unknown (a hint is due) or blocked
        return None
    customer_id, name, _, ticket_id, number, status = found
    if ticket_id is None or status in _PAUSED:
        return None  # a new ticket, or a paused one whose clocks must resume
    tenant = account.tenant_id
    body = message.describe()
    statements: list[tuple[str, tuple[object, ...]]] = []
    if conversation.customer_id != customer_id:
        statements.append((LINK_SQL, (customer_id, conversation.id)))
    statements += [
        (
            _ENTRY,
            (
                uuid.uuid4(),
                tenant,
                ticket_id,
                EntryKind.CUSTOMER_MESSAGE.value,
                f"customer:{customer_id}:{name}",
                body,
                now,
            ),
        ),
        (_TOUCH, (now, body, ticket_id)),
        (
            _AUDIT,
            (
                uuid.uuid4(),
                tenant,
                ticket_id,
                ACTOR,
                Jsonb({"channel": account.channel.value}),
                now,
            ),
        ),
        (FINISH_SQL, (now, "threaded", customer_id, ticket_id, event_id)),
    ]
    sql, args = chain(statements)  # one statement: one send, one result
    await driver.execute(sql, args, prepare=True)
    return Threaded(customer_id, ticket_id, str(number))
