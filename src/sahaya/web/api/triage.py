"""A lead sets a ticket's severity (directly or from the impact share), with a reason."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from sahaya.sla.domain import Severity
from sahaya.tickets import services as tickets
from sahaya.tickets import triage
from sahaya.tickets.schemas import TicketOut
from sahaya.web.api.prefix import PREFIX
from sahaya.web.api.tickets import ticket_out
from sahaya.web.deps import Caller, Now, UoW

router = APIRouter(prefix=PREFIX, tags=["tickets"])


class SeverityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: Literal["minor", "major", "critical"] | None = None
    impact_share: float | None = Field(
        default=None, ge=0, le=1, description="Share of production affected, 0–1"
    )
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/tickets/{number}/severity", response_model=TicketOut)
async def set_severity(
    number: str, body: SeverityIn, uow: UoW, now: Now, caller: Caller
) -> TicketOut:
    await triage.set_severity(
        uow=uow,
        actor=caller,
        number=number,
        reason=body.reason,
        now=now,
        severity=Severity(body.severity) if body.severity else None,
        impact_share=body.impact_share,
    )
    await uow.commit()
    row, node = await tickets.get(uow=uow, actor=caller, number=number)
    return ticket_out(row, node)
