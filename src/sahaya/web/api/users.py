"""Staff users, created by a supervisor or admin inside their own subtree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from sahaya.access import Principal, Role
from sahaya.access import services as access
from sahaya.access.repository import AccessRepository
from sahaya.access.schemas import UserIn, UserOut
from sahaya.network import services as network
from sahaya.network.errors import UnknownNode
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import UoW, require

router = APIRouter(prefix=PREFIX, tags=["access"])


@router.get("/users", response_model=list[UserOut])
async def list_users(
    uow: UoW, caller: Annotated[Principal, require(Role.SUPERVISOR)]
) -> list[UserOut]:
    rows = await AccessRepository(uow.session).users_in(caller.tenant_id, caller.node_path)
    return [
        UserOut(
            id=u.id,
            username=u.username,
            display_name=u.display_name,
            email=u.email,
            role=Role(u.role),
            node=n.path,
            executive_id=u.executive_id,
            active=u.active,
        )
        for u, n in rows
    ]


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(
    body: UserIn, uow: UoW, caller: Annotated[Principal, require(Role.SUPERVISOR)]
) -> UserOut:
    node = await network.node_or_raise(uow=uow, tenant_id=caller.tenant_id, ref=body.node)
    if not caller.sees(node.path):
        raise UnknownNode(f"no node {body.node!r}", field="node")
    access.check_grant(actor=caller, role=body.role, node=node)
    user = await access.create_user(
        uow=uow,
        tenant_id=caller.tenant_id,
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        node=node,
        password=body.password,
        email=body.email,
        executive_id=body.executive_id,
    )
    await uow.commit()
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        role=body.role,
        node=node.path,
        executive_id=user.executive_id,
        active=user.active,
    )
