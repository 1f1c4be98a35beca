"""REST API under /api/v1."""

from sahaya.web.api import auth, customers, network, tickets, users

ROUTERS = (auth.router, users.router, network.router, customers.router, tickets.router)

__all__ = ["ROUTERS"]
