"""Worker liveness: the periodic task writes here, `/healthz` reads it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from sahaya.persistence.base import Base


class WorkerBeatRow(Base):
    """Not per tenant: a worker serves every tenant of the install."""

    __tablename__ = "worker_beats"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    scheduled_for: Mapped[datetime | None]
    beat_at: Mapped[datetime]
    beats: Mapped[int] = mapped_column(default=0)
