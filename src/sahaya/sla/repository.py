"""All queries of the SLA context."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.network.tables import NodeRow
from sahaya.sla.tables import CalendarRow, NodeCalendarRow, SeverityRuleRow, TicketClockRow


class SlaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def calendars_by_node_path(self, tenant_id: uuid.UUID) -> dict[str, CalendarRow]:
        """node path → the calendar attached to that node, for every node that has one."""
        rows = await self.session.execute(
            select(NodeRow.path, CalendarRow)
            .join(NodeCalendarRow, NodeCalendarRow.node_id == NodeRow.id)
            .join(CalendarRow, CalendarRow.id == NodeCalendarRow.calendar_id)
            .where(NodeRow.tenant_id == tenant_id)
        )
        return {row[0]: row[1] for row in rows.all()}

    async def calendar(self, tenant_id: uuid.UUID, calendar_id: uuid.UUID) -> CalendarRow | None:
        return await self.session.scalar(
            select(CalendarRow).where(
                CalendarRow.tenant_id == tenant_id, CalendarRow.id == calendar_id
            )
        )

    async def calendars(self, tenant_id: uuid.UUID) -> list[CalendarRow]:
        rows = await self.session.scalars(
            select(CalendarRow).where(CalendarRow.tenant_id == tenant_id).order_by(CalendarRow.name)
        )
        return list(rows)

    async def node_calendar(self, node_id: uuid.UUID) -> NodeCalendarRow | None:
        return await self.session.get(NodeCalendarRow, node_id)

    async def clock(self, ticket_id: uuid.UUID, *, lock: bool = False) -> TicketClockRow | None:
        query = select(TicketClockRow).where(TicketClockRow.ticket_id == ticket_id)
        if lock:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def severity_rules(self, tenant_id: uuid.UUID) -> list[SeverityRuleRow]:
        rows = await self.session.scalars(
            select(SeverityRuleRow)
            .where(SeverityRuleRow.tenant_id == tenant_id)
            .order_by(SeverityRuleRow.tag)
        )
        return list(rows)

    def add(self, row: object) -> None:
        self.session.add(row)
