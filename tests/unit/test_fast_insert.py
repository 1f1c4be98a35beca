"""`insert_new` writes a unit of work's new rows in few statements: consecutive rows of one
table with the same columns share an INSERT (so identity columns number them in order), the
INSERTs are chained as data-modifying CTEs ending in the NOTIFY, and each statement stays
within what psycopg caches the parse of (4,096 characters, 50 parameters)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sahaya.persistence.fast_insert import _combined, _inserts
from sahaya.tickets.tables import TicketEntryRow, TicketEventRow

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
TENANT, TICKET = uuid.uuid4(), uuid.uuid4()


def _event(action: str) -> TicketEventRow:
    return TicketEventRow.fresh(
        id=uuid.uuid4(),
        tenant_id=TENANT,
        ticket_id=TICKET,
        actor="system",
        action=action,
        changes={"n": action},
        created_at=NOW,
    )


def _entry(body: str) -> TicketEntryRow:
    return TicketEntryRow.fresh(
        id=uuid.uuid4(),
        tenant_id=TENANT,
        ticket_id=TICKET,
        kind="customer_message",
        author="customer",
        body=body,
        created_at=NOW,
    )


def test_rows_of_one_table_share_an_insert_in_their_order() -> None:
    inserts = _inserts([_entry("hello"), _event("created"), _event("entitlement_checked")])
    assert [(i.table, len(i.rows)) for i in inserts] == [
        ("ticket_entries", 1),
        ("ticket_events", 2),
    ]
    actions = [v for v in inserts[1].values if v in ("created", "entitlement_checked")]
    assert actions == ["created", "entitlement_checked"]


def test_the_statement_chains_the_inserts_and_ends_with_the_notify() -> None:
    inserts = _inserts([_entry("hello"), _event("created")])
    [(sql, values)] = _combined(inserts, ("SELECT pg_notify(%s, %s)", ("chan", "payload")))
    assert sql.startswith('WITH w0 AS (INSERT INTO "ticket_entries"')
    assert ', w1 AS (INSERT INTO "ticket_events"' in sql
    assert sql.endswith(") SELECT pg_notify(%s, %s)")
    assert sql.count("%s") == len(values)
    assert values[-2:] == ["chan", "payload"]


def test_a_single_insert_is_sent_as_it_is() -> None:
    [(sql, values)] = _combined(_inserts([_entry("hello")]), None)
    assert sql.startswith('INSERT INTO "ticket_entries"')
    assert "hello" in values


def test_statements_stay_within_what_psycopg_caches_and_keep_the_rows_in_order() -> None:
    rows: list[object] = [_entry(f"message {k}") for k in range(3)]
    rows += [_event(f"event {k}") for k in range(6)]  # 42 parameters: a statement alone
    statements = _combined(_inserts(rows), ("SELECT pg_notify(%s, %s)", ("chan", "x")))
    assert len(statements) > 1
    for sql, values in statements:
        assert len(sql) <= 4096
        assert len(values) <= 50
        assert sql.count("%s") == len(values)
    sent = [v for _, values in statements for v in values if isinstance(v, str)]
    assert [v for v in sent if v.startswith("message ")] == [f"message {k}" for k in range(3)]
    assert statements[0][0].count('INSERT INTO "ticket_entries"') == 1
    assert statements[-1][0].endswith("SELECT pg_notify(%s, %s)")
