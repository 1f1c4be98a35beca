"""Unit tests for the pure escalation-chain domain (no I/O, no clock reads)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sahaya.network.domain import (
    OFFICE_HOURS,
    Availability,
    ChainDepth,
    EscalationChain,
    ExecutiveView,
    InvalidWorkingHours,
    Level,
    NodeView,
    ShiftWindow,
    SkipReason,
    WeeklyHours,
    escalation_chain,
)

IST = ZoneInfo("Asia/Kolkata")
DASH = "\u2013"
NS = uuid.UUID("6f1c2d3e-0000-4000-8000-000000000000")
SERVICE = "apnafood"
# 2025-01-06 is a Monday.
MON_10 = datetime(2025, 1, 6, 10, 0, tzinfo=IST)
ALWAYS = WeeklyHours.always()
MON_SAT_9_18 = WeeklyHours.from_mapping(
    {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
)


def ist(day: int, hour: int, minute: int = 0) -> datetime:
    """January 2025 wall-clock time in IST (Jan 6 = Mon ... Jan 12 = Sun)."""
    return datetime(2025, 1, day, hour, minute, tzinfo=IST)


def exe(
    name: str,
    rank: int,
    *,
    services: frozenset[str] = frozenset({SERVICE}),
    hours: WeeklyHours = ALWAYS,
    availability: Availability = Availability.AVAILABLE,
) -> ExecutiveView:
    return ExecutiveView(
        id=uuid.uuid5(NS, name),
        name=name,
        rank=rank,
        phone_e164="+919800000000",
        services=services,
        hours=hours,
        availability=availability,
    )


def node(name: str, level: Level, *executives: ExecutiveView) -> NodeView:
    return NodeView(
        id=uuid.uuid5(NS, f"node:{name}"), name=name, level=level, executives=executives
    )


def trio(prefix: str) -> tuple[ExecutiveView, ...]:
    # Deliberately out of rank order so sorting is exercised.
    return (exe(f"{prefix}-3", 3), exe(f"{prefix}-1", 1), exe(f"{prefix}-2", 2))


def seed_path(
    sd: tuple[ExecutiveView, ...] | None = None,
    district: tuple[ExecutiveView, ...] | None = None,
    state: tuple[ExecutiveView, ...] | None = None,
) -> list[NodeView]:
    return [
        node("Kochi", Level.SUB_DISTRICT, *(trio("kochi") if sd is None else sd)),
        node("Ernakulam", Level.DISTRICT, *(trio("ern") if district is None else district)),
        node("Kerala", Level.STATE, *(trio("ker") if state is None else state)),
    ]


def names(chain: EscalationChain) -> list[str]:
    return [e.name for e in chain.dial_list]


def step_for(chain: EscalationChain, name: str) -> tuple[bool, int | None, SkipReason | None, str]:
    (step,) = [s for s in chain.steps if s.executive.name == name]
    return step.kept, step.position, step.skip, step.reason


def build(
    path: list[NodeView],
    *,
    now: datetime = MON_10,
    depth: ChainDepth | None = None,
    on_call: frozenset[uuid.UUID] = frozenset(),
) -> EscalationChain:
    return escalation_chain(
        path=path, service=SERVICE, now=now, depth=depth or ChainDepth(), on_call=on_call
    )


# --- chain order and depth -------------------------------------------------------------


def test_seed_chain_default_depth_rings_sd1_sd2_d1_d2_s1() -> None:
    chain = build(seed_path())
    assert names(chain) == ["kochi-1", "kochi-2", "ern-1", "ern-2", "ker-1"]
    assert [s.position for s in chain.kept] == [1, 2, 3, 4, 5]
    assert [s.level for s in chain.kept] == [
        Level.SUB_DISTRICT,
        Level.SUB_DISTRICT,
        Level.DISTRICT,
        Level.DISTRICT,
        Level.STATE,
    ]
    assert [s.executive.name for s in chain.steps] == [
        "kochi-1",
        "kochi-2",
        "kochi-3",
        "ern-1",
        "ern-2",
        "ern-3",
        "ker-1",
        "ker-2",
        "ker-3",
    ]
    assert chain.gaps == ()


def test_seed_chain_skipped_steps_are_beyond_depth_with_reasons() -> None:
    chain = build(seed_path())
    assert step_for(chain, "kochi-1") == (
        True,
        1,
        None,
        "Sub-District Kochi #1: available and on shift",
    )
    assert step_for(chain, "ker-1") == (True, 5, None, "State Kerala #1: available and on shift")
    beyond = [s.executive.name for s in chain.steps if s.skip is SkipReason.BEYOND_DEPTH]
    assert beyond == ["kochi-3", "ern-3", "ker-2", "ker-3"]
    assert all(s.position is None and not s.kept for s in chain.steps if s.skip is not None)
    assert step_for(chain, "ern-3")[3] == (
        "District Ernakulam #3: available but beyond chain depth 2 for District"
    )


def test_rank_ties_are_broken_by_name() -> None:
    sd = (exe("zeta", 1), exe("alpha", 1), exe("mid", 0))
    chain = build(seed_path(sd=sd), depth=ChainDepth(sub_district=3, district=0, state=0))
    assert names(chain) == ["mid", "alpha", "zeta"]


def test_configurable_depth_changes_counts_per_level() -> None:
    chain = build(seed_path(), depth=ChainDepth(sub_district=1, district=2, state=2))
    assert names(chain) == ["kochi-1", "ern-1", "ern-2", "ker-1", "ker-2"]
    assert step_for(chain, "kochi-2")[2] is SkipReason.BEYOND_DEPTH


def test_depth_zero_keeps_nobody_at_that_level() -> None:
    chain = build(seed_path(), depth=ChainDepth(district=0))
    assert names(chain) == ["kochi-1", "kochi-2", "ker-1"]
    assert chain.gaps == ("District Ernakulam is excluded by chain depth 0",)
    assert {step_for(chain, f"ern-{i}")[2] for i in (1, 2, 3)} == {SkipReason.BEYOND_DEPTH}


def test_taluk_with_one_executive_continues_at_district() -> None:
    chain = build(seed_path(sd=(exe("kochi-1", 1),)))
    assert names(chain) == ["kochi-1", "ern-1", "ern-2", "ker-1"]
    assert [s.position for s in chain.kept] == [1, 2, 3, 4]
    assert chain.gaps == ()


def test_district_with_no_executives_adds_gap_and_goes_to_state() -> None:
    path = seed_path(district=())
    path[1] = node("Idukki", Level.DISTRICT)
    chain = build(path)
    assert names(chain) == ["kochi-1", "kochi-2", "ker-1"]
    assert chain.gaps == ("District Idukki has no executives",)
    assert [s.position for s in chain.kept] == [1, 2, 3]


def test_path_may_start_at_district() -> None:
    path = seed_path()[1:]
    chain = build(path)
    assert names(chain) == ["ern-1", "ern-2", "ker-1"]


def test_kept_property_matches_dial_list() -> None:
    chain = build(seed_path())
    assert tuple(s.executive for s in chain.kept) == chain.dial_list
    assert all(s.kept for s in chain.kept)


# --- skip reasons ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "on_call", "expected_skip", "expected_reason"),
    [
        (exe("kochi-1", 1, availability=Availability.AWAY), False, SkipReason.AWAY, "away"),
        (
            exe("kochi-1", 1, availability=Availability.OFFLINE),
            False,
            SkipReason.OFFLINE,
            "offline",
        ),
        (
            exe("kochi-1", 1, hours=WeeklyHours.from_mapping({"tue": [["09:00", "18:00"]]})),
            False,
            SkipReason.OFF_SHIFT,
            f"off shift (Tue 09:00{DASH}18:00)",
        ),
        (exe("kochi-1", 1), True, SkipReason.ON_CALL, "on another call"),
    ],
)
def test_ineligible_executive_is_skipped_and_next_by_rank_takes_place(
    first: ExecutiveView, on_call: bool, expected_skip: SkipReason, expected_reason: str
) -> None:
    sd = (first, exe("kochi-2", 2), exe("kochi-3", 3))
    busy = frozenset({first.id}) if on_call else frozenset()
    chain = build(seed_path(sd=sd), on_call=busy)
    assert names(chain) == ["kochi-2", "kochi-3", "ern-1", "ern-2", "ker-1"]
    assert step_for(chain, "kochi-1") == (
        False,
        None,
        expected_skip,
        f"Sub-District Kochi #1: {expected_reason}",
    )
    assert step_for(chain, "kochi-2")[:2] == (True, 1)


def test_off_shift_reason_describes_working_hours() -> None:
    district = (exe("ern-1", 1), exe("ern-2", 2, hours=MON_SAT_9_18), exe("ern-3", 3))
    chain = build(seed_path(district=district), now=ist(6, 19))
    assert step_for(chain, "ern-2") == (
        False,
        None,
        SkipReason.OFF_SHIFT,
        f"District Ernakulam #2: off shift (Mon{DASH}Sat 09:00{DASH}18:00)",
    )
    assert names(chain) == ["kochi-1", "kochi-2", "ern-1", "ern-3", "ker-1"]


def test_executive_not_serving_service_is_listed_as_skipped() -> None:
    sd = (exe("kochi-1", 1, services=frozenset({"apnamart"})), exe("kochi-2", 2))
    chain = build(seed_path(sd=sd))
    assert step_for(chain, "kochi-1") == (
        False,
        None,
        SkipReason.NOT_SERVING_SERVICE,
        "Sub-District Kochi #1: does not serve apnafood",
    )
    assert names(chain) == ["kochi-2", "ern-1", "ern-2", "ker-1"]


def test_node_where_nobody_serves_service_gets_specific_gap() -> None:
    path = seed_path()
    path[1] = node("Idukki", Level.DISTRICT, exe("idk-1", 1, services=frozenset({"apnamart"})))
    chain = build(path)
    assert chain.gaps == ("District Idukki has no executives for apnafood",)
    assert names(chain) == ["kochi-1", "kochi-2", "ker-1"]
    assert step_for(chain, "idk-1")[2] is SkipReason.NOT_SERVING_SERVICE


def test_node_with_nobody_available_gets_distinct_gap() -> None:
    away = Availability.AWAY
    sd = (exe("kochi-1", 1, availability=away), exe("kochi-2", 2, availability=away))
    chain = build(seed_path(sd=sd))
    assert chain.gaps == ("Sub-District Kochi has no executive available for apnafood",)
    assert names(chain) == ["ern-1", "ern-2", "ker-1"]


@pytest.mark.parametrize(
    ("executive", "expected"),
    [
        (
            exe("x", 1, services=frozenset(), availability=Availability.OFFLINE),
            SkipReason.NOT_SERVING_SERVICE,
        ),
        (exe("x", 1, availability=Availability.OFFLINE, hours=WeeklyHours(())), SkipReason.OFFLINE),
        (exe("x", 1, availability=Availability.AWAY, hours=WeeklyHours(())), SkipReason.AWAY),
        (exe("x", 1, hours=WeeklyHours(())), SkipReason.OFF_SHIFT),
    ],
)
def test_skip_reason_precedence(executive: ExecutiveView, expected: SkipReason) -> None:
    chain = build([node("Kochi", Level.SUB_DISTRICT, executive)], on_call=frozenset({executive.id}))
    assert chain.steps[0].skip is expected
    assert chain.dial_list == ()


# --- validation ------------------------------------------------------------------------


def test_naive_datetime_is_rejected() -> None:
    naive = MON_10.replace(tzinfo=None)
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        build(seed_path(), now=naive)
    with pytest.raises(ValueError, match="at must be a timezone-aware"):
        ALWAYS.is_on_shift(naive)


@pytest.mark.parametrize(
    "levels",
    [
        (Level.DISTRICT, Level.SUB_DISTRICT),
        (Level.SUB_DISTRICT, Level.SUB_DISTRICT),
        (Level.STATE, Level.DISTRICT, Level.SUB_DISTRICT),
        (Level.SUB_DISTRICT, Level.STATE, Level.DISTRICT),
    ],
)
def test_bad_path_order_is_rejected(levels: tuple[Level, ...]) -> None:
    path = [node(f"n{i}", level, exe(f"e{i}", 1)) for i, level in enumerate(levels)]
    with pytest.raises(ValueError, match="path levels must ascend"):
        build(path)


def test_empty_path_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one node"):
        build([])


def test_chain_depth_rejects_negative_and_maps_levels() -> None:
    with pytest.raises(ValueError, match=r"ChainDepth\.district must be an int >= 0"):
        ChainDepth(district=-1)
    depth = ChainDepth(sub_district=3, district=4, state=5)
    levels = (Level.SUB_DISTRICT, Level.DISTRICT, Level.STATE)
    assert [depth.for_level(lv) for lv in levels] == [3, 4, 5]


def test_shift_window_and_time_zone_validation() -> None:
    with pytest.raises(InvalidWorkingHours, match="weekday must be 0-6"):
        ShiftWindow(7, time(9), time(18))
    with pytest.raises(InvalidWorkingHours, match="unknown time zone 'Mars/Olympus'"):
        WeeklyHours((), tz="Mars/Olympus")


# --- working hours ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (ist(11, 21, 59), False),  # Sat before start
        (ist(11, 22, 0), True),  # Sat at start
        (ist(11, 23, 30), True),
        (ist(12, 0, 0), True),  # Sun midnight, spill-over
        (ist(12, 5, 59), True),
        (ist(12, 6, 0), False),  # Sun at end
        (ist(10, 23, 0), False),  # Fri night: no window
        (ist(13, 1, 0), False),  # Mon early: no window
    ],
)
def test_overnight_shift_crosses_midnight(at: datetime, expected: bool) -> None:
    hours = WeeklyHours.from_mapping({"sat": [["22:00", "06:00"]]})
    assert hours.is_on_shift(at) is expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (ist(12, 23, 30), True),  # Sun night
        (ist(13, 3, 0), True),  # Mon early, wrapped from Sunday
        (ist(13, 6, 0), False),
        (ist(7, 3, 0), False),  # Tue early: Monday has no window
        (ist(12, 3, 0), False),  # Sun early: Saturday has no window
    ],
)
def test_sunday_night_shift_wraps_to_monday(at: datetime, expected: bool) -> None:
    hours = WeeklyHours.from_mapping({"sun": [["22:00", "06:00"]]})
    assert hours.is_on_shift(at) is expected


def test_sunday_night_shift_keeps_executive_in_monday_morning_chain() -> None:
    night = WeeklyHours.from_mapping({"sun": [["22:00", "06:00"]]})
    sd = (exe("kochi-1", 1, hours=MON_SAT_9_18), exe("kochi-2", 2, hours=night))
    chain = build(seed_path(sd=sd), now=ist(13, 2, 0))
    assert names(chain) == ["kochi-2", "ern-1", "ern-2", "ker-1"]
    assert step_for(chain, "kochi-1")[2] is SkipReason.OFF_SHIFT


def test_equal_start_and_end_means_24_hours_from_start() -> None:
    hours = WeeklyHours((ShiftWindow(5, time(22), time(22)),))
    assert hours.is_on_shift(ist(11, 22, 0)) is True
    assert hours.is_on_shift(ist(12, 21, 59)) is True
    assert hours.is_on_shift(ist(12, 22, 0)) is False
    assert hours.is_on_shift(ist(11, 21, 59)) is False


def test_utc_input_is_converted_to_ist() -> None:
    hours = WeeklyHours.from_mapping({"mon": [["09:00", "18:00"]]})
    assert hours.is_on_shift(datetime(2025, 1, 6, 3, 45, tzinfo=UTC)) is True  # 09:15 IST
    assert hours.is_on_shift(datetime(2025, 1, 6, 3, 29, tzinfo=UTC)) is False  # 08:59 IST
    assert hours.is_on_shift(datetime(2025, 1, 6, 12, 30, tzinfo=UTC)) is False  # 18:00 IST
    # Sunday 20:00 UTC is already Monday 01:30 in IST.
    night = WeeklyHours.from_mapping({"mon": [["00:00", "02:00"]]})
    assert night.is_on_shift(datetime(2025, 1, 5, 20, 0, tzinfo=UTC)) is True


def test_chain_accepts_utc_now() -> None:
    sd = (exe("kochi-1", 1, hours=MON_SAT_9_18), exe("kochi-2", 2))
    chain = build(seed_path(sd=sd), now=datetime(2025, 1, 6, 3, 15, tzinfo=UTC))  # 08:45 IST
    assert names(chain)[:2] == ["kochi-2", "ern-1"]
    chain = build(seed_path(sd=sd), now=datetime(2025, 1, 6, 3, 45, tzinfo=UTC))  # 09:15 IST
    assert names(chain)[:2] == ["kochi-1", "kochi-2"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"funday": [["09:00", "18:00"]]}, "unknown day 'funday'"),
        ({"mon": "09:00-18:00"}, "mon: expected a list of [start, end] pairs"),
        ({"tue": [["09:00"]]}, "tue[0]: expected [start, end], got ['09:00']"),
        ({"wed": [["09:00", "18:00"], "x"]}, "wed[1]: expected [start, end], got 'x'"),
        ({"thu": [["9:00", "18:00"]]}, "thu[0] start: invalid time '9:00'"),
        ({"fri": [["09:00", "24:00"]]}, "fri[0] end: invalid time '24:00'"),
        ({"sat": [["09:60", "18:00"]]}, "sat[0] start: invalid time '09:60'"),
        ({"sun": [[900, "18:00"]]}, "sun[0] start: expected an 'HH:MM' string, got 900"),
    ],
)
def test_from_mapping_errors_name_bad_key_and_value(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidWorkingHours, match=re.escape(message)):
        WeeklyHours.from_mapping(data)


def test_from_mapping_rejects_non_mapping() -> None:
    with pytest.raises(InvalidWorkingHours, match="must be a mapping, got list"):
        WeeklyHours.from_mapping([("mon", [])])  # type: ignore[arg-type]


def test_to_mapping_round_trips() -> None:
    data = {
        "mon": [["09:00", "13:00"], ["14:00", "18:00"]],
        "wed": [["09:00", "18:00"]],
        "sat": [["22:00", "06:00"]],
    }
    hours = WeeklyHours.from_mapping(data, tz="Asia/Kolkata")
    assert hours.to_mapping() == data
    assert list(hours.to_mapping()) == ["mon", "wed", "sat"]
    assert WeeklyHours.from_mapping(hours.to_mapping()) == hours
    assert WeeklyHours.from_mapping(OFFICE_HOURS.to_mapping()) == OFFICE_HOURS


def test_presets_and_describe() -> None:
    assert OFFICE_HOURS == WeeklyHours.office_hours()
    assert OFFICE_HOURS.describe() == f"Mon{DASH}Sat 09:00{DASH}21:00"
    assert OFFICE_HOURS.is_on_shift(ist(11, 20, 59)) is True  # Sat
    assert OFFICE_HOURS.is_on_shift(ist(12, 12, 0)) is False  # Sun
    assert WeeklyHours.always().describe() == "24x7"
    assert WeeklyHours.always().is_on_shift(ist(12, 3, 33)) is True
    assert WeeklyHours(()).describe() == "no working hours"
    split = WeeklyHours.from_mapping(
        {
            "mon": [["09:00", "13:00"], ["14:00", "18:00"]],
            "tue": [["09:00", "18:00"]],
            "wed": [["09:00", "18:00"]],
            "sat": [["22:00", "06:00"]],
        }
    )
    assert split.describe() == (
        f"Mon 09:00{DASH}13:00, 14:00{DASH}18:00; Tue{DASH}Wed 09:00{DASH}18:00; "
        f"Sat 22:00{DASH}06:00"
    )


@given(
    sizes=st.tuples(*(st.integers(min_value=0, max_value=4) for _ in range(3))),
    depth=st.tuples(*(st.integers(min_value=1, max_value=3) for _ in range(3))),
    away=st.sets(st.integers(min_value=0, max_value=11)),
    taken_picks=st.lists(st.integers(min_value=0, max_value=20), max_size=4),
    max_numbers=st.integers(min_value=1, max_value=9),
)
def test_leaving_out_offered_executives_never_drops_another_offered_one(
    sizes: tuple[int, int, int],
    depth: tuple[int, int, int],
    away: set[int],
    taken_picks: list[int],
    max_numbers: int,
) -> None:
    """What the dial plan's claim rounds rely on (voice.dialling): when executives a plan
    chose turn out to be taken and the chain is worked out again without them, everyone
    else it chose is still chosen, so claims only ever grow."""
    levels = (Level.SUB_DISTRICT, Level.DISTRICT, Level.STATE)
    numbers = iter(range(12))
    path = []
    for i, (level, size) in enumerate(zip(levels, sizes, strict=True)):
        staff = []
        for rank in range(1, size + 1):
            n = next(numbers)
            state = Availability.AWAY if n in away else Availability.AVAILABLE
            staff.append(exe(f"e{n}", rank, availability=state))
        path.append(node(f"n{i}", level, *staff))
    chain_depth = ChainDepth(sub_district=depth[0], district=depth[1], state=depth[2])

    def chosen(on_call: frozenset[uuid.UUID]) -> list[uuid.UUID]:
        chain = escalation_chain(
            path=path, service=SERVICE, now=MON_10, depth=chain_depth, on_call=on_call
        )
        return [s.executive.id for s in chain.kept[:max_numbers]]

    first = chosen(frozenset())
    if not first:
        return
    taken = frozenset(first[p % len(first)] for p in taken_picks)
    again = chosen(taken)
    assert set(first) - taken <= set(again)


def test_the_offer_takes_the_picks_then_the_next_in_line_per_level_within_the_budget() -> None:
    """`voice.dialling.choose`: what the offer statement picks from the chain's picks and
    the free executives beyond depth — the same as the chain when nobody was taken."""
    from sahaya.voice.dialling import choose

    chain = build(seed_path())
    candidates = tuple(s for s in chain.steps if s.kept or s.skip == SkipReason.BEYOND_DEPTH)
    picked = choose(candidates, ChainDepth(), limit=10)
    assert [s.executive.name for s in picked] == names(chain)
    taken = {"kochi-1", "ern-2"}  # offered another call since the read
    still_free = tuple(s for s in candidates if s.executive.name not in taken)
    assert [s.executive.name for s in choose(still_free, ChainDepth(), limit=10)] == [
        "kochi-2",
        "kochi-3",
        "ern-1",
        "ern-3",
        "ker-1",
    ]
    assert [s.executive.name for s in choose(still_free, ChainDepth(), limit=3)] == [
        "kochi-2",
        "kochi-3",
        "ern-1",
    ]
