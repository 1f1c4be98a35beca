"""Where a call goes when the database cannot be reached: the State franchisee's line.

The issue's default policy lets such a call through to the State franchisee; but the
numbers live in the database that is away. So each process remembers them while the
database answers — read at start-up and again by a dial plan at most once a minute, on
the connection the plan already holds — and the dial step's fallback rings them. An
explicitly configured `SAHAYA_VOICE_FALLBACK_NUMBER` still wins.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from psycopg import AsyncConnection

log = logging.getLogger(__name__)

# The state node's franchisee's own phone first, then its executives by rank: the line a
# caller reaches at the top of the tree, without knowing who is on shift or on a call.
_STATE_LINES = """
SELECT f.phone_e164, coalesce(
  (SELECT array_agg(e.phone_e164 ORDER BY e.rank, e.name) FROM executives e
   WHERE e.franchisee_id = f.id AND e.availability <> 'offline'), '{}')
FROM nodes n JOIN franchisees f ON f.id = n.franchisee_id
WHERE n.tenant_id = %s AND n.level = 'state'
ORDER BY n.path LIMIT 1"""


def lines_of(phone: str | None, executives: list[str], depth: int) -> tuple[str, ...]:
    """The numbers to ring: the franchisee's phone if it has one, else its first `depth`
    executives — each once."""
    if phone:
        return (phone,)
    return tuple(dict.fromkeys(executives))[: max(depth, 1)]


class StateLines:
    """Per process: each tenant's State franchisee line, as last read."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self._clock = clock
        self._known: dict[uuid.UUID, tuple[str, ...]] = {}
        self._due: dict[uuid.UUID, float] = {}

    def known(self, tenant_id: uuid.UUID) -> tuple[str, ...]:
        return self._known.get(tenant_id, ())

    def due(self, tenant_id: uuid.UUID) -> bool:
        return self._clock() >= self._due.get(tenant_id, 0.0)

    async def refresh(self, connection: AsyncConnection, tenant_id: uuid.UUID, depth: int) -> None:
        """Read the line again (callers check `due` first: once a minute is plenty)."""
        self._due[tenant_id] = self._clock() + self.every
        cursor = await connection.execute(_STATE_LINES, (tenant_id,), prepare=True)
        row = await cursor.fetchone()
        self._known[tenant_id] = () if row is None else lines_of(row[0], list(row[1]), depth)


STATE_LINES = StateLines()
