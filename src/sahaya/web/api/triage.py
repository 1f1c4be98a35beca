"""A lead sets a ticket's severity (directly or from the impact share), with a reason."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from sahaya.access import Principal, Role
from sahaya.sla import SlaRepository
from sahaya.sla import services as sla
from sahaya.sla.domain import Severity
from sahaya.tickets import services as tickets
from sahaya.tickets import triage
from sahaya.tickets.schemas import TicketOut
from sahaya.web.api.prefix import PREFIX
from sahaya.web.api.tickets import ticket_out
from sahaya.web.deps import Caller, Now, UoW, require

router = APIRouter(prefix=PREFIX, tags=["tickets"])


class SeverityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: Literal["minor", "major", "critical"] | None = None
    impact_share: float | None = Field(
        default=None, ge=0, le=1, description="Share of production affected, 0–1"
    )
    reason: str = Field(min_length=1, max_length=2000)


class SeverityRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: Literal["minor", "major", "critical"]


class SeverityRuleOut(BaseModel):
    tag: str
    severity: str


@router.get("/severity-rules", response_model=list[SeverityRuleOut])
async def list_rules(uow: UoW, caller: Caller) -> list[SeverityRuleOut]:
    """Category rules: a ticket tagged with `tag` starts at `severity`."""
    rows = await SlaRepository(uow.session).severity_rules(caller.tenant_id)
    return [SeverityRuleOut(tag=r.tag, severity=r.severity) for r in rows]


@router.put("/severity-rules/{tag}", response_model=list[SeverityRuleOut])
async def put_rule(
    tag: str, body: SeverityRuleIn, uow: UoW, caller: Annotated[Principal, require(Role.ADMIN)]
) -> list[SeverityRuleOut]:
    await sla.set_severity_rule(
        uow=uow, tenant_id=caller.tenant_id, tag=tag, severity=body.severity
    )
    await uow.commit()
    return await list_rules(uow, caller)


@router.delete("/severity-rules/{tag}", status_code=204)
async def delete_rule(
    tag: str, uow: UoW, caller: Annotated[Principal, require(Role.ADMIN)]
) -> None:
    await sla.set_severity_rule(uow=uow, tenant_id=caller.tenant_id, tag=tag, severity=None)
    await uow.commit()


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
