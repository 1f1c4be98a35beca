"""Base classes for errors the web layer turns into RFC 9457 problems.

Each context raises exceptions named for what went wrong (`DuplicatePhone`, `UnknownNode`)
that subclass one of these; the HTTP layer only needs to know the family.
"""

from __future__ import annotations


class SahayaError(Exception):
    """An expected failure with a message fit to show to the caller."""

    slug = "error"
    title = "Request failed"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(SahayaError):
    slug = "not-found"
    title = "Not found"


class Conflict(SahayaError):
    slug = "conflict"
    title = "Conflict"


class Invalid(SahayaError):
    slug = "invalid"
    title = "Invalid request"


class Forbidden(SahayaError):
    slug = "forbidden"
    title = "Forbidden"


class Unauthenticated(SahayaError):
    slug = "unauthenticated"
    title = "Authentication required"


class TooManyRequests(SahayaError):
    """A rate limit; `retry_after` seconds until the caller may try again."""

    slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(detail, field=field)
        self.retry_after = max(1, retry_after)


class Unavailable(SahayaError):
    """Something this request needs is not set up or not reachable now."""

    slug = "unavailable"
    title = "Service unavailable"
