"""Maintenance-contract (AMC) rules without I/O: what a valid contract is, and whether a
customer is entitled to support for a service on a given day.

Contract dates are calendar days in the business's zone (Asia/Kolkata): a contract covers
its `starts_on` and its `ends_on` day completely, and nothing before or after. Seed 004
("AMC status validation") sends an expired contract to sales/management for an exception
decision; a service that does not require a contract never waits for one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Kolkata")


class Entitlement(StrEnum):
    COVERED = "covered"
    EXPIRED = "expired"
    MISSING = "missing"
    NOT_REQUIRED = "not_required"


class ContractState(StrEnum):
    UPCOMING = "upcoming"
    ACTIVE = "active"
    EXPIRED = "expired"


class InvalidContract(ValueError):
    """A contract field breaks a rule; the message starts with the field's name."""


@dataclass(frozen=True, slots=True)
class ContractView:
    reference: str
    plan: str
    services: tuple[str, ...]
    starts_on: date
    ends_on: date

    def state_on(self, day: date) -> ContractState:
        if day < self.starts_on:
            return ContractState.UPCOMING
        return ContractState.ACTIVE if day <= self.ends_on else ContractState.EXPIRED

    def covers(self, service: str) -> bool:
        return service in self.services


@dataclass(frozen=True, slots=True)
class EntitlementResult:
    entitlement: Entitlement
    reason: str
    requires_contract: bool
    reference: str | None = None

    @property
    def needs_approval(self) -> bool:
        """Seed 004: no active AMC on a service that requires one → sales/management decide."""
        return self.requires_contract and self.entitlement in (
            Entitlement.EXPIRED,
            Entitlement.MISSING,
        )


def local_day(now: datetime) -> date:
    """The business day `now` falls on (contract dates are Kerala calendar days)."""
    return now.astimezone(BUSINESS_TZ).date()


def entitlement(
    contracts: Iterable[ContractView], *, service: str, on: date, requires_contract: bool
) -> EntitlementResult:
    """Is the customer entitled to support for `service` on day `on`?

    Covered wins whenever an active contract covers the service, required or not (agents
    like to see it). Otherwise a service that does not require a contract is `not_required`;
    one that does is `expired` (a covering contract has ended) or `missing` (never had one,
    or the only one starts later).
    """
    relevant = [c for c in contracts if c.covers(service)]
    active = [c for c in relevant if c.state_on(on) == ContractState.ACTIVE]
    if active:
        best = max(active, key=lambda c: c.ends_on)
        reason = f"AMC {best.reference} covers {service} until {best.ends_on.isoformat()}"
        return EntitlementResult(Entitlement.COVERED, reason, requires_contract, best.reference)
    status, reason, reference = _uncovered(relevant, service=service, on=on)
    if not requires_contract:
        note = f"{service} does not require an AMC" + (f" ({reason})" if relevant else "")
        return EntitlementResult(Entitlement.NOT_REQUIRED, note, False, reference)
    return EntitlementResult(status, reason, True, reference)


def _uncovered(
    relevant: list[ContractView], *, service: str, on: date
) -> tuple[Entitlement, str, str | None]:
    ended = [c for c in relevant if c.state_on(on) == ContractState.EXPIRED]
    upcoming = [c for c in relevant if c.state_on(on) == ContractState.UPCOMING]
    later = min(upcoming, key=lambda c: c.starts_on) if upcoming else None
    starts = f"AMC {later.reference} starts on {later.starts_on.isoformat()}" if later else ""
    if ended:
        last = max(ended, key=lambda c: c.ends_on)
        reason = f"AMC {last.reference} expired on {last.ends_on.isoformat()}"
        return Entitlement.EXPIRED, f"{reason}; {starts}" if starts else reason, last.reference
    if starts:
        return Entitlement.MISSING, f"{starts}; not covered before then", None
    return Entitlement.MISSING, f"no AMC covers {service}", None


_REFERENCE = re.compile(r"^[A-Z0-9][A-Z0-9._/-]{0,39}$")
_SERVICE = re.compile(r"^[a-z0-9_-]{1,40}$")


def new_contract(
    *, reference: str, plan: str, services: Iterable[str], starts_on: date, ends_on: date
) -> ContractView:
    """A cleaned contract: reference upper-cased, plan trimmed, services de-duplicated."""
    ref = reference.strip().upper()
    if not _REFERENCE.match(ref):
        raise InvalidContract(
            "reference: 1-40 letters, digits, '.', '_', '/' or '-', starting with a letter or digit"
        )
    name = " ".join(plan.split())
    if not name or len(name) > 60:
        raise InvalidContract("plan: 1-60 characters")
    codes = tuple(sorted({s.strip().lower() for s in services}))
    if not codes:
        raise InvalidContract("services: a contract covers at least one service")
    for code in codes:
        if not _SERVICE.match(code):
            raise InvalidContract(f"services: {code!r} is not a service code")
    if ends_on < starts_on:
        raise InvalidContract(
            f"ends_on: {ends_on.isoformat()} is before starts_on {starts_on.isoformat()}"
        )
    return ContractView(ref, name, codes, starts_on, ends_on)
