"""Provider webhooks under /webhooks: verify, dedupe, persist, decide, answer fast."""

from sahaya.web.webhooks import exotel

ROUTERS = (exotel.router,)

__all__ = ["ROUTERS"]
