"""Tables of the messaging context: the outbox and the customer app's inbox."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from sahaya.persistence.base import Base, TenantMixin, utcnow_column

_STATES = "'queued', 'sent', 'delivered', 'failed'"
_CHANNELS = "'email', 'app'"


class OutboxMessageRow(TenantMixin, Base):
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
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    template: Mapped[str | None] = mapped_column(String(60))
    language: Mapped[str] = mapped_column(String(2), default="en")
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
    provider_message_id: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = utcnow_column()
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]


class AppInboxRow(TenantMixin, Base):
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
