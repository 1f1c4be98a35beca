"""Callback requests: customers who could not get through, per node, oldest first; a person
can have one placed now (automatic callback is `SAHAYA_VOICE_AUTO_CALLBACK`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from sahaya.customers import CustomerRow
from sahaya.network import NodeRow
from sahaya.voice import CallbackRequestRow, callbacks
from sahaya.voice import services as voice
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import Caller, Now, UoW

router = APIRouter(prefix=PREFIX, tags=["voice"])

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
