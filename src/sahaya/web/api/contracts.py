"""Maintenance contracts (AMC): record and list a customer's contracts, check their
entitlement, and decide which services require a contract."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from sahaya.access import Principal, Role
from sahaya.contracts import ContractRow, domain
from sahaya.contracts import services as contracts
from sahaya.contracts.schemas import (
    ContractIn,
    ContractOut,
    EntitlementOut,
    RequirementIn,
    RequirementOut,
)
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import Caller, Now, UoW, require

router = APIRouter(prefix=PREFIX, tags=["contracts"])


def contract_out(row: ContractRow, today: date) -> ContractOut:
    return ContractOut(
        id=row.id,
        customer_id=row.customer_id,
        reference=row.reference,
        plan=row.plan,
        services=list(row.services),
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        state=contracts.view(row).state_on(today),
        created_at=row.created_at,
    )


@router.post("/customers/{customer_id}/contracts", response_model=ContractOut, status_code=201)
async def create_contract(
    customer_id: uuid.UUID, body: ContractIn, uow: UoW, now: Now, caller: Caller, response: Response
) -> ContractOut:
    """Record an AMC for a customer you can see (supervisors and admins)."""
    row = await contracts.create(
        uow=uow,
        actor=caller,
        customer_id=customer_id,
        reference=body.reference,
        plan=body.plan,
        services=body.services,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        now=now,
    )
    await uow.commit()
    response.headers["Location"] = f"{PREFIX}/customers/{customer_id}/contracts"
    return contract_out(row, domain.local_day(now))


@router.get("/customers/{customer_id}/contracts", response_model=list[ContractOut])
async def list_contracts(
    customer_id: uuid.UUID, uow: UoW, now: Now, caller: Caller
) -> list[ContractOut]:
    """A customer's contracts, latest end date first, each with its state as of today."""
    rows = await contracts.for_customer(uow=uow, actor=caller, customer_id=customer_id)
    today = domain.local_day(now)
    return [contract_out(r, today) for r in rows]


@router.get("/customers/{customer_id}/entitlement", response_model=EntitlementOut)
async def entitlement(
    customer_id: uuid.UUID,
    uow: UoW,
    now: Now,
    caller: Caller,
    service: Annotated[str, Query(min_length=1, max_length=40)] = "apnafood",
) -> EntitlementOut:
    """The AMC check a new ticket would record today (seed 004, step 5)."""
    result = await contracts.entitlement_for(
        uow=uow,
        actor=caller,
        customer_id=customer_id,
        service_code=service,
        today=domain.local_day(now),
    )
    return EntitlementOut(
        service=service,
        entitlement=result.entitlement,
        reason=result.reason,
        requires_contract=result.requires_contract,
        reference=result.reference,
        needs_approval=result.needs_approval,
    )


@router.get("/services/{code}/contract-requirement", response_model=RequirementOut)
async def get_requirement(code: str, uow: UoW, caller: Caller) -> RequirementOut:
    required = await contracts.requires_contract(uow=uow, actor=caller, service_code=code)
    return RequirementOut(service=code, required=required)


@router.put("/services/{code}/contract-requirement", response_model=RequirementOut)
async def set_requirement(
    code: str,
    body: RequirementIn,
    uow: UoW,
    now: Now,
    caller: Annotated[Principal, require(Role.ADMIN)],
) -> RequirementOut:
    """Whether tickets for this service need an active AMC (else a management exception)."""
    required = await contracts.set_requirement(
        uow=uow, actor=caller, service_code=code, required=body.required, now=now
    )
    await uow.commit()
    return RequirementOut(service=code, required=required)
