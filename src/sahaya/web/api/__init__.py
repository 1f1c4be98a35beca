"""REST API under /api/v1."""

from sahaya.web.api import (
    auth,
    calendars,
    contracts,
    customers,
    network,
    queues,
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
    queues.router,
)

__all__ = ["ROUTERS"]
