"""Errors of the maintenance-contract context."""

from __future__ import annotations

from sahaya.errors import Conflict, Invalid


class InvalidContractData(Invalid):
    slug = "invalid-contract"
    title = "Invalid maintenance contract"


class DuplicateContract(Conflict):
    slug = "duplicate-contract"
    title = "Contract reference already used"
