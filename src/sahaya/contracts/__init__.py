"""Maintenance contracts (AMC): contracts per customer, the entitlement check at ticket
intake, and which services require a contract before support proceeds."""

from sahaya.contracts import domain, services
from sahaya.contracts.domain import Entitlement, EntitlementResult
from sahaya.contracts.repository import ContractRepository
from sahaya.contracts.tables import ContractRequirementRow, ContractRow

__all__ = [
    "ContractRepository",
    "ContractRequirementRow",
    "ContractRow",
    "Entitlement",
    "EntitlementResult",
    "domain",
    "services",
]
