"""Storage plumbing shared by every context: engine, unit of work, embedded server, base model."""

from sahaya.persistence.base import Base, TenantMixin, utcnow_column
from sahaya.persistence.database import Database, sqlalchemy_url
from sahaya.persistence.refcache import ReferenceCache
from sahaya.persistence.uow import UnitOfWork

__all__ = [
    "Base",
    "Database",
    "ReferenceCache",
    "TenantMixin",
    "UnitOfWork",
    "sqlalchemy_url",
    "utcnow_column",
]
