"""Tables of the SLA context: calendars, their attachment to nodes, and ticket clocks."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sahaya.persistence.base import Base, HotTenantMixin, TenantMixin, utcnow_column


class CalendarRow(TenantMixin, Base):
    __tablename__ = "sla_calendars"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    tz: Mapped[str] = mapped_column(String(64), default="Asia/Kolkata")
    # {"mon": [["09:00", "18:00"]], ...}; "00:00"-"00:00" is the whole day.
    hours: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Public holidays from the `holidays` package: country and subdivision, e.g. "IN-KL".
    holiday_region: Mapped[str | None] = mapped_column(String(20))
    extra_holidays: Mapped[list[date]] = mapped_column(ARRAY(Date), default=list)
    created_at: Mapped[datetime] = utcnow_column()


class NodeCalendarRow(TenantMixin, Base):
    """A calendar attached to a node; its whole subtree inherits it unless overridden."""

    __tablename__ = "sla_node_calendars"

    node_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    calendar_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sla_calendars.id", ondelete="CASCADE")
    )


class TicketClockRow(HotTenantMixin, Base):
    """A ticket's SLA state. Deadlines are columns, `next_fire_at` (the earliest unfired
    warning or breach) is indexed for the sweep, and each `*_at` fired column is set once:
    firing is a guarded update, so two workers never act twice."""

    __tablename__ = "sla_ticket_clocks"
    __table_args__ = (Index("ix_sla_clocks_next_fire", "next_fire_at"),)

    ticket_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    calendar_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sla_calendars.id", ondelete="SET NULL")
    )
    severity: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime]  # opened, or escalated (the resolution clock restarts)
    pauses: Mapped[list[list[str | None]]] = mapped_column(JSONB, default=list)
    first_responded_at: Mapped[datetime | None]
    fr_due_at: Mapped[datetime | None]
    fr_warn_at: Mapped[datetime | None]
    res_due_at: Mapped[datetime | None]
    res_warn_at: Mapped[datetime | None]
    fr_warned_at: Mapped[datetime | None]
    fr_breached_at: Mapped[datetime | None]
    res_warned_at: Mapped[datetime | None]
    res_breached_at: Mapped[datetime | None]
    next_fire_at: Mapped[datetime | None]
    level: Mapped[str] = mapped_column(String(20))
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    stopped_at: Mapped[datetime | None]  # resolved or closed


class RcaFollowUpRow(TenantMixin, Base):
    """Root-cause analysis owed for a resolved critical ticket (seed 003: within 72 h),
    with reminders until the text is filed."""

    __tablename__ = "sla_rca_follow_ups"
    __table_args__ = (Index("ix_sla_rca_next_reminder", "next_reminder_at"),)

    ticket_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    due_at: Mapped[datetime]
    next_reminder_at: Mapped[datetime | None]
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    filed_at: Mapped[datetime | None]
    filed_by: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(String(20000))
    created_at: Mapped[datetime] = utcnow_column()


class SeverityRuleRow(TenantMixin, Base):
    """A category rule: a ticket tagged `tag` (e.g. `topic:12`, `payment`) starts at this
    severity unless the intake names one. The highest matching severity wins."""

    __tablename__ = "sla_severity_rules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "tag"),
        CheckConstraint("severity IN ('minor', 'major', 'critical')", name="severity"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tag: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
