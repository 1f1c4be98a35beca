"""Queues per channel: how many tickets wait, and how each queue hands them out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, or_, select

from sahaya.access import Principal, Role
from sahaya.network import NodeRow
from sahaya.tickets import TicketRow, domain, routing
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import Caller, UoW, require

router = APIRouter(prefix=PREFIX, tags=["tickets"])


class QueueOut(BaseModel):
    channel: domain.Channel
    mode: domain.AssignMode
    waiting: int  # new or open, unassigned, in your part of the network
    active: int  # not resolved or closed


class QueueModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: domain.AssignMode


@router.get("/queues", response_model=list[QueueOut])
async def list_queues(uow: UoW, caller: Caller) -> list[QueueOut]:
    modes = await routing.modes(uow=uow, tenant_id=caller.tenant_id)
    scope = or_(NodeRow.path == caller.node_path, NodeRow.path.startswith(caller.node_path + "/"))
    counts = (
        await uow.session.execute(
            select(
                TicketRow.channel,
                func.count().filter(
                    TicketRow.assignee_id.is_(None), TicketRow.status.in_(("new", "open"))
                ),
                func.count(),
            )
            .join(NodeRow, NodeRow.id == TicketRow.node_id)
            .where(
                TicketRow.tenant_id == caller.tenant_id,
                scope,
                TicketRow.status.not_in(("resolved", "closed")),
            )
            .group_by(TicketRow.channel)
        )
    ).all()
    by_channel = {channel: (waiting, active) for channel, waiting, active in counts}
    return [
        QueueOut(
            channel=domain.Channel(channel),
            mode=domain.AssignMode(mode),
            waiting=by_channel.get(channel, (0, 0))[0],
            active=by_channel.get(channel, (0, 0))[1],
        )
        for channel, mode in modes.items()
    ]


@router.put("/queues/{channel}", response_model=QueueOut)
async def set_mode(
    channel: domain.Channel,
    body: QueueModeIn,
    uow: UoW,
    caller: Annotated[Principal, require(Role.ADMIN)],
) -> QueueOut:
    await routing.set_mode(uow=uow, tenant_id=caller.tenant_id, channel=channel, mode=body.mode)
    await uow.commit()
    return next(q for q in await list_queues(uow, caller) if q.channel == channel)
