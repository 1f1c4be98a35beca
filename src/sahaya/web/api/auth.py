"""Logins, the caller's identity, and integration tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from sahaya.access import Principal, Role
from sahaya.access import services as access
from sahaya.access.schemas import LoginIn, MeOut, TokenIn, TokenOut
from sahaya.network import services as network
from sahaya.settings import Settings
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import Caller, Now, UoW, require, settings

router = APIRouter(prefix=PREFIX, tags=["access"])


@router.post("/auth/login", response_model=TokenOut)
async def login(
    body: LoginIn,
    request: Request,
    uow: UoW,
    now: Now,
    config: Annotated[Settings, Depends(settings)],
) -> TokenOut:
    issued, user = await access.login(
        uow=uow,
        tenant_id=request.app.state.tenant_id,
        username=body.username,
        password=body.password,
        now=now,
        lifetime=timedelta(hours=config.session_hours),
    )
    node = await network.node_or_raise(uow=uow, tenant_id=user.tenant_id, ref=str(user.node_id))
    await uow.commit()
    return TokenOut(
        token=issued.token,
        token_id=issued.row.id,
        role=Role(user.role),
        node=node.path,
        expires_at=issued.row.expires_at,
    )


@router.post("/auth/logout", status_code=204)
async def logout(request: Request, caller: Caller, uow: UoW, now: Now) -> None:
    token = request.headers["authorization"][7:].strip()
    await access.revoke_token(uow=uow, token=token, now=now)
    await uow.commit()
    request.app.state.principals.clear()


@router.get("/me", response_model=MeOut)
async def me(caller: Caller) -> MeOut:
    return MeOut(
        name=caller.name,
        role=caller.role,
        node_id=caller.node_id,
        node=caller.node_path,
        user_id=caller.user_id,
        executive_id=caller.executive_id,
    )


@router.post("/tokens", response_model=TokenOut, status_code=201)
async def create_token(
    body: TokenIn,
    uow: UoW,
    now: Now,
    caller: Annotated[Principal, require(Role.SUPERVISOR)],
) -> TokenOut:
    node = await network.node_or_raise(
        uow=uow, tenant_id=caller.tenant_id, ref=body.node or str(caller.node_id)
    )
    access.check_grant(actor=caller, role=body.role, node=node)
    issued = await access.issue_token(
        uow=uow, tenant_id=caller.tenant_id, name=body.name, role=body.role, node=node, now=now
    )
    await uow.commit()
    return TokenOut(
        token=issued.token, token_id=issued.row.id, role=body.role, node=node.path, expires_at=None
    )
