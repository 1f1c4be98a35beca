"""Use cases of the SLA context: business calendars and their place in the tree."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from types import MappingProxyType

from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.persistence import UnitOfWork
from sahaya.sla import calendars
from sahaya.sla.domain import BusinessCalendar, InvalidCalendar, Severity
from sahaya.sla.errors import InvalidCalendarData, UnknownCalendar
from sahaya.sla.repository import SlaRepository
from sahaya.sla.tables import CalendarRow, NodeCalendarRow, SeverityRuleRow

PRESETS: Mapping[str, dict[str, list[list[str]]]] = {
    "24x7": {d: [["00:00", "00:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "24x5": {d: [["00:00", "00:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "office": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")},
}


def as_calendar(row: CalendarRow, now: datetime) -> BusinessCalendar:
    try:
        return calendars.from_row(row, range(now.year - 1, now.year + 3))
    except (InvalidCalendar, ValueError) as exc:
        raise InvalidCalendarData(str(exc), field="hours") from None


async def create_calendar(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    name: str,
    tz: str,
    hours: Mapping[str, object] | None,
    preset: str | None,
    holiday_region: str | None,
    extra_holidays: Sequence[date],
    now: datetime,
) -> CalendarRow:
    if (hours is None) == (preset is None):
        raise InvalidCalendarData("give exactly one of hours or preset", field="hours")
    if preset is not None and preset not in PRESETS:
        raise InvalidCalendarData(f"preset: one of {', '.join(PRESETS)}", field="preset")
    row = CalendarRow(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=name.strip(),
        tz=tz,
        hours=dict(PRESETS[preset] if preset else hours or {}),
        holiday_region=holiday_region,
        extra_holidays=sorted(set(extra_holidays)),
        created_at=now,
    )
    as_calendar(row, now)  # validates hours, zone and holiday region
    SlaRepository(uow.session).add(row)
    await uow.flush()
    return row


async def attach(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, node_id: uuid.UUID, calendar_id: uuid.UUID | None
) -> None:
    """Attach a calendar to a node (its subtree inherits it); None detaches."""
    repo = SlaRepository(uow.session)
    existing = await repo.node_calendar(node_id)
    if calendar_id is None:
        if existing is not None:
            await uow.session.delete(existing)
        return
    if await repo.calendar(tenant_id, calendar_id) is None:
        raise UnknownCalendar(f"no calendar {calendar_id}", field="calendar_id")
    if existing is None:
        repo.add(NodeCalendarRow(node_id=node_id, tenant_id=tenant_id, calendar_id=calendar_id))
    else:
        existing.calendar_id = calendar_id


async def set_severity_rule(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, tag: str, severity: str | None
) -> None:
    """Map a tag (category) to a starting severity; None removes the rule."""
    tag = tag.strip().lower()
    if not tag or len(tag) > 60:
        raise InvalidCalendarData("tag: 1-60 characters", field="tag")
    existing = {r.tag: r for r in await SlaRepository(uow.session).severity_rules(tenant_id)}
    row = existing.get(tag)
    if severity is None:
        if row is not None:
            await uow.session.delete(row)
        return
    if row is None:
        SlaRepository(uow.session).add(
            SeverityRuleRow(id=uuid.uuid4(), tenant_id=tenant_id, tag=tag, severity=severity)
        )
    else:
        row.severity = severity


async def severity_by_tag(*, uow: UnitOfWork, tenant_id: uuid.UUID) -> Mapping[str, Severity]:
    """The tenant's category rules (tag → severity), from the per-process reference cache."""

    async def load(session: AsyncSession) -> Mapping[str, Severity]:
        rows = await SlaRepository(session).severity_rules(tenant_id)
        return MappingProxyType({r.tag: Severity(r.severity) for r in rows})

    return await uow.cached(("severity_rules", tenant_id), load)
