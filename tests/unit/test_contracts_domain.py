"""Unit tests for the pure AMC rules: entitlement on a day, boundaries, contract validation."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sahaya.contracts.domain import (
    ContractState,
    ContractView,
    Entitlement,
    EntitlementResult,
    InvalidContract,
    entitlement,
    local_day,
    new_contract,
)

GOLD = ContractView("GOLD-2026", "gold", ("apnafood",), date(2026, 4, 1), date(2027, 3, 31))
OLD = ContractView("GOLD-2025", "gold", ("apnafood",), date(2025, 11, 1), date(2026, 10, 31))
RIDE = ContractView("RIDE-2026", "silver", ("apnaride",), date(2026, 1, 1), date(2026, 12, 31))


def check(*contracts: ContractView, on: date, required: bool = True) -> EntitlementResult:
    return entitlement(contracts, service="apnafood", on=on, requires_contract=required)


def test_an_active_contract_covers_the_service() -> None:
    result = check(GOLD, RIDE, on=date(2026, 11, 23))
    assert result.entitlement == Entitlement.COVERED
    assert result.reason == "AMC GOLD-2026 covers apnafood until 2027-03-31"
    assert result.reference == "GOLD-2026"
    assert not result.needs_approval


def test_the_last_day_is_covered_and_the_next_is_not() -> None:
    assert check(OLD, on=date(2026, 10, 31)).entitlement == Entitlement.COVERED
    after = check(OLD, on=date(2026, 11, 1))
    assert after.entitlement == Entitlement.EXPIRED
    assert after.reason == "AMC GOLD-2025 expired on 2026-10-31"
    assert after.reference == "GOLD-2025"
    assert after.needs_approval


def test_the_first_day_is_covered_and_a_future_start_is_not_yet() -> None:
    assert check(GOLD, on=date(2026, 4, 1)).entitlement == Entitlement.COVERED
    before = check(GOLD, on=date(2026, 3, 31))
    assert before.entitlement == Entitlement.MISSING
    assert before.reason == "AMC GOLD-2026 starts on 2026-04-01; not covered before then"
    assert before.needs_approval


def test_a_gap_between_contracts_is_expired_and_names_the_renewal() -> None:
    renewal = ContractView(
        "GOLD-2027", "gold", ("apnafood",), date(2026, 12, 1), date(2027, 11, 30)
    )
    result = check(OLD, renewal, on=date(2026, 11, 15))
    assert result.entitlement == Entitlement.EXPIRED
    assert result.reason == (
        "AMC GOLD-2025 expired on 2026-10-31; AMC GOLD-2027 starts on 2026-12-01"
    )


def test_the_latest_of_several_active_contracts_is_shown() -> None:
    longer = ContractView("PLAT-1", "platinum", ("apnafood",), date(2026, 1, 1), date(2028, 1, 1))
    assert check(GOLD, longer, on=date(2026, 11, 23)).reference == "PLAT-1"


def test_no_contract_for_the_service_is_missing() -> None:
    result = check(RIDE, on=date(2026, 11, 23))
    assert (result.entitlement, result.reason) == (Entitlement.MISSING, "no AMC covers apnafood")
    assert result.reference is None
    assert result.needs_approval


def test_a_service_without_the_requirement_never_waits() -> None:
    nothing = check(on=date(2026, 11, 23), required=False)
    assert nothing.entitlement == Entitlement.NOT_REQUIRED
    assert nothing.reason == "apnafood does not require an AMC"
    assert not nothing.needs_approval
    lapsed = check(OLD, on=date(2026, 11, 23), required=False)
    assert lapsed.entitlement == Entitlement.NOT_REQUIRED
    assert lapsed.reason == "apnafood does not require an AMC (AMC GOLD-2025 expired on 2026-10-31)"
    # Cover is still worth showing when the service does not require it.
    covered = check(GOLD, on=date(2026, 11, 23), required=False)
    assert covered.entitlement == Entitlement.COVERED
    assert not covered.needs_approval


@pytest.mark.parametrize(
    ("day", "state"),
    [
        (date(2026, 3, 31), ContractState.UPCOMING),
        (date(2026, 4, 1), ContractState.ACTIVE),
        (date(2027, 3, 31), ContractState.ACTIVE),
        (date(2027, 4, 1), ContractState.EXPIRED),
    ],
)
def test_contract_state_on_a_day(day: date, state: ContractState) -> None:
    assert GOLD.state_on(day) == state


def test_the_business_day_is_kerala_time() -> None:
    # 19:00 UTC on 31 March is already 1 April in Kerala.
    assert local_day(datetime(2026, 3, 31, 19, 0, tzinfo=UTC)) == date(2026, 4, 1)


def test_new_contract_cleans_its_fields() -> None:
    made = new_contract(
        reference=" gold-2026 ",
        plan="  Gold   plan ",
        services=["apnafood", "ApnaRide", "apnafood"],
        starts_on=date(2026, 4, 1),
        ends_on=date(2026, 4, 1),  # a one-day contract is valid
    )
    assert made == ContractView(
        "GOLD-2026", "Gold plan", ("apnafood", "apnaride"), date(2026, 4, 1), date(2026, 4, 1)
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ends_on": date(2026, 3, 31)}, "ends_on: 2026-03-31 is before starts_on 2026-04-01"),
        ({"reference": "gold 2026"}, "reference:"),
        ({"reference": ""}, "reference:"),
        ({"plan": "   "}, "plan:"),
        ({"services": []}, "services: a contract covers at least one service"),
        ({"services": ["apna food"]}, "services: 'apna food' is not a service code"),
    ],
)
def test_new_contract_refuses_bad_fields(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "reference": "GOLD-2026",
        "plan": "gold",
        "services": ["apnafood"],
        "starts_on": date(2026, 4, 1),
        "ends_on": date(2027, 3, 31),
        **fields,
    }
    with pytest.raises(InvalidContract, match=message):
        new_contract(**base)  # type: ignore[arg-type]
