"""Unit tests for the pure SLA domain: business calendars, deadlines with pauses, escalation."""

from __future__ import annotations

import time as perf
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sahaya.sla.domain import (
    DEFAULT_POLICY,
    DEFAULT_SEVERITY_RULES,
    TIER_LADDER,
    TREE_LADDER,
    BusinessCalendar,
    Clock,
    ClockState,
    Deadline,
    Interval,
    InvalidCalendar,
    Ladder,
    Severity,
    SeverityRules,
    SlaPolicy,
    add_business_time,
    business_time_between,
    clocks,
    due_at,
    elapsed,
    rca_due,
    severity_for_impact,
    state_at,
)

IST = ZoneInfo("Asia/Kolkata")
TZ = "Asia/Kolkata"
# Kerala 2026 public holidays (as the `holidays` package lists them for India/KL), a subset.
KERALA_2026 = frozenset(
    {
        date(2026, 8, 15),  # Independence Day (Sat)
        date(2026, 8, 25),  # Onam day 1 (Tue)
        date(2026, 8, 26),  # Onam day 2
        date(2026, 8, 27),  # Onam day 3
        date(2026, 8, 28),  # Onam day 4 (Fri)
        date(2026, 11, 24),  # Guru Nanak's Birthday (Tue)
        date(2026, 12, 25),  # Christmas (Fri)
    }
)
ALWAYS = BusinessCalendar.always(TZ)
FIVE_DAYS = BusinessCalendar.weekdays_24(TZ)
OFFICE = BusinessCalendar.office(TZ)  # Mon-Sat 09:00-18:00
KERALA_OFFICE = OFFICE.with_holidays(KERALA_2026)
H = timedelta(hours=1)
FAST = settings(max_examples=150, deadline=None, database=None)


def ist(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """2026 wall-clock time in IST."""
    return datetime(2026, month, day, hour, minute, tzinfo=IST)


# --- calendars --------------------------------------------------------------------------


def test_presets_have_expected_hours() -> None:
    assert ALWAYS.name == "24x7"
    assert sorted(ALWAYS.hours) == list(range(7))
    assert FIVE_DAYS.name == "24x5"
    assert sorted(FIVE_DAYS.hours) == list(range(5))
    assert OFFICE.hours[5] == ((time(9), time(18)),)
    assert 6 not in OFFICE.hours
    assert KERALA_OFFICE.holidays == KERALA_2026
    assert OFFICE.holidays == frozenset()


def test_with_holidays_adds_to_existing_days_off() -> None:
    cal = OFFICE.with_holidays({date(2026, 1, 1)}).with_holidays([date(2026, 1, 2)])
    assert cal.holidays == {date(2026, 1, 1), date(2026, 1, 2)}
    assert cal.hours == OFFICE.hours
    assert cal.tz == TZ


def test_windows_are_sorted_and_calendar_hashable() -> None:
    cal = BusinessCalendar(TZ, {0: [(time(14), time(18)), (time(9), time(13))]})
    assert cal.hours[0] == ((time(9), time(13)), (time(14), time(18)))
    assert hash(cal) == hash(BusinessCalendar(TZ, {0: ((time(9), time(13)), (time(14), time(18)))}))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tz": "Mars/Olympus", "hours": {0: ()}}, "unknown time zone 'Mars/Olympus'"),
        ({"tz": "", "hours": {0: ()}}, "time zone must be a non-empty string, got ''"),
        ({"tz": TZ, "hours": {}}, "calendar has no working hours"),
        ({"tz": TZ, "hours": {0: (), 6: []}}, "calendar has no working hours"),
        (
            {"tz": TZ, "hours": {7: ((time(9), time(17)),)}},
            "weekday must be an int 0-6 (0=Monday), got 7",
        ),
        (
            {"tz": TZ, "hours": {0: ((time(22), time(6)),)}},
            "weekday 0 window 0: start 22:00 must be before end 06:00 (windows may not cross "
            "midnight; split them, end 00:00 means end of day)",
        ),
        (
            {"tz": TZ, "hours": {2: ((time(9), time(9)),)}},
            "weekday 2 window 0: start 09:00 must be before end 09:00",
        ),
        (
            {"tz": TZ, "hours": {1: ((time(9), time(13)), (time(12, 30), time(18)))}},
            "weekday 1: windows 09:00-13:00 and 12:30-18:00 overlap",
        ),
        (
            {"tz": TZ, "hours": {1: ((time(20), time(0)), (time(21), time(22)))}},
            "weekday 1: windows 20:00-24:00 and 21:00-22:00 overlap",
        ),
        (
            {"tz": TZ, "hours": {0: ((time(9),),)}},
            "weekday 0 window 0: expected a (start, end) pair, got (datetime.time(9, 0),)",
        ),
        (
            {"tz": TZ, "hours": {0: (("09:00", "18:00"),)}},
            "weekday 0 window 0: start must be a naive time, got '09:00'",
        ),
        (
            {"tz": TZ, "hours": {0: ((time(9, tzinfo=UTC), time(18)),)}},
            "weekday 0 window 0: start must be a naive time",
        ),
        (
            {"tz": TZ, "hours": {0: ((time(9), time(18)),)}, "holidays": [ist(1, 1)]},
            "holidays must be datetime.date values, got datetime.datetime(2026, 1, 1, 0, 0, ",
        ),
    ],
)
def test_calendar_validation_messages(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidCalendar) as info:
        BusinessCalendar(**kwargs)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


def test_office_with_no_days_has_no_working_hours() -> None:
    with pytest.raises(InvalidCalendar, match=r"^calendar has no working hours$"):
        BusinessCalendar.office(TZ, days=())


def test_adjacent_windows_and_end_of_day_are_allowed() -> None:
    cal = BusinessCalendar(TZ, {4: ((time(9), time(13)), (time(13), time(0)))})
    assert add_business_time(cal, ist(1, 2, 8), 15 * H) == ist(1, 3, 0)  # Fri 09:00 -> midnight


# --- add_business_time / business_time_between ------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        ist(1, 1, 0),
        ist(3, 7, 23, 59),
        ist(8, 25, 12, 34),
        datetime(2026, 12, 31, 23, 0, tzinfo=UTC),
    ],
)
def test_always_adds_wall_clock_minutes(start: datetime) -> None:
    assert add_business_time(ALWAYS, start, timedelta(minutes=90)) == start + timedelta(minutes=90)


def test_result_keeps_the_zone_of_the_input() -> None:
    start = datetime(2026, 3, 7, 3, 30, tzinfo=UTC)  # Sat 09:00 IST
    due = add_business_time(OFFICE, start, 2 * H)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 3, 7, 5, 30, tzinfo=UTC)
    assert add_business_time(OFFICE, ist(3, 7, 9), 2 * H).tzinfo is IST


def test_office_saturday_evening_skips_sunday() -> None:
    # 2026-03-07 is a Saturday: 17:00-18:00 counts, Sunday is off, Monday 09:00-10:00.
    assert add_business_time(OFFICE, ist(3, 7, 17), 2 * H) == ist(3, 9, 10)


def test_target_used_up_at_closing_is_due_at_closing() -> None:
    assert add_business_time(OFFICE, ist(3, 7, 17), 1 * H) == ist(3, 7, 18)


def test_office_skips_kerala_holiday() -> None:
    # Mon 23 Nov 17:30 (+0:30), Tue 24th Guru Nanak's Birthday off, Wed 09:00 + 5:30.
    assert add_business_time(KERALA_OFFICE, ist(11, 23, 17, 30), 6 * H) == ist(11, 25, 14, 30)
    assert add_business_time(OFFICE, ist(11, 23, 17, 30), 6 * H) == ist(11, 24, 14, 30)


def test_office_skips_holiday_and_weekend() -> None:
    # Thu 24 Dec 17:00 (+1h), Fri 25th Christmas, Sat 9h, Sunday off, Monday 28th + 1h.
    assert add_business_time(KERALA_OFFICE, ist(12, 24, 17), 10 * H) == ist(12, 26, 18)
    assert add_business_time(KERALA_OFFICE, ist(12, 24, 17), 11 * H) == ist(12, 28, 10)


def test_onam_week_is_skipped() -> None:
    # Mon 24 Aug 17:00 (+1h), Tue-Fri Onam, Sat 29th 09:00 + 2h.
    assert add_business_time(KERALA_OFFICE, ist(8, 24, 17), 3 * H) == ist(8, 29, 11)


def test_before_opening_counts_from_opening() -> None:
    assert add_business_time(OFFICE, ist(3, 9, 7), 2 * H) == ist(3, 9, 11)


def test_opened_on_holiday_counts_from_next_working_day() -> None:
    assert add_business_time(KERALA_OFFICE, ist(11, 24, 11), 2 * H) == ist(11, 25, 11)
    assert add_business_time(KERALA_OFFICE, ist(12, 25, 10), 90 * timedelta(minutes=1)) == ist(
        12, 26, 10, 30
    )


def test_after_closing_counts_from_next_opening() -> None:
    assert add_business_time(OFFICE, ist(3, 9, 18), 30 * timedelta(minutes=1)) == ist(3, 10, 9, 30)


def test_24x5_friday_night_runs_into_monday() -> None:
    # 2026-01-02 is a Friday: 22:00-24:00, weekend off, Monday 00:00-04:00.
    assert add_business_time(FIVE_DAYS, ist(1, 2, 22), 6 * H) == ist(1, 5, 4)
    assert add_business_time(FIVE_DAYS, ist(1, 3, 12), 1 * H) == ist(1, 5, 1)  # Saturday


def test_zero_duration_is_the_start_itself() -> None:
    assert add_business_time(OFFICE, ist(3, 8, 12), timedelta(0)) == ist(3, 8, 12)


def test_minor_thirty_days_on_office_calendar_is_exact_and_fast() -> None:
    # 720 business hours = 80 nine-hour days. Mon 3 Aug: 13 Mon-Sat weeks end Sat 31 Oct,
    # +2 days -> Tue 3 Nov; five holidays fall on working days (15 Aug, Onam x4) -> Mon 9 Nov.
    minor = DEFAULT_POLICY.resolution[Severity.MINOR]
    assert add_business_time(OFFICE, ist(8, 3, 9), minor) == ist(11, 3, 18)
    assert add_business_time(KERALA_OFFICE, ist(8, 3, 9), minor) == ist(11, 9, 18)
    began = perf.perf_counter()
    for hour in range(200):
        add_business_time(KERALA_OFFICE, ist(1, 1) + hour * H, minor)
    assert perf.perf_counter() - began < 2.0  # ~100 day steps per call, not 43 200 minutes


def test_real_elapsed_time_across_a_dst_change() -> None:
    london = ZoneInfo("Europe/London")
    cal = BusinessCalendar.always("Europe/London")
    start = datetime(2026, 3, 29, 0, 30, tzinfo=london)  # clocks jump 01:00 -> 02:00
    assert add_business_time(cal, start, 2 * H) == datetime(2026, 3, 29, 3, 30, tzinfo=london)
    assert business_time_between(cal, start, datetime(2026, 3, 30, tzinfo=london)) == 22.5 * H


def test_business_time_between() -> None:
    assert business_time_between(OFFICE, ist(3, 7, 17), ist(3, 9, 10)) == 2 * H
    assert business_time_between(KERALA_OFFICE, ist(11, 23, 0), ist(11, 26, 0)) == 18 * H
    assert business_time_between(OFFICE, ist(3, 9, 10), ist(3, 9, 10)) == timedelta(0)
    assert business_time_between(OFFICE, ist(3, 9, 12), ist(3, 9, 10)) == timedelta(0)
    assert business_time_between(ALWAYS, ist(1, 1), ist(1, 31)) == timedelta(days=30)


def test_negative_duration_rejected() -> None:
    with pytest.raises(ValueError, match="duration must not be negative"):
        add_business_time(OFFICE, ist(3, 9, 10), -H)


@pytest.mark.parametrize(
    "call",
    [
        lambda: add_business_time(OFFICE, datetime(2026, 3, 9, 10), H),  # noqa: DTZ001
        lambda: business_time_between(OFFICE, datetime(2026, 3, 9, 10), ist(3, 9)),  # noqa: DTZ001
        lambda: due_at(OFFICE, started=datetime(2026, 3, 9, 10), target=H),  # noqa: DTZ001
        lambda: elapsed(OFFICE, started=ist(3, 9), now=datetime(2026, 3, 9)),  # noqa: DTZ001
        lambda: Interval(datetime(2026, 3, 9, 10)),  # noqa: DTZ001
        lambda: Interval(ist(3, 9), datetime(2026, 3, 9, 10)),  # noqa: DTZ001
        lambda: rca_due(datetime(2026, 3, 9), severity=Severity.CRITICAL),  # noqa: DTZ001
    ],
)
def test_naive_datetimes_rejected(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="must be a timezone-aware datetime, got naive"):
        call()


starts = st.datetimes(  # hypothesis bounds are naive; the zone comes from `timezones`
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001
    max_value=datetime(2026, 12, 31),  # noqa: DTZ001
    timezones=st.just(IST),
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40))


@FAST
@given(start=starts, duration=durations)
def test_between_inverts_add(start: datetime, duration: timedelta) -> None:
    due = add_business_time(KERALA_OFFICE, start, duration)
    assert due >= start
    assert business_time_between(KERALA_OFFICE, start, due) == duration
    if duration:  # earliest such instant: a microsecond earlier is not enough
        tick = timedelta(microseconds=1)
        assert business_time_between(KERALA_OFFICE, start, due - tick) == duration - tick


@pytest.mark.parametrize("cal", [ALWAYS, FIVE_DAYS, OFFICE, KERALA_OFFICE])
@pytest.mark.parametrize("start", [ist(8, 24, 17), ist(11, 22, 3), ist(12, 24, 12, 15)])
@pytest.mark.parametrize("duration", [timedelta(minutes=1), 90 * H / 60, 6 * H, 48 * H])
def test_elapsed_matches_add(cal: BusinessCalendar, start: datetime, duration: timedelta) -> None:
    due = add_business_time(cal, start, duration)
    assert elapsed(cal, started=start, now=due, pauses=()) == duration
    assert business_time_between(cal, start, due) == duration


# --- pauses -----------------------------------------------------------------------------


def test_pause_moves_the_due_time_out() -> None:
    pause = Interval(ist(3, 9, 11), ist(3, 9, 14))
    assert due_at(ALWAYS, started=ist(3, 9, 10), target=6 * H, pauses=[pause]) == ist(3, 9, 19)
    assert due_at(ALWAYS, started=ist(3, 9, 10), target=6 * H, pauses=[]) == ist(3, 9, 16)


def test_open_pause_stops_the_clock() -> None:
    pause = Interval(ist(3, 9, 11))
    assert due_at(ALWAYS, started=ist(3, 9, 10), target=6 * H, pauses=[pause]) is None


def test_open_pause_after_target_reached_keeps_the_breach() -> None:
    pause = Interval(ist(3, 9, 17))
    assert due_at(ALWAYS, started=ist(3, 9, 10), target=6 * H, pauses=[pause]) == ist(3, 9, 16)
    at_due = Interval(ist(3, 9, 16))  # reached exactly as the pause began
    assert due_at(ALWAYS, started=ist(3, 9, 10), target=6 * H, pauses=[at_due]) == ist(3, 9, 16)


def test_overlapping_unsorted_pauses_are_merged() -> None:
    pauses = [
        Interval(ist(3, 9, 13), ist(3, 9, 15)),
        Interval(ist(3, 9, 11), ist(3, 9, 14)),
        Interval(ist(3, 9, 15), ist(3, 9, 16)),  # touches the previous one
        Interval(ist(3, 9, 8), ist(3, 9, 10, 30)),  # began before the ticket
    ]
    # Counted: 10:30-11:00, then from 16:00 -> 5h30 left -> 21:30.
    assert due_at(ALWAYS, started=ist(3, 9, 10), target=6 * H, pauses=pauses) == ist(3, 9, 21, 30)
    now = ist(3, 9, 20)
    assert elapsed(ALWAYS, started=ist(3, 9, 10), now=now, pauses=pauses) == 4.5 * H


def test_pause_on_office_calendar_pushes_into_next_day() -> None:
    # Mon 09:00 + 6h office target; pending customer 10:00-16:00 -> 1h before, 2h to 18:00,
    # 3h left on Tuesday -> 12:00.
    pauses = [Interval(ist(3, 9, 10), ist(3, 9, 16))]
    assert due_at(OFFICE, started=ist(3, 9, 9), target=6 * H, pauses=pauses) == ist(3, 10, 12)


def test_pause_started_before_ticket_and_still_open() -> None:
    pauses = [Interval(ist(3, 9, 8))]
    assert due_at(ALWAYS, started=ist(3, 9, 10), target=H, pauses=pauses) is None
    assert elapsed(ALWAYS, started=ist(3, 9, 10), now=ist(3, 9, 12), pauses=pauses) == timedelta(0)


def test_elapsed_counts_open_pause_until_now() -> None:
    pauses = [Interval(ist(3, 9, 11))]
    assert elapsed(ALWAYS, started=ist(3, 9, 10), now=ist(3, 9, 15), pauses=pauses) == H
    assert elapsed(ALWAYS, started=ist(3, 9, 10), now=ist(3, 9, 9), pauses=pauses) == timedelta(0)


def test_pause_end_before_start_rejected() -> None:
    with pytest.raises(ValueError, match=r"pause end .* is before its start"):
        Interval(ist(3, 9, 11), ist(3, 9, 10))


pause_lists = st.lists(
    st.tuples(
        st.timedeltas(min_value=-2 * H, max_value=timedelta(days=10)),
        st.one_of(st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))),
    ),
    max_size=4,
)


@FAST
@given(start=starts, target=durations, raw=pause_lists)
def test_elapsed_at_due_equals_target(
    start: datetime, target: timedelta, raw: list[tuple[timedelta, timedelta | None]]
) -> None:
    pauses = [Interval(start + off, None if ln is None else start + off + ln) for off, ln in raw]
    due = due_at(KERALA_OFFICE, started=start, target=target, pauses=pauses)
    if due is None:
        assert any(p.end is None for p in pauses)
        return
    assert elapsed(KERALA_OFFICE, started=start, now=due, pauses=pauses) == target
    if target:
        earlier = due - timedelta(microseconds=1)
        assert elapsed(KERALA_OFFICE, started=start, now=earlier, pauses=pauses) < target


# --- policy, clocks, states -------------------------------------------------------------


def test_default_policy_matches_seed_003() -> None:
    assert DEFAULT_POLICY.first_response == timedelta(minutes=90)
    assert dict(DEFAULT_POLICY.resolution) == {
        Severity.CRITICAL: timedelta(hours=6),
        Severity.MAJOR: timedelta(hours=48),
        Severity.MINOR: timedelta(days=30),
    }
    assert DEFAULT_POLICY.warn_at == 0.75


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warn_at": 1.0}, "warn_at must be between 0 and 1"),
        ({"warn_at": 0.0}, "warn_at must be between 0 and 1"),
        ({"first_response": timedelta(0)}, "first_response must be positive"),
        ({"resolution": {Severity.CRITICAL: H}}, "resolution target missing for severity minor"),
    ],
)
def test_policy_validation(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "first_response": H,
        "resolution": dict(DEFAULT_POLICY.resolution),
    }
    with pytest.raises(ValueError, match=message):
        SlaPolicy(**(base | kwargs))  # type: ignore[arg-type]


def test_clocks_warn_at_75_percent_under_calendar() -> None:
    opened = ist(3, 9, 9)  # Monday
    (first, resolution) = clocks(
        policy=DEFAULT_POLICY,
        calendar=OFFICE,
        severity=Severity.CRITICAL,
        opened_at=opened,
        pauses=(),
        first_responded_at=None,
    )
    warn = ist(3, 9, 10, 7) + timedelta(seconds=30)  # 75 % of 90 min = 67.5 min
    assert first == Clock(Deadline.FIRST_RESPONSE, ist(3, 9, 10, 30), warn, 1.5 * H)
    assert resolution == Clock(Deadline.RESOLUTION, ist(3, 9, 15), ist(3, 9, 13, 30), 6 * H)


def test_first_response_clock_disappears_once_answered() -> None:
    (only,) = clocks(
        policy=DEFAULT_POLICY,
        calendar=OFFICE,
        severity=Severity.MAJOR,
        opened_at=ist(3, 9, 9),
        pauses=(),
        first_responded_at=ist(3, 9, 9, 20),
    )
    # 48 business hours = Mon-Fri (45 h) + Sat 09:00-12:00; warning at 36 h = Thu closing.
    assert only == Clock(Deadline.RESOLUTION, ist(3, 14, 12), ist(3, 12, 18), 48 * H)


def test_clocks_with_open_pause_keep_reached_warning() -> None:
    (resolution,) = clocks(
        policy=DEFAULT_POLICY,
        calendar=ALWAYS,
        severity=Severity.CRITICAL,
        opened_at=ist(3, 9, 9),
        pauses=[Interval(ist(3, 9, 14))],
        first_responded_at=ist(3, 9, 9, 5),
    )
    assert resolution.due_at is None
    assert resolution.warn_at == ist(3, 9, 13, 30)


def test_state_transitions() -> None:
    clock = Clock(Deadline.RESOLUTION, ist(3, 9, 15), ist(3, 9, 13, 30), 6 * H)
    assert state_at(clock, ist(3, 9, 13, 29), paused=False) is ClockState.RUNNING
    assert state_at(clock, ist(3, 9, 13, 30), paused=False) is ClockState.WARNING
    assert state_at(clock, ist(3, 9, 14, 59), paused=False) is ClockState.WARNING
    assert state_at(clock, ist(3, 9, 15), paused=False) is ClockState.BREACHED
    assert state_at(clock, ist(3, 9, 14), paused=True) is ClockState.PAUSED
    assert state_at(clock, ist(3, 9, 16), paused=True) is ClockState.BREACHED  # breach stands
    stopped = Clock(Deadline.RESOLUTION, None, None, 6 * H)
    assert state_at(stopped, ist(3, 9, 16), paused=True) is ClockState.PAUSED


# --- severity, ladder, RCA --------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        (0.20, Severity.CRITICAL),
        (0.199, Severity.MAJOR),
        (0.021, Severity.MAJOR),
        (0.02, Severity.MINOR),
        (0.0, Severity.MINOR),
        (1.0, Severity.CRITICAL),
    ],
)
def test_severity_for_impact(share: float, expected: Severity) -> None:
    assert severity_for_impact(share) is expected


@pytest.mark.parametrize("share", [1.5, -0.01, float("nan")])
def test_severity_for_impact_rejects_out_of_range(share: float) -> None:
    with pytest.raises(ValueError, match="impact share must be between 0 and 1"):
        severity_for_impact(share)


def test_severity_rules_are_configurable_data() -> None:
    rules = SeverityRules(critical_at=0.5, major_above=0.1)
    assert severity_for_impact(0.3, rules=rules) is Severity.MAJOR
    assert severity_for_impact(0.3, rules=DEFAULT_SEVERITY_RULES) is Severity.CRITICAL
    with pytest.raises(ValueError, match="major_above < critical_at"):
        SeverityRules(critical_at=0.1, major_above=0.2)


def test_ladders() -> None:
    assert TREE_LADDER.next_level("sub_district") == "district"
    assert TREE_LADDER.next_level("district") == "state"
    assert TREE_LADDER.next_level("state") is None
    assert TIER_LADDER.next_level("L1") == "L2"
    assert TIER_LADDER.next_level("L3") is None
    with pytest.raises(ValueError, match="unknown level 'L4'; ladder is L1 → L2 → L3"):
        TIER_LADDER.next_level("L4")
    with pytest.raises(ValueError, match="unique"):
        Ladder(("L1", "L1"))
    with pytest.raises(ValueError, match="at least one level"):
        Ladder(())


def test_rca_only_for_critical() -> None:
    resolved = ist(8, 24, 17)  # wall-clock hours: Onam holidays do not matter
    assert rca_due(resolved, severity=Severity.CRITICAL) == ist(8, 27, 17)
    assert rca_due(resolved, severity=Severity.CRITICAL, after=24 * H) == ist(8, 25, 17)
    assert rca_due(resolved, severity=Severity.MAJOR) is None
    assert rca_due(resolved, severity=Severity.MINOR) is None
