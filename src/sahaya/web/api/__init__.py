"""REST API under /api/v1."""

from sahaya.web.api import (
    app,
    auth,
    calendars,
    contracts,
    customers,
    inbox,
    network,
    queues,
    rca,
    tickets,
    triage,
    users,
    voice,
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
    voice.router,
    app.router,
)

__all__ = ["ROUTERS"]
