"""All queries of the SLA context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.sla.tables import CalendarRow, NodeCalendarRow, SeverityRuleRow, TicketClockRow


class SlaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def nearest_calendar(
        self, tenant_id: uuid.UUID, node_ids_nearest_first: Sequence[uuid.UUID]
    ) -> CalendarRow | None:
        """The calendar attached to the nearest of the given nodes (inheritance down the tree)."""
        rows = (
            await self.session.execute(
                select(NodeCalendarRow.node_id, CalendarRow)
                .join(CalendarRow, CalendarRow.id == NodeCalendarRow.calendar_id)
                .where(
                    NodeCalendarRow.tenant_id == tenant_id,
                    NodeCalendarRow.node_id.in_(node_ids_nearest_first),
                )
            )
        ).all()
        by_node = {row[0]: row[1] for row in rows}
        return next((by_node[n] for n in node_ids_nearest_first if n in by_node), None)

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

    async def due_clocks(self, now: datetime, limit: int) -> list[TicketClockRow]:
        """Clocks with something to fire, locked; rows another worker holds are skipped."""
        rows = await self.session.scalars(
            select(TicketClockRow)
            .where(TicketClockRow.next_fire_at <= now)
            .order_by(TicketClockRow.next_fire_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def severity_rules(self, tenant_id: uuid.UUID) -> list[SeverityRuleRow]:
        rows = await self.session.scalars(
            select(SeverityRuleRow)
            .where(SeverityRuleRow.tenant_id == tenant_id)
            .order_by(SeverityRuleRow.tag)
        )
        return list(rows)

    def add(self, row: object) -> None:
        self.session.add(row)
