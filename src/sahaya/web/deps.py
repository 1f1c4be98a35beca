"""Request-scoped dependencies: the unit of work, the clock, the caller."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Request

from sahaya.access import Principal, Role
from sahaya.access import services as access
from sahaya.access.errors import BadToken, NotAllowed
from sahaya.access.tokens import token_hash
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings

# Dependencies are `async def` even when they do not await: FastAPI runs plain `def`
# dependencies in a thread pool, which costs more than the work they do.


async def clock() -> datetime:
    return datetime.now(UTC)


async def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


async def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


async def unit_of_work(db: Annotated[Database, Depends(database)]) -> AsyncIterator[UnitOfWork]:
    async with UnitOfWork(db) as uow:
        yield uow


class PrincipalCache:
    """Resolved tokens for a few seconds, so a hot endpoint does not pay a token query on
    every request. Revocation takes effect within `ttl` seconds."""

    def __init__(self, ttl: float = 10.0, size: int = 4096) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[bytes, tuple[float, Principal]] = {}

    def get(self, key: bytes, now: datetime) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored, principal = entry
        expires_at = principal.expires_at
        if time.monotonic() - stored > self.ttl or (expires_at is not None and expires_at <= now):
            self._entries.pop(key, None)
            return None
        return principal

    def put(self, key: bytes, principal: Principal) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), principal)

    def clear(self) -> None:
        self._entries.clear()


async def principal(
    request: Request,
    db: Annotated[Database, Depends(database)],
    now: Annotated[datetime, Depends(clock)],
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    """The caller, from a cached token when possible; only a miss touches the database."""
    return await bearer(request, db, now, authorization)


async def caller_of(request: Request) -> Principal:
    """`principal` for the hot lane's plain handlers, which have no dependencies."""
    database: Database = request.app.state.database
    return await bearer(request, database, datetime.now(UTC), request.headers.get("authorization"))


async def bearer(
    request: Request, db: Database, now: datetime, authorization: str | None
) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise BadToken("send `Authorization: Bearer <token>`")
    return await resolve_token(request, db, now, authorization[7:].strip())


async def resolve_token(request: Request, db: Database, now: datetime, token: str) -> Principal:
    """A bearer or API-key token to its principal, cached per process (ADR 4)."""
    cache: PrincipalCache = request.app.state.principals
    key = token_hash(token)
    found = cache.get(key, now)
    if found is None:
        async with UnitOfWork(db) as uow:
            found = await access.authenticate(uow=uow, token=token, now=now)
        cache.put(key, found)
    return found


def require(role: Role) -> object:
    async def check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if not caller.at_least(role):
            raise NotAllowed(f"this needs the {role.value} role; you are {caller.role.value}")
        return caller

    return Depends(check)


UoW = Annotated[UnitOfWork, Depends(unit_of_work)]
DB = Annotated[Database, Depends(database)]
Now = Annotated[datetime, Depends(clock)]
Caller = Annotated[Principal, Depends(principal)]
