"""Tables of the franchise network: tenants, services, the node tree, franchisees, executives."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sahaya.persistence.base import Base, TenantMixin, utcnow_column


class TenantRow(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = utcnow_column()


class ServiceRow(TenantMixin, Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = utcnow_column()


class FranchiseeRow(TenantMixin, Base):
    __tablename__ = "franchisees"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = utcnow_column()


class NodeRow(TenantMixin, Base):
    """One node of the tree. `path` is the slash-joined slugs from the root
    (`kerala/ernakulam/kochi`): humans and the CLI name nodes by it, and a subtree is a prefix."""

    __tablename__ = "nodes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "path"),
        CheckConstraint("level IN ('state', 'district', 'sub_district')", name="level"),
        Index(
            "ix_nodes_path_prefix", "tenant_id", "path", postgresql_ops={"path": "text_pattern_ops"}
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="RESTRICT"), index=True
    )
    level: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)
    franchisee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("franchisees.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = utcnow_column()


class ExecutiveRow(TenantMixin, Base):
    __tablename__ = "executives"
    __table_args__ = (
        UniqueConstraint("franchisee_id", "rank"),
        UniqueConstraint("tenant_id", "phone_e164"),
        CheckConstraint("rank >= 1", name="rank_positive"),
        CheckConstraint("availability IN ('available', 'away', 'offline')", name="availability"),
        CheckConstraint("support_tier IN ('L1', 'L2', 'L3')", name="support_tier"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    franchisee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("franchisees.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    rank: Mapped[int] = mapped_column(Integer)
    phone_e164: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    services: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    working_hours: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Kolkata")
    availability: Mapped[str] = mapped_column(String(20), default="available")
    # Named support tier (L1/L2/L3) for SLA ladders of engineers instead of the tree.
    support_tier: Mapped[str | None] = mapped_column(String(10))
    availability_changed_at: Mapped[datetime] = utcnow_column()
    created_at: Mapped[datetime] = utcnow_column()
