"""Errors of the SLA context."""

from __future__ import annotations

from sahaya.errors import Invalid, NotFound


class InvalidCalendarData(Invalid):
    slug = "invalid-calendar"
    title = "Invalid business calendar"


class UnknownCalendar(NotFound):
    slug = "unknown-calendar"
    title = "Unknown calendar"
