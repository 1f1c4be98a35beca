"""Provider webhooks under /webhooks: verify, dedupe, persist, decide, answer fast."""

from sahaya.web.webhooks import exotel, whatsapp

ROUTERS = (exotel.router, whatsapp.router)

__all__ = ["ROUTERS"]
