"""The ticket lifecycle as a pure state machine."""

from __future__ import annotations

import pytest

from sahaya.tickets.domain import (
    IllegalTransition,
    Status,
    format_number,
    parse_number,
    service_prefix,
    transition,
)


@pytest.mark.parametrize(
    ("current", "target", "assignee", "stored"),
    [
        (Status.NEW, Status.OPEN, False, Status.OPEN),
        (Status.OPEN, Status.ASSIGNED, True, Status.ASSIGNED),
        (Status.ASSIGNED, Status.PENDING_CUSTOMER, True, Status.PENDING_CUSTOMER),
        (Status.PENDING_CUSTOMER, Status.OPEN, True, Status.ASSIGNED),  # resumes with owner
        (Status.ON_HOLD, Status.OPEN, False, Status.OPEN),
        (Status.ASSIGNED, Status.RESOLVED, True, Status.RESOLVED),
        (Status.RESOLVED, Status.CLOSED, True, Status.CLOSED),
        (Status.RESOLVED, Status.OPEN, True, Status.ASSIGNED),  # reopen keeps the owner
        (Status.CLOSED, Status.OPEN, False, Status.OPEN),
        (Status.ASSIGNED, Status.OPEN, True, Status.OPEN),  # unassign
    ],
)
def test_allowed_moves(current: Status, target: Status, assignee: bool, stored: Status) -> None:
    assert transition(current, target, has_assignee=assignee) == stored


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        (Status.NEW, Status.PENDING_CUSTOMER, "cannot move a ticket from new to pending_customer"),
        (Status.CLOSED, Status.RESOLVED, "cannot move a ticket from closed to resolved"),
        (Status.OPEN, Status.CLOSED, "allowed: assigned, on_hold, pending_customer, resolved"),
        (Status.OPEN, Status.OPEN, "already open"),
    ],
)
def test_illegal_moves_name_both_ends(current: Status, target: Status, message: str) -> None:
    with pytest.raises(IllegalTransition, match=message):
        transition(current, target, has_assignee=False)


def test_assigned_needs_an_assignee() -> None:
    with pytest.raises(IllegalTransition, match="without an assignee"):
        transition(Status.OPEN, Status.ASSIGNED, has_assignee=False)


def test_ticket_numbers() -> None:
    assert service_prefix("apnafood") == "AF"
    assert service_prefix("apnaride") == "AR"
    assert service_prefix("apnaservices") == "AS"
    assert format_number("AF", 123) == "AF-000123"
    assert format_number("AF", 1234567) == "AF-1234567"
    assert parse_number(" af-000123 ") == ("AF", 123)
    assert parse_number("123") is None
    with pytest.raises(ValueError, match="starts at 1"):
        format_number("AF", 0)
