"""Pure voice rules: outcomes as Exotel reports them, who did what in a sequential dial,
the busy-caller window, missed calls in a row, the IVR service choice and the dial budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sahaya.voice.domain import (
    BusyRule,
    DialTiming,
    LegOutcome,
    Outcome,
    conversation_happened,
    leg_outcomes,
    missed_in_a_row,
    outcome_of,
    selected_service,
)

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
A, B, C = "+919400000001", "+919400000002", "+919400000003"


@pytest.mark.parametrize(
    ("call_type", "status", "dialled", "expected"),
    [
        ("completed", None, A, Outcome.ANSWERED),
        ("incomplete", "completed", A, Outcome.ANSWERED),
        ("incomplete", "no-answer", A, Outcome.NO_ANSWER),
        ("incomplete", "busy", A, Outcome.BUSY),
        ("incomplete", "failed", A, Outcome.FAILED),
        ("client-hangup", "canceled", A, Outcome.CALLER_HUNG_UP),
        ("incomplete", "rejected", A, Outcome.REJECTED),
        ("incomplete", None, None, Outcome.NOT_CONNECTED),
        ("incomplete", "", A, Outcome.NO_ANSWER),
    ],
)
def test_outcome_of_exotel_fields(
    call_type: str, status: str | None, dialled: str | None, expected: Outcome
) -> None:
    assert outcome_of(call_type=call_type, dial_status=status, dialled=dialled) == expected


def test_sequential_dial_blames_those_before_the_last_dialled() -> None:
    assert leg_outcomes([A, B, C], B, Outcome.ANSWERED) == [
        LegOutcome.MISSED,
        LegOutcome.ANSWERED,
        LegOutcome.NOT_RUNG,
    ]
    assert leg_outcomes([A, B, C], C, Outcome.BUSY) == [
        LegOutcome.MISSED,
        LegOutcome.MISSED,
        LegOutcome.BUSY,
    ]
    assert leg_outcomes([A, B], A, Outcome.CALLER_HUNG_UP) == [
        LegOutcome.CALLER_HUNG_UP,
        LegOutcome.NOT_RUNG,
    ]


def test_nobody_is_blamed_when_the_last_dialled_number_is_unknown() -> None:
    assert leg_outcomes([A, B], None, Outcome.NOT_CONNECTED) == [LegOutcome.NOT_RUNG] * 2
    assert leg_outcomes([A, B], "+910000000000", Outcome.NO_ANSWER) == [LegOutcome.NOT_RUNG] * 2


def test_missed_in_a_row_counts_only_rung_legs() -> None:
    missed = [LegOutcome.MISSED, LegOutcome.NO_ANSWER, LegOutcome.BUSY]
    assert missed_in_a_row(missed, 3)
    assert not missed_in_a_row(missed[:2], 3)
    assert not missed_in_a_row([LegOutcome.MISSED, LegOutcome.ANSWERED, *missed], 3)
    assert missed_in_a_row([LegOutcome.NOT_RUNG, *missed], 3)  # not rung: not their fault
    assert not missed_in_a_row(missed, 0)  # 0 switches the rule off


def test_busy_rule_window_is_open_at_the_start_and_closed_at_now() -> None:
    rule = BusyRule(calls=3, window=timedelta(minutes=30))
    inside = [NOW - timedelta(minutes=29), NOW - timedelta(minutes=10), NOW]
    assert rule.triggered(inside, NOW)
    assert not rule.triggered(inside[1:], NOW)
    edge = [NOW - timedelta(minutes=30), *inside[1:]]
    assert not rule.triggered(edge, NOW)  # exactly 30 minutes ago is outside
    assert not rule.triggered([*inside[:2], NOW + timedelta(seconds=1)], NOW)


def test_service_comes_from_the_menu_only_when_several_are_active() -> None:
    assert selected_service(["apnafood"], None) == "apnafood"
    assert selected_service(["apnaride", "apnafood"], '"2"') == "apnaride"
    assert selected_service(["apnaride", "apnafood"], "1") == "apnafood"
    assert selected_service(["apnaride", "apnafood"], "3") is None
    assert selected_service(["apnaride", "apnafood"], None) is None


def test_dial_budget_caps_how_many_numbers_ring() -> None:
    assert DialTiming(20, 120).max_numbers == 6
    assert DialTiming(30, 60).max_numbers == 2
    with pytest.raises(ValueError, match="budget"):
        DialTiming(30, 20)


def test_the_state_line_is_the_franchisees_phone_else_its_executives_by_rank() -> None:
    from sahaya.voice.fallback import lines_of

    assert lines_of("+914842000100", ["+919400000021"], depth=1) == ("+914842000100",)
    executives = ["+919400000021", "+919400000022", "+919400000021"]
    assert lines_of(None, executives, depth=2) == ("+919400000021", "+919400000022")
    assert lines_of("", executives, depth=0) == ("+919400000021",)  # at least one
    assert lines_of(None, [], depth=1) == ()


@pytest.mark.parametrize(
    ("status", "legs", "seconds", "talked"),
    [
        ("completed", ("completed", "completed"), 241, True),
        ("completed", ("completed", "no-answer"), 0, False),  # the customer did not pick up
        ("completed", ("completed",), None, False),
        ("no-answer", ("no-answer",), 0, False),
        ("completed", (), 75, True),  # a form report: no Legs, the duration decides
        ("completed", (), 0, False),
        ("completed", (), None, True),  # nothing but the status
        ("busy", (), None, False),
    ],
)
def test_a_callback_conversation_needs_both_parties(
    status: str, legs: tuple[str, ...], seconds: int | None, talked: bool
) -> None:
    assert conversation_happened(status, legs, seconds) is talked
