"""REST API under /api/v1."""

from fastapi import APIRouter

from sahaya.web.api import auth, customers, network, users

router = APIRouter(prefix="/api/v1")
router.include_router(auth.router)
router.include_router(users.router)
router.include_router(network.router)
router.include_router(customers.router)

__all__ = ["router"]
