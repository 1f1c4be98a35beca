"""REST API under /api/v1."""

from sahaya.web.api import (
    auth,
    calendars,
    callbacks,
    contracts,
    customers,
    inbox,
    network,
    queues,
    rca,
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
    inbox.router,
    queues.router,
    rca.router,
    callbacks.router,
)

__all__ = ["ROUTERS"]
