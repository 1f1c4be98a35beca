"""Tables of the maintenance-contract context."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from sahaya.persistence.base import Base, TenantMixin, utcnow_column


class ContractRow(TenantMixin, Base):
    """An AMC: which services of one customer it covers, from which day to which day."""

    __tablename__ = "contracts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "reference"),
        CheckConstraint("ends_on >= starts_on", name="dates"),
        Index("ix_contracts_customer", "tenant_id", "customer_id", "ends_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    reference: Mapped[str] = mapped_column(String(40))
    plan: Mapped[str] = mapped_column(String(60))
    services: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = utcnow_column()


class ContractRequirementRow(TenantMixin, Base):
    """Whether a service needs an active AMC before support proceeds. No row: not required."""

    __tablename__ = "contract_requirements"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "service_code"),
        ForeignKeyConstraint(
            ["tenant_id", "service_code"],
            ["services.tenant_id", "services.code"],
            ondelete="CASCADE",
        ),
    )

    service_code: Mapped[str] = mapped_column(String(40))
    required: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = utcnow_column()
