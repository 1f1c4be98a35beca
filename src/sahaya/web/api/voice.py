"""Voice settings and work: callback requests (customers who could not get through, per node,
oldest first; a person can have one placed now — automatic callback is
`SAHAYA_VOICE_AUTO_CALLBACK`) and call timing per node, inherited down the tree."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from sahaya.access import Principal, Role
from sahaya.customers import CustomerRow
from sahaya.network import NodeRow
from sahaya.settings import Settings
from sahaya.voice import CallbackRequestRow, callbacks
from sahaya.voice import services as voice
from sahaya.voice.config import voice_config
from sahaya.web.api.network import visible_node
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import Caller, Now, UoW, require
from sahaya.web.deps import settings as settings_dependency

router = APIRouter(prefix=PREFIX, tags=["voice"])

SettingsDep = Annotated[Settings, Depends(settings_dependency)]
Status = Literal["pending", "dialling", "completed", "failed", "cancelled"]


class CallbackOut(BaseModel):
    id: uuid.UUID
    status: str
    node: str
    customer_id: uuid.UUID
    customer_name: str
    phone: str
    service: str
    attempts: int
    auto: bool
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None


def callback_out(row: CallbackRequestRow, node: NodeRow, customer: CustomerRow) -> CallbackOut:
    return CallbackOut(
        id=row.id,
        status=row.status,
        node=node.path,
        customer_id=customer.id,
        customer_name=customer.name,
        phone=customer.phone_e164,
        service=row.service_code,
        attempts=row.attempts,
        auto=row.auto,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


@router.get("/callbacks", response_model=list[CallbackOut])
async def list_callbacks(
    uow: UoW,
    caller: Caller,
    node: Annotated[str | None, Query(description="A node path inside your scope")] = None,
    status: Annotated[list[Status] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CallbackOut]:
    """Callback requests inside your subtree (or `node`), oldest first; open ones by default."""
    found = await voice.callbacks(
        uow=uow,
        actor=caller,
        node_path=node,
        statuses=tuple(status or ("pending", "dialling")),
        limit=limit,
    )
    return [callback_out(*item) for item in found]


@router.post("/callbacks/{callback_id}/call", response_model=CallbackOut, status_code=202)
async def call_back_now(callback_id: uuid.UUID, uow: UoW, caller: Caller, now: Now) -> CallbackOut:
    """Place this callback at the worker's next sweep (within seconds)."""
    row = await callbacks.request_now(uow=uow, actor=caller, callback_id=callback_id, now=now)
    node = await uow.session.get(NodeRow, row.node_id)
    customer = await uow.session.get(CustomerRow, row.customer_id)
    assert node is not None  # noqa: S101 - foreign key
    assert customer is not None  # noqa: S101 - foreign key
    await uow.commit()
    return callback_out(row, node, customer)


class TimingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ring_seconds: int | None = Field(default=None, ge=5, le=120)
    budget_seconds: int | None = Field(default=None, ge=5, le=900)


class TimingOut(BaseModel):
    node: str
    ring_seconds: int
    budget_seconds: int
    set_at: str | None = Field(description="The node whose setting applies; null: the default")


async def _timing(uow: UoW, node: NodeRow, settings: Settings) -> TimingOut:
    found = await voice.effective_timing(uow=uow, node=node, config=voice_config(settings))
    return TimingOut(**asdict(found))


@router.get("/nodes/{node_id}/call-timing", response_model=TimingOut)
async def get_call_timing(
    node_id: uuid.UUID, uow: UoW, caller: Caller, settings: SettingsDep
) -> TimingOut:
    """How long each executive rings and how long a call may ring in all, for calls of this
    node's customers: the nearest node's own setting, else the install's default."""
    return await _timing(uow, await visible_node(uow, caller, str(node_id)), settings)


@router.put("/nodes/{node_id}/call-timing", response_model=TimingOut)
async def put_call_timing(
    node_id: uuid.UUID,
    body: TimingIn,
    uow: UoW,
    now: Now,
    settings: SettingsDep,
    caller: Annotated[Principal, require(Role.SUPERVISOR)],
) -> TimingOut:
    """Set this node's own timing (its subtree inherits it); both fields null: inherit."""
    node = await visible_node(uow, caller, str(node_id))
    await voice.set_timing(
        uow=uow,
        node=node,
        ring_seconds=body.ring_seconds,
        budget_seconds=body.budget_seconds,
        now=now,
    )
    await uow.commit()
    return await _timing(uow, node, settings)


class PresenceOut(BaseModel):
    executive_id: uuid.UUID
    name: str
    rank: int
    node: str
    phone: str
    availability: str
    on_call: bool


@router.get("/presence", response_model=list[PresenceOut])
async def presence(
    uow: UoW,
    caller: Caller,
    now: Now,
    settings: SettingsDep,
    node: Annotated[str | None, Query(description="A node path inside your scope")] = None,
) -> list[PresenceOut]:
    """Executives in your subtree: availability, and whether they are on a call now (from the
    call records: offered a call that has not ended)."""
    found = await voice.presence(
        uow=uow, actor=caller, node_path=node, now=now, config=voice_config(settings)
    )
    return [PresenceOut(**asdict(p)) for p in found]
