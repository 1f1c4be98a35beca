"""Service levels: business calendars, SLA policies, deadlines with pauses, escalation, RCA."""

from sahaya.sla import calendars, domain
from sahaya.sla.repository import SlaRepository
from sahaya.sla.tables import CalendarRow, NodeCalendarRow, RcaFollowUpRow, TicketClockRow

__all__ = [
    "CalendarRow",
    "NodeCalendarRow",
    "RcaFollowUpRow",
    "SlaRepository",
    "TicketClockRow",
    "calendars",
    "domain",
]
