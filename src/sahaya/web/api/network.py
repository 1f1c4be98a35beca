"""Franchise network: services, nodes, franchisees, executives and the escalation chain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from sahaya.access import Principal, Role
from sahaya.access.errors import NotAllowed
from sahaya.network import ExecutiveRow, NetworkRepository, NodeRow
from sahaya.network import services as network
from sahaya.network.errors import InvalidNetworkChange, UnknownExecutive, UnknownNode
from sahaya.network.schemas import (
    AvailabilityIn,
    ChainOut,
    ChainStepOut,
    ExecutiveIn,
    ExecutiveOut,
    ExecutivePatch,
    FranchiseeIn,
    FranchiseeOut,
    NodeIn,
    NodeOut,
    ServiceOut,
    ServicePatch,
)
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import Caller, Now, UoW, require
from sahaya.web.phones import phone_or_invalid

router = APIRouter(prefix=PREFIX, tags=["network"])


def _node_out(row: NodeRow) -> NodeOut:
    return NodeOut(
        id=row.id,
        name=row.name,
        level=row.level,
        path=row.path,
        parent_id=row.parent_id,
        franchisee_id=row.franchisee_id,
    )


def _executive_out(row: ExecutiveRow, now: datetime) -> ExecutiveOut:
    view = network.executive_view(row)
    return ExecutiveOut(
        id=row.id,
        franchisee_id=row.franchisee_id,
        name=row.name,
        rank=row.rank,
        phone_e164=row.phone_e164,
        email=row.email,
        services=list(row.services),
        working_hours=row.working_hours,
        timezone=row.timezone,
        availability=view.availability,
        availability_changed_at=row.availability_changed_at,
        on_shift=view.hours.is_on_shift(now),
        support_tier=row.support_tier,
    )


async def visible_node(uow: UoW, caller: Principal, ref: str, field: str = "node") -> NodeRow:
    node = await NetworkRepository(uow.session).node(caller.tenant_id, ref)
    if node is None or not caller.sees(node.path):
        raise UnknownNode(f"no node {ref!r} in your part of the network", field=field)
    return node


async def _visible_executive(uow: UoW, caller: Principal, executive_id: uuid.UUID) -> ExecutiveRow:
    row = await network.executive_or_raise(
        uow=uow, tenant_id=caller.tenant_id, executive_id=executive_id
    )
    nodes = await NetworkRepository(uow.session).nodes_of_franchisee(row.franchisee_id)
    if not any(caller.sees(n.path) for n in nodes):
        raise UnknownExecutive(f"no executive {executive_id}")
    return row


@router.get("/services", response_model=list[ServiceOut])
async def list_services(uow: UoW, caller: Caller) -> list[ServiceOut]:
    rows = await NetworkRepository(uow.session).services(caller.tenant_id)
    return [ServiceOut(code=r.code, name=r.name, active=r.active) for r in rows]


@router.patch("/services/{code}", response_model=ServiceOut)
async def patch_service(
    code: str, body: ServicePatch, uow: UoW, caller: Annotated[Principal, require(Role.ADMIN)]
) -> ServiceOut:
    row = await network.set_service_active(
        uow=uow, tenant_id=caller.tenant_id, code=code, active=body.active
    )
    await uow.commit()
    return ServiceOut(code=row.code, name=row.name, active=row.active)


@router.get("/nodes", response_model=list[NodeOut])
async def list_nodes(
    uow: UoW,
    caller: Caller,
    under: Annotated[str | None, Query(description="Id or path; default: your node")] = None,
) -> list[NodeOut]:
    root = await visible_node(uow, caller, under, "under") if under else None
    rows = await NetworkRepository(uow.session).subtree(
        caller.tenant_id, root.path if root else caller.node_path
    )
    return [_node_out(r) for r in rows]


@router.get("/nodes/{node_id}", response_model=NodeOut)
async def get_node(node_id: uuid.UUID, uow: UoW, caller: Caller) -> NodeOut:
    return _node_out(await visible_node(uow, caller, str(node_id)))


@router.post("/nodes", response_model=NodeOut, status_code=201)
async def create_node(
    body: NodeIn, uow: UoW, caller: Annotated[Principal, require(Role.ADMIN)]
) -> NodeOut:
    parent = await visible_node(uow, caller, body.parent, "parent") if body.parent else None
    if parent is None and caller.node_path.count("/") > 0:
        raise NotAllowed("only an admin at the state node can add a state")
    row = await network.add_node(uow=uow, tenant_id=caller.tenant_id, name=body.name, parent=parent)
    await uow.commit()
    return _node_out(row)


@router.get("/escalation-chain", response_model=ChainOut)
async def escalation_chain(
    request: Request,
    uow: UoW,
    now: Now,
    caller: Caller,
    node: Annotated[str, Query(description="The customer's sub-district (id or path)")],
    service: str = "apnafood",
    at: Annotated[datetime | None, Query(description="When (ISO 8601 with offset)")] = None,
) -> ChainOut:
    """Who would ring, in order, for a customer of `node` — with why each executive was kept
    or skipped."""
    row = await visible_node(uow, caller, node)
    when = at or now
    if when.tzinfo is None:
        raise InvalidNetworkChange("at: give a time zone offset, e.g. 2026-11-23T10:00+05:30")
    chain = await network.escalation_chain(
        uow=uow, node=row, service=service, now=when, depth=request.app.state.chain_depth
    )
    return ChainOut(
        node=row.path,
        service=service,
        at=when,
        dial=[e.phone_e164 for e in chain.dial_list],
        steps=[
            ChainStepOut(
                executive_id=s.executive.id,
                name=s.executive.name,
                phone_e164=s.executive.phone_e164,
                node=s.node.name,
                level=s.level.value,
                rank=s.executive.rank,
                kept=s.kept,
                position=s.position,
                skip=s.skip.value if s.skip else None,
                reason=s.reason,
            )
            for s in chain.steps
        ],
        gaps=list(chain.gaps),
    )


@router.post("/franchisees", response_model=FranchiseeOut, status_code=201)
async def create_franchisee(
    body: FranchiseeIn, uow: UoW, caller: Annotated[Principal, require(Role.SUPERVISOR)]
) -> FranchiseeOut:
    nodes = [await visible_node(uow, caller, ref, "nodes") for ref in body.nodes]
    row = await network.create_franchisee(
        uow=uow,
        tenant_id=caller.tenant_id,
        name=body.name,
        nodes=nodes,
        phone_e164=phone_or_invalid(body.phone) if body.phone else None,
        email=body.email,
    )
    await uow.commit()
    return FranchiseeOut(
        id=row.id,
        name=row.name,
        phone_e164=row.phone_e164,
        email=row.email,
        nodes=[n.path for n in nodes],
    )


@router.get("/franchisees", response_model=list[FranchiseeOut])
async def list_franchisees(uow: UoW, caller: Caller) -> list[FranchiseeOut]:
    """Franchisees owning a node in your part of the network, with the nodes they own."""
    repo = NetworkRepository(uow.session)
    owned: dict[uuid.UUID, list[str]] = {}
    for node in await repo.subtree(caller.tenant_id, caller.node_path):
        if node.franchisee_id is not None:
            owned.setdefault(node.franchisee_id, []).append(node.path)
    rows = await repo.franchisees(list(owned))
    return [
        FranchiseeOut(
            id=r.id, name=r.name, phone_e164=r.phone_e164, email=r.email, nodes=owned[r.id]
        )
        for r in sorted(rows, key=lambda r: owned[r.id][0])
    ]


@router.get("/executives", response_model=list[ExecutiveOut])
async def list_executives(
    uow: UoW,
    now: Now,
    caller: Caller,
    node: Annotated[str | None, Query(description="Id or path; default: your node")] = None,
) -> list[ExecutiveOut]:
    root = await visible_node(uow, caller, node) if node else None
    pairs = await NetworkRepository(uow.session).executives_in_subtree(
        caller.tenant_id, root.path if root else caller.node_path
    )
    seen: set[uuid.UUID] = set()
    out = []
    for executive, _ in pairs:
        if executive.id not in seen:
            seen.add(executive.id)
            out.append(_executive_out(executive, now))
    return out


@router.post("/executives", response_model=ExecutiveOut, status_code=201)
async def create_executive(
    body: ExecutiveIn, uow: UoW, now: Now, caller: Annotated[Principal, require(Role.SUPERVISOR)]
) -> ExecutiveOut:
    repo = NetworkRepository(uow.session)
    owned = await repo.nodes_of_franchisee(body.franchisee_id)
    if not any(caller.sees(n.path) for n in owned):
        raise UnknownNode(
            f"no franchisee {body.franchisee_id} in your part of the network", field="franchisee_id"
        )
    row = await network.add_executive(
        uow=uow,
        tenant_id=caller.tenant_id,
        franchisee_id=body.franchisee_id,
        data=network.ExecutiveInput(
            name=body.name,
            rank=body.rank,
            phone_e164=phone_or_invalid(body.phone),
            email=body.email,
            services=body.services,
            working_hours=body.working_hours,
            timezone=body.timezone,
            availability=body.availability,
            support_tier=body.support_tier,
        ),
        now=now,
    )
    await uow.commit()
    return _executive_out(row, now)


@router.get("/executives/{executive_id}", response_model=ExecutiveOut)
async def get_executive(
    executive_id: uuid.UUID, uow: UoW, now: Now, caller: Caller
) -> ExecutiveOut:
    return _executive_out(await _visible_executive(uow, caller, executive_id), now)


@router.patch("/executives/{executive_id}", response_model=ExecutiveOut)
async def patch_executive(
    executive_id: uuid.UUID,
    body: ExecutivePatch,
    uow: UoW,
    now: Now,
    caller: Annotated[Principal, require(Role.SUPERVISOR)],
) -> ExecutiveOut:
    row = await _visible_executive(uow, caller, executive_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if "phone" in changes:
        changes["phone_e164"] = phone_or_invalid(changes.pop("phone"))
    await network.update_executive(uow=uow, executive=row, changes=changes)
    await uow.commit()
    return _executive_out(row, now)


@router.put("/executives/{executive_id}/availability", response_model=ExecutiveOut)
async def set_availability(
    executive_id: uuid.UUID, body: AvailabilityIn, uow: UoW, now: Now, caller: Caller
) -> ExecutiveOut:
    """Supervisors set anyone in their subtree; an agent only the executive they are."""
    row = await _visible_executive(uow, caller, executive_id)
    if not caller.at_least(Role.SUPERVISOR) and caller.executive_id != row.id:
        raise NotAllowed("agents may change only their own availability")
    await network.set_availability(uow=uow, executive=row, state=body.state, now=now)
    await uow.commit()
    return _executive_out(row, now)


@router.get("/executives/{executive_id}/screen-pops", response_class=StreamingResponse)
async def screen_pops(
    executive_id: uuid.UUID, request: Request, uow: UoW, caller: Caller
) -> StreamingResponse:
    """Server-Sent Events: a `screen-pop` event (the caller's card and open tickets) each
    time this executive's phone is offered a call. Supervisors may watch anyone in their
    subtree; an agent only the executive they are."""
    row = await _visible_executive(uow, caller, executive_id)
    if not caller.at_least(Role.SUPERVISOR) and caller.executive_id != row.id:
        raise NotAllowed("agents may watch only their own screen-pops")
    return StreamingResponse(
        request.app.state.screen_pops.stream(row.id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
