"""Declarative base. Every table carries `tenant_id` so one install can host several brands
and so the data can later be sharded by tenant (ARCHITECTURE §1)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Self

from sqlalchemy import DateTime, ForeignKey, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}

    @classmethod
    def fresh(cls, **values: Any) -> Self:
        """A new row, like `cls(**values)` but without the ORM's event for each attribute
        set: the rows every ticket writes (ticket, thread entry, audit events, SLA clock,
        acknowledgements) took ~0.3 ms of intake's CPU to construct (bench/README.md).
        Later changes to the row are tracked as usual; it is written like any new row."""
        keys = _ATTRIBUTES.get(cls)
        if keys is None:
            keys = _ATTRIBUTES[cls] = frozenset(cls.__mapper__.attrs.keys())
        unknown = values.keys() - keys
        if unknown:
            raise TypeError(f"{cls.__name__} has no attribute {sorted(unknown)[0]!r}")
        row: Self = cls.__mapper__.class_manager.new_instance()
        row.__dict__.update(values)
        return row


_ATTRIBUTES: dict[type[Base], frozenset[str]] = {}


def utcnow_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class TenantMixin:
    """Adds the tenant column that every table must carry."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False
    )


class HotTenantMixin:
    """The tenant column without its own index, for the tables every ticket, message or
    call writes (tickets, thread entries, audit events, SLA clocks, outbox, inbox, inbound
    events, conversations, calls, call legs) and customers (a million-row import): none is
    queried by tenant alone, or their composite indexes start with the tenant, so a
    tenant-only index would only be paid for on every insert (bench/README.md)."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
