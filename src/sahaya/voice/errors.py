"""Errors of the voice context."""

from __future__ import annotations

from sahaya.errors import Conflict, NotFound


class UnknownCallback(NotFound):
    slug = "unknown-callback"
    title = "Unknown callback request"


class CallbackNotOpen(Conflict):
    slug = "callback-not-open"
    title = "Callback request is not open"
