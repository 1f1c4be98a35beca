"""Service levels: business calendars, SLA policies, deadline math with pauses, escalation ladders."""  # noqa: E501

from sahaya.sla import calendars, domain
from sahaya.sla.repository import SlaRepository
from sahaya.sla.tables import CalendarRow, NodeCalendarRow, TicketClockRow

__all__ = [
    "CalendarRow",
    "NodeCalendarRow",
    "SlaRepository",
    "TicketClockRow",
    "calendars",
    "domain",
]
