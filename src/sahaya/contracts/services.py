"""Use cases of the maintenance-contract context. Keyword-only, time passed in, no commits.

Contracts are read and written through the customer they belong to, so the customer
registry's subtree rule decides who sees them (a customer outside it is unknown).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sahaya.access import Principal, Role
from sahaya.access.errors import NotAllowed
from sahaya.contracts import domain
from sahaya.contracts.errors import DuplicateContract, InvalidContractData
from sahaya.contracts.repository import ContractRepository, contract_views
from sahaya.contracts.tables import ContractRow
from sahaya.customers import services as customers
from sahaya.network import NetworkRepository
from sahaya.network.errors import UnknownService
from sahaya.persistence import UnitOfWork


def view(row: ContractRow) -> domain.ContractView:
    return domain.ContractView(
        reference=row.reference,
        plan=row.plan,
        services=tuple(row.services),
        starts_on=row.starts_on,
        ends_on=row.ends_on,
    )


async def create(
    *,
    uow: UnitOfWork,
    actor: Principal,
    customer_id: uuid.UUID,
    reference: str,
    plan: str,
    services: Sequence[str],
    starts_on: date,
    ends_on: date,
    now: datetime,
) -> ContractRow:
    """Record a customer's AMC. Leads and admins do this (sales hands the contract over)."""
    if not actor.at_least(Role.SUPERVISOR):
        raise NotAllowed("only a supervisor or admin records maintenance contracts")
    customer, _ = await customers.get(uow=uow, actor=actor, customer_id=customer_id)
    try:
        clean = domain.new_contract(
            reference=reference, plan=plan, services=services, starts_on=starts_on, ends_on=ends_on
        )
    except domain.InvalidContract as exc:
        raise InvalidContractData(str(exc), field=str(exc).split(":", 1)[0]) from None
    network = NetworkRepository(uow.session)
    for code in clean.services:
        if await network.service(actor.tenant_id, code) is None:
            raise UnknownService(f"no service {code!r}", field="services")
    repo = ContractRepository(uow.session)
    if await repo.reference_taken(actor.tenant_id, clean.reference):
        raise DuplicateContract(
            f"contract {clean.reference} is already recorded", field="reference"
        )
    row = ContractRow(
        id=uuid.uuid4(),
        tenant_id=actor.tenant_id,
        customer_id=customer.id,
        reference=clean.reference,
        plan=clean.plan,
        services=list(clean.services),
        starts_on=clean.starts_on,
        ends_on=clean.ends_on,
        created_at=now,
    )
    repo.add(row)
    await uow.flush()
    return row


async def for_customer(
    *, uow: UnitOfWork, actor: Principal, customer_id: uuid.UUID
) -> list[ContractRow]:
    customer, _ = await customers.get(uow=uow, actor=actor, customer_id=customer_id)
    return await ContractRepository(uow.session).for_customer(actor.tenant_id, customer.id)


async def requires_contract(*, uow: UnitOfWork, actor: Principal, service_code: str) -> bool:
    if await NetworkRepository(uow.session).service(actor.tenant_id, service_code) is None:
        raise UnknownService(f"no service {service_code!r}", field="code")
    return await ContractRepository(uow.session).requires_contract(actor.tenant_id, service_code)


async def set_requirement(
    *, uow: UnitOfWork, actor: Principal, service_code: str, required: bool, now: datetime
) -> bool:
    """Admins decide which services need an active AMC before support proceeds."""
    if actor.role != Role.ADMIN:
        raise NotAllowed("only an admin decides which services require a contract")
    if await NetworkRepository(uow.session).service(actor.tenant_id, service_code) is None:
        raise UnknownService(f"no service {service_code!r}", field="code")
    await ContractRepository(uow.session).set_requirement(
        actor.tenant_id, service_code, required=required, now=now
    )
    return required


async def check_at_intake(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    customer_id: uuid.UUID,
    service_code: str,
    today: date,
    views: list[domain.ContractView] | None = None,
) -> domain.EntitlementResult:
    """The entitlement a new ticket records (seed 004, step 5: AMC status validation).
    `views`: the customer's contracts, when the caller has read them already."""
    if views is None:
        views = await contract_views(await uow.driver(), tenant_id, customer_id)
    required = await uow.cached(
        ("contract_required", tenant_id, service_code),
        lambda session: ContractRepository(session).requires_contract(tenant_id, service_code),
    )
    return domain.entitlement(views, service=service_code, on=today, requires_contract=required)


async def entitlement_for(
    *, uow: UnitOfWork, actor: Principal, customer_id: uuid.UUID, service_code: str, today: date
) -> domain.EntitlementResult:
    """The check a new ticket would record, for a customer and service the actor can see."""
    customer, _ = await customers.get(uow=uow, actor=actor, customer_id=customer_id)
    await requires_contract(uow=uow, actor=actor, service_code=service_code)
    return await check_at_intake(
        uow=uow,
        tenant_id=actor.tenant_id,
        customer_id=customer.id,
        service_code=service_code,
        today=today,
    )
