"""Tables of the customer registry."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sahaya.persistence.base import Base, HotTenantMixin, TenantMixin, utcnow_column


class CustomerRow(HotTenantMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "phone_e164"),
        Index("ix_customers_home_node", "tenant_id", "home_node_id"),
        Index("ix_customers_email", "tenant_id", "email"),
        CheckConstraint("language IN ('en', 'ml')", name="language"),
        CheckConstraint("verification IN ('unverified', 'verified')", name="verification"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    phone_e164: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    home_node_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"))
    language: Mapped[str] = mapped_column(String(2), default="en")
    verification: Mapped[str] = mapped_column(String(20), default="unverified")
    verified_at: Mapped[datetime | None]
    verified_via: Mapped[str | None] = mapped_column(String(20))
    blocked: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(20), default="api")
    external_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = utcnow_column()
    updated_at: Mapped[datetime] = utcnow_column()


class CustomerIdentityRow(TenantMixin, Base):
    """A channel identity (WhatsApp id, Telegram chat id, app user id) linked to a customer."""

    __tablename__ = "customer_identities"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel", "external_id"),
        CheckConstraint("channel IN ('whatsapp', 'telegram', 'app')", name="channel"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = utcnow_column()


class LinkTokenRow(TenantMixin, Base):
    """A one-time token that links a chat (Telegram's `/start <token>`) to a customer. Only
    its SHA-256 is kept; it is sent to the customer over a channel already theirs."""

    __tablename__ = "customer_link_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[bytes] = mapped_column(unique=True)
    created_at: Mapped[datetime] = utcnow_column()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OtpChallengeRow(TenantMixin, Base):
    """One SMS code sent to a number (customers.otp): only its keyed hash is kept."""

    __tablename__ = "otp_challenges"
    __table_args__ = (
        Index("ix_otp_challenges_phone", "tenant_id", "phone_e164", "created_at"),
        Index("ix_otp_challenges_address", "tenant_id", "requested_from", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    phone_e164: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    code_hash: Mapped[bytes]
    requested_from: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = utcnow_column()
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]


class CustomerTokenRow(TenantMixin, Base):
    """A customer app's bearer token, scoped to one customer (only its SHA-256 is kept)."""

    __tablename__ = "customer_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[bytes] = mapped_column(unique=True)
    created_at: Mapped[datetime] = utcnow_column()
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
