"""Service levels: business calendars, SLA policies, deadline math with pauses, escalation ladders."""  # noqa: E501
