"""Tickets: human numbers, threads of messages and notes, queues, statuses, assignment and
the audit trail."""

from sahaya.tickets import domain, intake, services
from sahaya.tickets.repository import TicketRepository
from sahaya.tickets.tables import TicketEntryRow, TicketEventRow, TicketRow

__all__ = [
    "TicketEntryRow",
    "TicketEventRow",
    "TicketRepository",
    "TicketRow",
    "domain",
    "intake",
    "services",
]
