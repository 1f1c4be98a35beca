"""Tables of the ticketing context."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from sahaya.persistence.base import Base, HotTenantMixin, TenantMixin, utcnow_column

_STATUSES = "'new', 'open', 'assigned', 'pending_customer', 'on_hold', 'resolved', 'closed'"
_CHANNELS = "'voice', 'sms', 'whatsapp', 'telegram', 'email', 'app', 'web', 'api'"
_APPROVALS = "'not_needed', 'pending', 'approved', 'declined'"


class TicketRow(HotTenantMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        CheckConstraint(f"channel IN ({_CHANNELS})", name="channel"),
        CheckConstraint("severity IN ('minor', 'major', 'critical')", name="severity"),
        CheckConstraint(f"approval IN ({_APPROVALS})", name="approval"),
        # Queues: per channel (and node), oldest first.
        Index("ix_tickets_queue", "tenant_id", "channel", "status", "created_at"),
        Index("ix_tickets_customer_open", "tenant_id", "customer_id", "service_code", "status"),
        Index("ix_tickets_node", "tenant_id", "node_id", "status"),
        Index("ix_tickets_search", "search", postgresql_using="gin"),
        Index("ix_tickets_recent", "tenant_id", "created_at"),
        Index("ix_tickets_node_recent", "tenant_id", "node_id", "created_at"),
        Index("ix_tickets_contact_phone", "tenant_id", "contact_phone"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT")
    )
    service_code: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    node_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"))
    subject: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(10), default="minor")
    status: Mapped[str] = mapped_column(String(20), default="new")
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("executives.id", ondelete="SET NULL"), index=True
    )
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # AMC check at intake (contracts context) and the exception decision it may need.
    entitlement: Mapped[str | None] = mapped_column(String(20))
    entitlement_note: Mapped[str | None] = mapped_column(String(300))
    approval: Mapped[str] = mapped_column(
        String(20), default="not_needed", server_default="not_needed"
    )
    approval_reason: Mapped[str | None] = mapped_column(String(2000))
    # Full-text: number, subject, customer name and phone, and every thread entry's text.
    search: Mapped[Any] = mapped_column(TSVECTOR, server_default=text("''::tsvector"))
    created_at: Mapped[datetime] = utcnow_column()
    updated_at: Mapped[datetime] = utcnow_column()
    first_responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class TicketEntryRow(HotTenantMixin, Base):
    """One item of a ticket's thread: customer message, agent reply, internal note, event."""

    __tablename__ = "ticket_entries"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('customer_message', 'agent_reply', 'internal_note', 'system_event')",
            name="kind",
        ),
        Index("ix_ticket_entries_thread", "ticket_id", "seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)  # thread order
    kind: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = utcnow_column()


class TicketEventRow(HotTenantMixin, Base):
    """Audit trail: who changed what, when, before → after."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)  # history order
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = utcnow_column()


class TicketAttachmentRow(TenantMixin, Base):
    """A file attached to a thread entry; the bytes live in the attachment store."""

    __tablename__ = "ticket_attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ticket_entries.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = utcnow_column()


class TicketQueueRow(TenantMixin, Base):
    """How a channel's queue hands out tickets: manual (a lead assigns), round robin or
    least open tickets. No row means manual."""

    __tablename__ = "ticket_queues"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel"),
        CheckConstraint(f"channel IN ({_CHANNELS})", name="channel"),
        CheckConstraint("mode IN ('manual', 'round_robin', 'least_open')", name="mode"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    channel: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(20), default="manual")


class AssignmentStatRow(TenantMixin, Base):
    """When an executive last received a ticket automatically (round robin's memory)."""

    __tablename__ = "ticket_assignment_stats"

    executive_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("executives.id", ondelete="CASCADE"), primary_key=True
    )
    last_assigned_at: Mapped[datetime]
