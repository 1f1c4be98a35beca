"""REST API under /api/v1."""

from sahaya.web.api import auth, calendars, customers, network, tickets, triage, users

ROUTERS = (
    auth.router,
    users.router,
    network.router,
    customers.router,
    tickets.router,
    calendars.router,
    triage.router,
)

__all__ = ["ROUTERS"]
