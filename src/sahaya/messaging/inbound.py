"""Inbound events and conversations: what every channel's webhook does before a message
means anything — keep the event (a repeat is a no-op), remember the sender's address on
the account (the 24-hour window, who they are), and apply delivery receipts.

Events are stored as messaging's normalised shape (with the provider's raw item inside),
so the retry sweep can process an event without the provider's parser.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import ColumnElement, and_, or_, select, update

from sahaya.messaging import domain
from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import InboundKind, InboundMedia, InboundMessage, Receipt
from sahaya.messaging.tables import InboundEventRow, OutboxMessageRow
from sahaya.persistence import UnitOfWork

_ERROR_LENGTH = 1000
# A failed event is retried after 30 s, 2 min, 10 min, 1 h, 6 h (messaging.domain.BACKOFF).
RETRY = domain.BACKOFF


_MESSAGE_FIELDS = tuple(f.name for f in fields(InboundMessage))


def message_payload(message: InboundMessage) -> dict[str, Any]:
    """The message as JSON for `inbound_events.payload`. Field by field, not `asdict`:
    that deep-copied the provider's raw item, ~8 % of a webhook's CPU (measured)."""
    data = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
    data["kind"] = message.kind.value
    data["sent_at"] = message.sent_at.isoformat()
    data["media"] = [asdict(m) for m in message.media]
    data["raw"] = dict(message.raw)
    return data


def message_from_payload(data: Mapping[str, Any]) -> InboundMessage:
    location = data.get("location")
    return InboundMessage(
        provider_message_id=data["provider_message_id"],
        address=data["address"],
        kind=InboundKind(data["kind"]),
        text=data.get("text", ""),
        sent_at=datetime.fromisoformat(data["sent_at"]),
        phone=data.get("phone"),
        name=data.get("name"),
        media=tuple(InboundMedia(**m) for m in data.get("media", ())),
        button_payload=data.get("button_payload"),
        location=(location[0], location[1]) if location else None,
        reply_to=data.get("reply_to"),
        shared_phone=data.get("shared_phone"),
        link_token=data.get("link_token"),
        email=data.get("email"),
        ticket_hint=data.get("ticket_hint"),
        subject=data.get("subject"),
        raw=data.get("raw", {}),
    )


def receipt_payload(receipt: Receipt) -> dict[str, Any]:
    return {
        "provider_message_id": receipt.provider_message_id,
        "state": receipt.state.value,
        "at": receipt.at.isoformat(),
        "error": receipt.error,
    }


def receipt_from_payload(data: Mapping[str, Any]) -> Receipt:
    return Receipt(
        provider_message_id=data["provider_message_id"],
        state=domain.OutboundState(data["state"]),
        at=datetime.fromisoformat(data["at"]),
        error=data.get("error"),
    )


_KEY_CHARS = 300  # inbound_events.dedupe_key


def stored_key(dedupe_key: str) -> str:
    """The dedupe key as kept: a longer key ends in its own hash instead of being cut, so
    two long ids that share a beginning stay two events."""
    if len(dedupe_key) <= _KEY_CHARS:
        return dedupe_key
    digest = hashlib.sha256(dedupe_key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{dedupe_key[: _KEY_CHARS - 65]}#{digest}"


_RECORD = """
INSERT INTO inbound_events (id, tenant_id, account_id, dedupe_key, kind, payload, received_at,
                            attempts, next_attempt_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, 0, %s)
ON CONFLICT (account_id, dedupe_key) DO NOTHING
RETURNING id"""


async def record_event(
    *,
    uow: UnitOfWork,
    account: ChannelAccount,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    now: datetime,
) -> uuid.UUID | None:
    """Keep an event; None when it was kept before (the provider repeated itself). A
    concurrent copy waits on the unique key until the first commits, then finds it. On the
    unit of work's psycopg connection: every webhook pays this statement."""
    driver = await uow.driver()
    cursor = await driver.execute(
        _RECORD,
        (
            uuid.uuid4(),
            account.tenant_id,
            account.id,
            stored_key(dedupe_key),
            kind,
            Jsonb(payload),
            now,
            now,
        ),
        prepare=True,
    )
    row = await cursor.fetchone()
    return None if row is None else row[0]


_FINISH = """
UPDATE inbound_events
SET processed_at = %s, outcome = %s, customer_id = %s, ticket_id = %s, next_attempt_at = NULL,
    last_error = NULL
WHERE id = %s"""


async def finish_event(
    *,
    uow: UnitOfWork,
    event_id: uuid.UUID,
    outcome: str,
    now: datetime,
    customer_id: uuid.UUID | None = None,
    ticket_id: uuid.UUID | None = None,
) -> None:
    # Only its effect at commit matters: sent with the unit of work's last writes.
    uow.defer(_FINISH, (now, outcome, customer_id, ticket_id, event_id))


async def postpone_event(
    *, uow: UnitOfWork, event_id: uuid.UUID, attempts: int, error: str, now: datetime
) -> None:
    """Processing failed: try again later along the backoff; the event is never dropped
    (after the last step it is retried every 6 h until someone looks: `sahaya events`)."""
    wait = RETRY[min(max(attempts, 1), len(RETRY)) - 1]
    await uow.session.execute(
        update(InboundEventRow)
        .where(InboundEventRow.id == event_id)
        .values(attempts=attempts, last_error=error[:_ERROR_LENGTH], next_attempt_at=now + wait)
    )


async def pending_events(*, uow: UnitOfWork, now: datetime, limit: int) -> list[InboundEventRow]:
    """Unprocessed events due for another try, locked; another worker's are skipped."""
    rows = await uow.session.scalars(
        select(InboundEventRow)
        .where(InboundEventRow.processed_at.is_(None), InboundEventRow.next_attempt_at <= now)
        .order_by(InboundEventRow.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def unprocessed_events(
    *, uow: UnitOfWork, failing_only: bool, limit: int
) -> list[InboundEventRow]:
    """Kept events not processed yet, oldest first: what an operator looks at when the
    backlog of /healthz grows (`failing_only`: processing failed at least once)."""
    statement = select(InboundEventRow).where(InboundEventRow.processed_at.is_(None))
    if failing_only:
        statement = statement.where(InboundEventRow.attempts > 0)
    rows = await uow.session.scalars(statement.order_by(InboundEventRow.received_at).limit(limit))
    return list(rows)


async def retry_now(
    *, uow: UnitOfWork, event_ids: Sequence[uuid.UUID] | None, now: datetime
) -> int:
    """Make unprocessed events due now (all failing ones when `event_ids` is None): once an
    operator has fixed the cause, the worker's next sweep (every 5 s) takes them."""
    statement = (
        update(InboundEventRow)
        .where(InboundEventRow.processed_at.is_(None))
        .values(next_attempt_at=now)
        .returning(InboundEventRow.id)
    )
    if event_ids is None:
        statement = statement.where(InboundEventRow.attempts > 0)
    else:
        statement = statement.where(InboundEventRow.id.in_(event_ids))
    return len((await uow.session.scalars(statement)).all())


@dataclass(frozen=True, slots=True)
class Conversation:
    id: uuid.UUID
    customer_id: uuid.UUID | None


# How a message moves its conversation on; also the tail of tickets.fast_thread's claim.
TOUCHED = """
ON CONFLICT (account_id, address) DO UPDATE
SET last_inbound_at = GREATEST(conversations.last_inbound_at, EXCLUDED.last_inbound_at),
    messages = conversations.messages + 1
RETURNING id, customer_id"""
_TOUCH = (
    """
INSERT INTO conversations (id, tenant_id, account_id, address, last_inbound_at, messages)
VALUES (%s, %s, %s, %s, %s, 1)"""
    + TOUCHED
)
_LINK = "UPDATE conversations SET customer_id = %s WHERE id = %s"


async def touch_conversation(
    *, uow: UnitOfWork, account: ChannelAccount, message: InboundMessage, now: datetime
) -> Conversation:
    """The sender's conversation on this account, created or moved on by this message (one
    prepared statement: every inbound message pays it)."""
    driver = await uow.driver()
    cursor = await driver.execute(
        _TOUCH,
        (uuid.uuid4(), account.tenant_id, account.id, message.address, min(message.sent_at, now)),
        prepare=True,
    )
    row = await cursor.fetchone()
    assert row is not None  # noqa: S101 - an upsert returns its row
    return Conversation(row[0], row[1])


async def link_customer(
    *, uow: UnitOfWork, conversation: Conversation, customer_id: uuid.UUID
) -> None:
    uow.defer(_LINK, (customer_id, conversation.id))  # read by no one before the commit


# A customer's registered phone changed: their WhatsApp and SMS chats were recognised by
# the old number (the address is the number), so they stop being theirs — else a number
# passed on to someone else would keep writing into this customer's tickets and receiving
# their replies. A chat the customer linked explicitly (an identity) stays linked.
_FORGET_PHONE_CHATS = """
UPDATE conversations c SET customer_id = NULL
FROM channel_accounts a
WHERE c.customer_id = %(customer)s AND a.id = c.account_id AND a.channel IN ('whatsapp', 'sms')
  AND NOT EXISTS (
    SELECT FROM customer_identities i
    WHERE i.tenant_id = c.tenant_id AND i.customer_id = %(customer)s AND i.channel = a.channel
      AND i.external_id = c.address)"""


async def forget_phone_chats(*, uow: UnitOfWork, customer_id: uuid.UUID) -> int:
    """Unlink the chats a customer's old phone number identified; how many."""
    driver = await uow.driver()
    cursor = await driver.execute(_FORGET_PHONE_CHATS, {"customer": customer_id}, prepare=True)
    return cursor.rowcount


_CLAIM_HINT = """
UPDATE conversations SET last_hint_at = %(now)s
WHERE id = %(id)s AND (last_hint_at IS NULL OR last_hint_at <= %(due)s)
RETURNING id"""


async def claim_hint(*, uow: UnitOfWork, conversation_id: uuid.UUID, now: datetime) -> bool:
    """Whether this unknown sender is due a registration hint; claims it (at most once per
    `HINT_INTERVAL`, even when their messages arrive concurrently). A prepared statement, not
    the ORM: through the session it sent an unknown sender's message down the full unit of
    work, ~11.5 ms of CPU (Python and PostgreSQL) where the lean one takes ~4 ms."""
    driver = await uow.driver()
    cursor = await driver.execute(
        _CLAIM_HINT,
        {"now": now, "id": conversation_id, "due": now - domain.HINT_INTERVAL},
        prepare=True,
    )
    return await cursor.fetchone() is not None


def _names(provider_message_id: str) -> ColumnElement[bool]:
    """The message this provider id names: its own id, or one of its parts' (a file
    sent after its text; messaging.services)."""
    return or_(
        OutboxMessageRow.provider_message_id == provider_message_id,
        OutboxMessageRow.parts.contains([{"provider_message_id": provider_message_id}]),
    )


async def apply_receipt(*, uow: UnitOfWork, account: ChannelAccount, receipt: Receipt) -> bool:
    """Move the sent message forward (sent → delivered → read, or failed); a late or
    repeated receipt changes nothing. Returns whether it changed a message."""
    moves_from = [
        state.value
        for state in domain.OutboundState
        if domain.receipt_applies(state, receipt.state)
    ]
    values: dict[str, Any] = {"state": receipt.state.value}
    if receipt.state == domain.OutboundState.DELIVERED:
        values["delivered_at"] = receipt.at
    elif receipt.state == domain.OutboundState.READ:
        values["read_at"] = receipt.at
    elif receipt.state == domain.OutboundState.FAILED:
        values["failed_at"] = receipt.at
        values["last_error"] = (receipt.error or "the provider reported a failure")[:_ERROR_LENGTH]
    elif receipt.state == domain.OutboundState.SENT:
        values["sent_at"] = receipt.at
    changed = await uow.session.scalar(
        update(OutboxMessageRow)
        .where(
            and_(
                OutboxMessageRow.tenant_id == account.tenant_id,
                OutboxMessageRow.channel == account.channel.value,
                # Sent from this account, or from the channel's default sender (email
                # acknowledgements go out through SMTP with no account; their bounces come
                # back to a mailbox account).
                or_(
                    OutboxMessageRow.account_id == account.id,
                    OutboxMessageRow.account_id.is_(None),
                ),
                _names(receipt.provider_message_id),
                OutboxMessageRow.state.in_(moves_from),
            )
        )
        .values(**values)
        .returning(OutboxMessageRow.id)
    )
    return changed is not None


async def receipt_target_exists(
    *, uow: UnitOfWork, account: ChannelAccount, receipt: Receipt
) -> bool:
    """Whether a message this report could be about exists (in any state)."""
    found = await uow.session.scalar(
        select(OutboxMessageRow.id)
        .where(
            OutboxMessageRow.tenant_id == account.tenant_id,
            OutboxMessageRow.channel == account.channel.value,
            or_(
                OutboxMessageRow.account_id == account.id,
                OutboxMessageRow.account_id.is_(None),
            ),
            _names(receipt.provider_message_id),
        )
        .limit(1)
    )
    return found is not None
