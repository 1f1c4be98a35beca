"""What the worker still owes: work accepted and kept but not done yet, shown by /healthz.

Nothing accepted is dropped (ADR 0009, 0014): a provider's event whose processing failed, a
message not yet sent, a busy-caller rule a dead request left — each waits in its table for
the worker. An operator needs to see that backlog grow, and how old its oldest item is,
before customers notice. Each count stops at `CAP`, so the probe stays cheap when something
is badly wrong; the partial indexes of the pending rows keep it cheap when all is well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection

CAP = 10_000
_BACKLOG = f"""
SELECT
  (SELECT count(*) FROM (SELECT FROM inbound_events
     WHERE processed_at IS NULL LIMIT {CAP}) e),
  (SELECT count(*) FROM (SELECT FROM inbound_events
     WHERE processed_at IS NULL AND attempts > 0 LIMIT {CAP}) f),
  (SELECT min(received_at) FROM inbound_events WHERE processed_at IS NULL),
  (SELECT count(*) FROM (SELECT FROM outbox_messages WHERE state = 'queued' LIMIT {CAP}) o),
  (SELECT min(created_at) FROM outbox_messages WHERE state = 'queued'),
  (SELECT count(*) FROM (SELECT FROM busy_rule_pending LIMIT {CAP}) b)"""  # noqa: S608 - CAP is ours


@dataclass(frozen=True, slots=True)
class Backlog:
    inbound_pending: int  # kept provider events not processed yet
    inbound_failing: int  # … of which processing failed at least once
    inbound_oldest: datetime | None
    outbox_queued: int  # messages waiting to be sent (or for a retry)
    outbox_oldest: datetime | None
    busy_rules_pending: int  # busy-caller decisions left by a request that died

    def as_json(self, now: datetime) -> dict[str, object]:
        def age(at: datetime | None) -> int | None:
            return None if at is None else max(0, round((now - at).total_seconds()))

        return {
            "inbound_events": {
                "pending": self.inbound_pending,
                "failing": self.inbound_failing,
                "oldest_age_seconds": age(self.inbound_oldest),
            },
            "outbox": {"queued": self.outbox_queued, "oldest_age_seconds": age(self.outbox_oldest)},
            "busy_rules_pending": self.busy_rules_pending,
            "counted_up_to": CAP,
        }


async def backlog(connection: AsyncConnection) -> Backlog:
    cursor = await connection.execute(_BACKLOG)
    row = await cursor.fetchone()
    assert row is not None  # noqa: S101 - a SELECT without FROM returns one row
    return Backlog(*row)
