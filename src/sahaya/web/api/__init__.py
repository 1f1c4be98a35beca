"""REST API under /api/v1."""

from sahaya.web.api import (
    auth,
    calendars,
    contracts,
    customers,
    network,
    tickets,
    triage,
    users,
)

ROUTERS = (
    auth.router,
    users.router,
    network.router,
    customers.router,
    contracts.router,
    tickets.router,
    calendars.router,
    triage.router,
)

__all__ = ["ROUTERS"]
