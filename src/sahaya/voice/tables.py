"""Tables of the voice context: Exotel accounts, calls, the legs offered to executives, and
callback requests."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from sahaya.persistence.base import Base, HotTenantMixin, TenantMixin, utcnow_column

_OUTCOMES = (
    "'answered', 'no_answer', 'busy', 'rejected', 'failed', 'caller_hung_up', 'not_connected'"
)
_LEG_OUTCOMES = (
    "'answered', 'missed', 'no_answer', 'busy', 'rejected', 'failed', 'caller_hung_up', "
    "'not_rung', 'unreported'"
)


class VoiceAccountRow(TenantMixin, Base):
    """An Exotel account. Exotel does not sign webhooks, so each account's flow URLs carry a
    secret `?key=`; only its SHA-256 is stored. API credentials are for outbound calls."""

    __tablename__ = "voice_accounts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    webhook_key_hash: Mapped[bytes] = mapped_column(unique=True)
    account_sid: Mapped[str] = mapped_column(String(100), default="")
    api_base_url: Mapped[str] = mapped_column(String(300), default="https://api.in.exotel.com")
    api_key: Mapped[str] = mapped_column(String(200), default="")
    api_token: Mapped[str] = mapped_column(String(500), default="")  # sealed (persistence.sealed)
    caller_id: Mapped[str] = mapped_column(String(20), default="")  # the ExoPhone
    # Calls to this ExoPhone verify the caller's number (missed-call verification).
    verify_number: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[datetime] = utcnow_column()


class CallRow(HotTenantMixin, Base):
    """One call, keyed by Exotel's `CallSid`: written by the gate, completed by the outcome."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("uq_calls_tenant_sid", "tenant_id", "call_sid", unique=True),
        Index("ix_calls_customer_recent", "customer_id", "started_at"),
        CheckConstraint("decision IN ('allow', 'deny', 'fallback')", name="decision"),
        CheckConstraint(f"outcome IN ({_OUTCOMES})", name="outcome"),
        CheckConstraint("direction IN ('inbound', 'outbound')", name="direction"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("voice_accounts.id", ondelete="SET NULL")
    )
    call_sid: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    from_raw: Mapped[str] = mapped_column(String(40))
    from_e164: Mapped[str | None] = mapped_column(String(20))
    to_raw: Mapped[str] = mapped_column(String(40), default="")
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    node_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("nodes.id", ondelete="SET NULL"))
    service_code: Mapped[str | None] = mapped_column(String(40))
    decision: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(20))
    dialled_number: Mapped[str | None] = mapped_column(String(20))
    answered_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("executives.id", ondelete="SET NULL")
    )
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    recording_url: Mapped[str | None] = mapped_column(String(1000))
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class CallLegRow(HotTenantMixin, Base):
    """An executive offered a call (one entry of the dial list). While its outcome is
    unknown the leg is open: the executive counts as on a call, other dial plans skip them,
    and the unique partial index lets nobody hold two open legs (ADR 0013)."""

    __tablename__ = "call_legs"
    __table_args__ = (
        Index("uq_call_legs_call_position", "call_id", "position", unique=True),
        Index("ix_call_legs_executive_recent", "executive_id", "offered_at"),
        Index(
            "uq_call_legs_open_executive",
            "executive_id",
            unique=True,
            postgresql_where=text("outcome IS NULL"),
        ),
        CheckConstraint(f"outcome IN ({_LEG_OUTCOMES})", name="outcome"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    executive_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executives.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(20))
    phone_e164: Mapped[str] = mapped_column(String(20))
    offered_at: Mapped[datetime]
    outcome: Mapped[str | None] = mapped_column(String(20))
    ended_at: Mapped[datetime | None]


class CallbackRequestRow(TenantMixin, Base):
    """A customer who could not get through and is owed a call back. At most one open
    request per customer (partial unique index), whatever retries and races do."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        Index(
            "uq_callback_requests_open",
            "customer_id",
            unique=True,
            postgresql_where=text("status IN ('pending', 'dialling')"),
        ),
        Index("ix_callback_requests_node_queue", "node_id", "created_at"),
        Index(
            "ix_callback_requests_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'dialling')"),
        ),
        CheckConstraint(
            "status IN ('pending', 'dialling', 'completed', 'failed', 'cancelled')", name="status"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    node_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"))
    service_code: Mapped[str] = mapped_column(String(40))
    call_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The sweep's due column: the next try, or when a placed call's report is overdue.
    next_attempt_at: Mapped[datetime | None]
    # Automatic callback, or a person pressed "call back now" (dial_requested_at).
    auto: Mapped[bool] = mapped_column(default=False)
    dial_requested_at: Mapped[datetime | None]
    last_call_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL")
    )
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class VoiceNodeTimingRow(TenantMixin, Base):
    """Ring time per executive and whole-call budget for calls of a node's customers;
    inherited down the tree (the nearest node with a row wins, else the settings)."""

    __tablename__ = "voice_node_timings"
    __table_args__ = (
        CheckConstraint("ring_seconds BETWEEN 5 AND 120", name="ring_seconds"),
        CheckConstraint("budget_seconds >= ring_seconds", name="budget_seconds"),
    )

    node_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    ring_seconds: Mapped[int] = mapped_column(Integer)
    budget_seconds: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class BusyRulePendingRow(Base):
    """An unanswered call closed by the fast outcome whose busy-caller rule is not settled
    yet. The close writes it; the same request removes it once the rule is decided (not
    reached, or its ticket and callback committed). One left behind means the request died
    in between: the worker's sweep settles it once `due_at` is 30 s old, and a try that
    fails moves `due_at` on and keeps the error (ADR 0014). Keyed by the call, which
    carries the tenant; near empty in the steady state."""

    __tablename__ = "busy_rule_pending"

    call_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
