"""Configuration that every ticket reads and hardly anyone writes — services, severity rules,
contract requirements, calendars on the franchise tree — cached per process.

Intake read these with five of its twenty statements per ticket (bench/README.md). Each `Database`
has its own cache (`uow.cache`). An entry lives `ttl` seconds, so a change made by another
process shows within that; a commit through this `Database` that wrote any watched table
empties its cache at once, so a process always sees its own changes immediately
(docs/adr/0007-reference-data-cache.md).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

T = TypeVar("T")

# The tables whose rows feed cached values; a write to any of them clears the cache.
WATCHED = frozenset(
    {
        "services",
        "nodes",
        "sla_calendars",
        "sla_node_calendars",
        "sla_severity_rules",
        "contract_requirements",
        "voice_accounts",
        "voice_node_timings",
        "channel_accounts",
    }
)
_DIRTY = "refcache.dirty"
SESSION_KEY = "refcache"  # session.info[SESSION_KEY]: the cache a session's commits clear


class ReferenceCache:
    def __init__(self, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self.generation = 0

    async def get(
        self, key: Hashable, load: Callable[[], Awaitable[T]], *, keep_none: bool = True
    ) -> T:
        """The cached value for `key`, or `load()`'s, kept for `ttl` seconds. Values must be
        immutable plain data (never ORM rows: those belong to one session). `keep_none=False`
        for keys a stranger chooses (a webhook secret): misses are not remembered, so
        guessing cannot fill the cache."""
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]  # type: ignore[no-any-return]
        generation = self.generation
        value = await load()
        if generation == self.generation and (keep_none or value is not None):
            self._entries[key] = (now + self.ttl, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
        self.generation += 1


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, flush_context: UOWTransaction) -> None:
    for row in (*session.new, *session.dirty, *session.deleted):
        table = getattr(row, "__tablename__", None)
        if table in WATCHED:
            session.info[_DIRTY] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    """Bulk and Core writes (`insert(...).on_conflict…`) do not pass through the flush."""
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in WATCHED:
            state.session.info[_DIRTY] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    cache = session.info.get(SESSION_KEY)
    if session.info.pop(_DIRTY, False) and isinstance(cache, ReferenceCache):
        cache.clear()
