"""Service levels: business calendars, SLA policies, deadlines with pauses, escalation, RCA."""

from sahaya.sla import calendars, domain
from sahaya.sla.repository import SlaRepository
from sahaya.sla.tables import (
    CalendarRow,
    NodeCalendarRow,
    RcaFollowUpRow,
    SeverityRuleRow,
    TicketClockRow,
)

__all__ = [
    "CalendarRow",
    "NodeCalendarRow",
    "RcaFollowUpRow",
    "SeverityRuleRow",
    "SlaRepository",
    "TicketClockRow",
    "calendars",
    "domain",
]
