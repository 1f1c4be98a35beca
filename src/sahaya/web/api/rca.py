"""Root-cause analyses owed by resolved critical tickets (seed 003)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from sahaya.sla import RcaFollowUpRow
from sahaya.tickets import rca
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import Caller, Now, UoW

router = APIRouter(prefix=PREFIX, tags=["tickets"])


class RcaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20000)


class RcaOut(BaseModel):
    due_at: datetime
    overdue: bool
    reminders: int
    filed_at: datetime | None
    filed_by: str | None
    text: str | None


def rca_out(row: RcaFollowUpRow, now: datetime) -> RcaOut:
    return RcaOut(
        due_at=row.due_at,
        overdue=row.filed_at is None and now > row.due_at,
        reminders=row.reminders,
        filed_at=row.filed_at,
        filed_by=row.filed_by,
        text=row.text,
    )


@router.get("/tickets/{number}/rca", response_model=RcaOut)
async def get_rca(number: str, uow: UoW, now: Now, caller: Caller) -> RcaOut:
    return rca_out(await rca.status(uow=uow, actor=caller, number=number), now)


@router.post("/tickets/{number}/rca", response_model=RcaOut)
async def file_rca(number: str, body: RcaIn, uow: UoW, now: Now, caller: Caller) -> RcaOut:
    row = await rca.file(uow=uow, actor=caller, number=number, text=body.text, now=now)
    await uow.commit()
    return rca_out(row, now)
