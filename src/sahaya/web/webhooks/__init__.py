"""Provider webhooks under /webhooks: verify, dedupe, persist, decide, answer fast."""

from sahaya.web.webhooks import exotel, sms, telegram, whatsapp

ROUTERS = (exotel.router, whatsapp.router, telegram.router, sms.router)

__all__ = ["ROUTERS"]
