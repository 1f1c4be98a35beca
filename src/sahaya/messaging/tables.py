"""Tables of the messaging context: channel accounts, inbound events, conversations, the
outbox and the customer app's inbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sahaya.persistence.base import Base, HotTenantMixin, TenantMixin, utcnow_column

_STATES = "'queued', 'sent', 'delivered', 'read', 'failed'"
_CHANNELS = "'email', 'app', 'whatsapp', 'telegram', 'sms'"


class ChannelAccountRow(TenantMixin, Base):
    """One account at a messaging provider (a WhatsApp number, a Telegram bot, an SMS
    sender). `address` is how the provider names it (phone_number_id, bot name, sender
    id); `secrets` is a sealed JSON object (persistence.sealed), `settings` plain JSON."""

    __tablename__ = "channel_accounts"
    __table_args__ = (
        UniqueConstraint("provider", "address"),
        CheckConstraint(f"channel IN ({_CHANNELS})", name="channel"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    channel: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200))
    api_base_url: Mapped[str] = mapped_column(String(300))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    secrets: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = utcnow_column()


class InboundEventRow(HotTenantMixin, Base):
    """A provider event we accepted (a message or a delivery receipt), keyed by the
    provider's id so a retried webhook is a no-op. It is committed before the provider
    gets its 2xx; `processed_at` stays NULL until its effect (a ticket entry, a receipt)
    committed too, and the retry sweep works through the rest by `next_attempt_at`."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("account_id", "dedupe_key"),
        Index(
            "ix_inbound_events_pending",
            "next_attempt_at",
            postgresql_where=text("processed_at IS NULL"),
        ),
        CheckConstraint("kind IN ('message', 'receipt')", name="kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="CASCADE")
    )
    dedupe_key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    # The normalised message or receipt (messaging.domain), with the provider's raw item.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = utcnow_column()
    processed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )


class ConversationRow(HotTenantMixin, Base):
    """A customer's address on one channel account: when they last wrote (WhatsApp's
    24-hour window), who they are once matched, and when an unknown sender was last told
    how to register (at most once a day)."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("account_id", "address"),
        Index("ix_conversations_customer", "customer_id", "last_inbound_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="CASCADE")
    )
    address: Mapped[str] = mapped_column(String(320))  # wires keep it to ADDRESS_MAX
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    last_inbound_at: Mapped[datetime]
    messages: Mapped[int] = mapped_column(default=0)
    last_hint_at: Mapped[datetime | None]


class OutboxMessageRow(HotTenantMixin, Base):
    """One outbound message, written in the transaction of whatever caused it, so a message
    exists exactly when its cause committed. `next_attempt_at` is the sweep's due column."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATES})", name="state"),
        CheckConstraint(f"channel IN ({_CHANNELS})", name="channel"),
        # The delivery sweep: queued rows by due time; sent and failed rows stay out of it.
        Index(
            "ix_outbox_messages_due",
            "channel",
            "next_attempt_at",
            postgresql_where=text("state = 'queued'"),
        ),
        Index("ix_outbox_messages_provider_id", "provider_message_id"),
        # A receipt for a later part (a file) finds its message through `parts`.
        Index(
            "ix_outbox_messages_parts",
            "parts",
            postgresql_using="gin",
            postgresql_ops={"parts": "jsonb_path_ops"},
            postgresql_where=text("parts IS NOT NULL"),
        ),
        # The expiry sweep: queued messages with a deadline (sign-in codes).
        Index(
            "ix_outbox_messages_expiring",
            "expires_at",
            postgresql_where=text("state = 'queued' AND expires_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    template: Mapped[str | None] = mapped_column(String(60))
    language: Mapped[str] = mapped_column(String(2), default="en")
    # The provider account it leaves from (NULL: the channel's default, e.g. SMTP).
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(20), default="text")
    # Channel-specific structure: template name and parameters, buttons, media.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The human number the message is about, for headers (X-Sahaya-Ticket, Message-ID).
    reference: Mapped[str | None] = mapped_column(String(40))
    # A message outlives its ticket (SET NULL) but not its customer (erasure cascades).
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    # The first part's id (the text's); with files, every part sent so far is in `parts`.
    provider_message_id: Mapped[str | None] = mapped_column(String(300))
    # A message with files goes out in parts (the text, then each file). The parts sent so
    # far, in order, as {"name", "provider_message_id"}: a retry resumes after them, so no
    # part goes out twice, and a receipt for any of them finds this message.
    parts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    # Not sent by then, never sent: a sign-in code is useless once it expired.
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = utcnow_column()
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]


class AppInboxRow(HotTenantMixin, Base):
    """An item in the customer app's inbox; the app reads and marks items read."""

    __tablename__ = "app_inbox"
    __table_args__ = (Index("ix_app_inbox_customer", "tenant_id", "customer_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = utcnow_column()
    read_at: Mapped[datetime | None]
