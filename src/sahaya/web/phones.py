"""Phone parsing at the HTTP edge, reported as a precise 422."""

from __future__ import annotations

from sahaya.customers import services as customers


def phone_or_invalid(raw: str, field: str = "phone") -> str:
    return customers.normalise_phone(raw, field=field)
