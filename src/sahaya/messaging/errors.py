"""Errors of the messaging context."""

from __future__ import annotations

from sahaya.errors import NotFound


class UnknownInboxItem(NotFound):
    slug = "unknown-inbox-item"
    title = "Unknown inbox item"
