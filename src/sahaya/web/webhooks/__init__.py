"""Provider webhooks under /webhooks: verify, dedupe, persist, decide, answer fast."""

from sahaya.web.webhooks import exotel, sms, telegram, whatsapp

_MODULES = (exotel, whatsapp, telegram, sms)
ROUTERS = tuple(module.router for module in _MODULES)
# What each provider's webhooks take, by path prefix (web.bodylimit enforces it).
BODY_LIMITS = tuple((f"{module.router.prefix}/", module.MAX_BODY) for module in _MODULES)

__all__ = ["BODY_LIMITS", "ROUTERS"]
