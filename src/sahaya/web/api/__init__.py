"""REST API under /api/v1."""

from sahaya.web.api import auth, customers, network, users

ROUTERS = (auth.router, users.router, network.router, customers.router)

__all__ = ["ROUTERS"]
