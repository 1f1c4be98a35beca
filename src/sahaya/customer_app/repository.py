"""Queries of the customer app's sign-in that the ORM does not express."""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def lock_id(key: str) -> int:
    """A key's 64-bit advisory-lock id (signed, as PostgreSQL's bigint)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class SignInRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, *keys: str) -> None:
        """Hold an advisory lock on each key until the transaction ends, so requests that
        share a key run their check-then-insert one after another. Taken in ascending id
        order, so two requests that share several keys can never deadlock."""
        for ident in sorted({lock_id(key) for key in keys}):
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ident})
