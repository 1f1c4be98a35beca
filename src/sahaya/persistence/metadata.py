"""Import every context's tables so `Base.metadata` is complete (for Alembic and tests)."""

from __future__ import annotations

from sqlalchemy import MetaData

from sahaya.access import tables as access_tables
from sahaya.contracts import tables as contract_tables
from sahaya.customers import tables as customer_tables
from sahaya.messaging import tables as messaging_tables
from sahaya.network import tables as network_tables
from sahaya.persistence.base import Base
from sahaya.sla import tables as sla_tables
from sahaya.tickets import tables as ticket_tables
from sahaya.voice import tables as voice_tables
from sahaya.worker import tables as worker_tables

_MODULES = (
    network_tables,
    customer_tables,
    access_tables,
    worker_tables,
    ticket_tables,
    sla_tables,
    contract_tables,
    messaging_tables,
    voice_tables,
)


def all_metadata() -> MetaData:
    assert _MODULES  # noqa: S101 - keeps the imports, which register the tables
    return Base.metadata


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic filter: procrastinate's tables are migrated by their own revision, not diffed."""
    table = getattr(obj, "table", None)
    table_name = getattr(table, "name", None) if table is not None else name
    return not (table_name or name or "").startswith("procrastinate")
