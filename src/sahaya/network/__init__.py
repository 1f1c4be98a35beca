"""Franchise network: tenants, services, the State → District → Sub-District tree, franchisees,
executives, and the escalation chain that decides who rings for a customer."""

from sahaya.network import domain, services
from sahaya.network.repository import NetworkRepository
from sahaya.network.tables import ExecutiveRow, FranchiseeRow, NodeRow, ServiceRow, TenantRow

__all__ = [
    "ExecutiveRow",
    "FranchiseeRow",
    "NetworkRepository",
    "NodeRow",
    "ServiceRow",
    "TenantRow",
    "domain",
    "services",
]
