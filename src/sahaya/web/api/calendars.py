"""Business calendars for SLA clocks, attached to nodes of the tree (inherited downwards)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from sahaya.access import Principal, Role
from sahaya.network import NetworkRepository
from sahaya.network.repository import ancestor_paths
from sahaya.sla import CalendarRow, SlaRepository
from sahaya.sla import services as sla
from sahaya.sla.schemas import CalendarIn, CalendarOut, NodeCalendarIn, NodeCalendarOut
from sahaya.web.api.network import visible_node
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import Caller, Now, UoW, require

router = APIRouter(prefix=PREFIX, tags=["sla"])


def calendar_out(row: CalendarRow) -> CalendarOut:
    return CalendarOut(
        id=row.id,
        name=row.name,
        tz=row.tz,
        hours=row.hours,
        holiday_region=row.holiday_region,
        extra_holidays=list(row.extra_holidays),
    )


@router.get("/calendars", response_model=list[CalendarOut])
async def list_calendars(uow: UoW, caller: Caller) -> list[CalendarOut]:
    return [calendar_out(r) for r in await SlaRepository(uow.session).calendars(caller.tenant_id)]


@router.post("/calendars", response_model=CalendarOut, status_code=201)
async def create_calendar(
    body: CalendarIn, uow: UoW, now: Now, caller: Annotated[Principal, require(Role.ADMIN)]
) -> CalendarOut:
    row = await sla.create_calendar(
        uow=uow,
        tenant_id=caller.tenant_id,
        name=body.name,
        tz=body.tz,
        hours=body.hours,
        preset=body.preset,
        holiday_region=body.holiday_region,
        extra_holidays=body.extra_holidays,
        now=now,
    )
    await uow.commit()
    return calendar_out(row)


@router.put("/nodes/{node_id}/calendar", response_model=NodeCalendarOut)
async def attach_calendar(
    node_id: uuid.UUID,
    body: NodeCalendarIn,
    uow: UoW,
    caller: Annotated[Principal, require(Role.SUPERVISOR)],
) -> NodeCalendarOut:
    node = await visible_node(uow, caller, str(node_id))
    await sla.attach(
        uow=uow, tenant_id=caller.tenant_id, node_id=node.id, calendar_id=body.calendar_id
    )
    await uow.commit()
    return await node_calendar(node_id, uow, caller)


@router.get("/nodes/{node_id}/calendar", response_model=NodeCalendarOut)
async def node_calendar(node_id: uuid.UUID, uow: UoW, caller: Caller) -> NodeCalendarOut:
    """The calendar that applies at a node: its own, or the nearest ancestor's."""
    node = await visible_node(uow, caller, str(node_id))
    path = await NetworkRepository(uow.session).nodes_by_paths(
        caller.tenant_id, ancestor_paths(node.path)
    )
    nearest = sorted(path, key=lambda n: n.path.count("/"), reverse=True)
    repo = SlaRepository(uow.session)
    for candidate in nearest:
        attached = await repo.node_calendar(candidate.id)
        if attached is not None:
            row = await repo.calendar(caller.tenant_id, attached.calendar_id)
            assert row is not None  # noqa: S101 - foreign key
            return NodeCalendarOut(
                node=node.path, inherited_from=candidate.path, calendar=calendar_out(row)
            )
    return NodeCalendarOut(node=node.path, inherited_from=None, calendar=None)
