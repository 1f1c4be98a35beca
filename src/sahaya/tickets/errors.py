"""Errors of the ticketing context."""

from __future__ import annotations

from sahaya.errors import Conflict, Invalid, NotFound


class UnknownTicket(NotFound):
    slug = "unknown-ticket"
    title = "Unknown ticket"


class IllegalTicketMove(Conflict):
    slug = "illegal-transition"
    title = "That status change is not allowed"


class InvalidTicket(Invalid):
    slug = "invalid-ticket"
    title = "Invalid ticket"
