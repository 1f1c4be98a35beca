"""Errors of the voice context."""

from __future__ import annotations

from sahaya.errors import Conflict, Invalid, NotFound


class UnknownCallback(NotFound):
    slug = "unknown-callback"
    title = "Unknown callback request"


class CallbackNotOpen(Conflict):
    slug = "callback-not-open"
    title = "Callback request is not open"


class InvalidTiming(Invalid):
    slug = "invalid-timing"
    title = "Invalid call timing"
