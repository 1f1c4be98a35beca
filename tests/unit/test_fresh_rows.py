"""`Base.fresh` builds a new row without per-attribute ORM events; it must be the same row
the constructor builds, refuse what the constructor refuses, and track later changes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from sahaya.tickets.tables import TicketEntryRow


def _values() -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": uuid.uuid4(),
        "ticket_id": uuid.uuid4(),
        "kind": "customer_message",
        "author": "customer:1:Anu",
        "body": "food is cold",
        "created_at": datetime(2026, 12, 2, 8, 30, tzinfo=UTC),
    }


def test_a_fresh_row_equals_the_constructed_one() -> None:
    values = _values()
    fresh, built = TicketEntryRow.fresh(**values), TicketEntryRow(**values)
    for key in values:
        assert getattr(fresh, key) == getattr(built, key)
    assert fresh.seq is None  # an unset column reads as None, as on the constructed row
    assert built.seq is None
    assert inspect(fresh).transient


def test_an_unknown_attribute_is_refused_like_the_constructor_does() -> None:
    with pytest.raises(TypeError, match="nope"):
        TicketEntryRow(nope=1)
    with pytest.raises(TypeError, match="'nope'"):
        TicketEntryRow.fresh(nope=1)


def test_changes_after_construction_are_tracked() -> None:
    row = TicketEntryRow.fresh(**_values())
    row.body = "food is cold and late"
    assert inspect(row).attrs.body.history.added == ["food is cold and late"]
