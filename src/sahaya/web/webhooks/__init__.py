"""Provider webhooks under /webhooks: verify, dedupe, persist, decide, answer fast."""

from sahaya.web.webhooks import exotel, telegram, whatsapp

ROUTERS = (exotel.router, whatsapp.router, telegram.router)

__all__ = ["ROUTERS"]
