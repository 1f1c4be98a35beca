"""Customer registry: register, look up by any phone format, update, link channel identities."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from sahaya.customers import CustomerRepository, CustomerRow
from sahaya.customers import services as customers
from sahaya.customers.domain import IdentityChannel
from sahaya.customers.schemas import (
    CustomerIn,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    IdentityIn,
    IdentityOut,
    LinkTokenIn,
    LinkTokenOut,
)
from sahaya.messaging import accounts, inbound
from sahaya.network import NodeRow
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import Caller, Now, UoW, caller_of
from sahaya.web.hotlane import HOT

router = APIRouter(prefix=PREFIX, tags=["customers"])


def customer_out(
    row: CustomerRow, node: NodeRow, identities: list[IdentityOut] | None = None
) -> CustomerOut:
    return CustomerOut(
        id=row.id,
        name=row.name,
        phone_e164=row.phone_e164,
        email=row.email,
        language=row.language,
        home_node_id=row.home_node_id,
        home_node=node.path,
        verification=row.verification,
        verified_at=row.verified_at,
        verified_via=row.verified_via,
        blocked=row.blocked,
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
        identities=identities,
    )


async def _identities(uow: UoW, customer_id: uuid.UUID) -> list[IdentityOut]:
    rows = await CustomerRepository(uow.session).identities(customer_id)
    return [
        IdentityOut(channel=r.channel, external_id=r.external_id, created_at=r.created_at)
        for r in rows
    ]


@router.get("/customers", response_model=CustomerPage)
async def list_customers(
    uow: UoW,
    caller: Caller,
    q: Annotated[str | None, Query(max_length=100, description="Part of a name or number")] = None,
    after: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CustomerPage:
    rows = await CustomerRepository(uow.session).search(
        tenant_id=caller.tenant_id, root_path=caller.node_path, text=q, after=after, limit=limit
    )
    items = [customer_out(c, n) for c, n in rows]
    return CustomerPage(items=items, next_after=items[-1].id if len(items) == limit else None)


LOOKUP_PHONE = {
    "name": "phone",
    "in": "query",
    "required": True,
    "description": "Any common format",
    "schema": {"type": "string", "minLength": 1, "maxLength": 40},
}


@HOT.route(
    router,
    "GET",
    "/customers/lookup",
    response_model=CustomerOut,
    openapi_extra={"parameters": [LOOKUP_PHONE]},
)
async def lookup(request: Request) -> Response:
    """Find the customer who owns a phone number, written any common way. On the hot lane
    (the call gate's own lookup): a plain handler, no dependency solving."""
    caller = await caller_of(request)  # first: a stranger learns nothing, not even a 422
    phone = request.query_params.get("phone")
    if phone is None or not 1 <= len(phone) <= 40:
        raise RequestValidationError(
            [{"loc": ("query", "phone"), "msg": "give 1 to 40 characters", "type": "phone"}]
        )
    card = await customers.lookup_by_phone(
        database=request.app.state.database, actor=caller, phone=phone
    )
    body = CustomerOut.model_validate(card, from_attributes=True).model_dump_json()
    return Response(body, media_type="application/json")


@router.post("/customers", response_model=CustomerOut, status_code=201)
async def register(
    body: CustomerIn, uow: UoW, now: Now, caller: Caller, response: Response
) -> CustomerOut:
    row, node = await customers.register(
        uow=uow,
        actor=caller,
        name=body.name,
        phone=body.phone,
        home_node_ref=body.home_node,
        email=body.email,
        language=body.language,
        now=now,
    )
    await uow.commit()
    response.headers["Location"] = f"/api/v1/customers/{row.id}"
    return customer_out(row, node, [])


@router.get("/customers/{customer_id}", response_model=CustomerOut)
async def get_customer(customer_id: uuid.UUID, uow: UoW, caller: Caller) -> CustomerOut:
    row, node = await customers.get(uow=uow, actor=caller, customer_id=customer_id)
    return customer_out(row, node, await _identities(uow, row.id))


@router.patch("/customers/{customer_id}", response_model=CustomerOut)
async def patch_customer(
    customer_id: uuid.UUID, body: CustomerPatch, uow: UoW, now: Now, caller: Caller
) -> CustomerOut:
    changes = body.model_dump(exclude_unset=True)
    old_phone = None
    if "phone" in changes:
        current, _ = await customers.get(uow=uow, actor=caller, customer_id=customer_id)
        old_phone = current.phone_e164
    row, node = await customers.update(
        uow=uow, actor=caller, customer_id=customer_id, changes=changes, now=now
    )
    if old_phone is not None and row.phone_e164 != old_phone:  # chats known by the old number
        await inbound.forget_phone_chats(uow=uow, customer_id=row.id)
    await uow.commit()
    return customer_out(row, node, await _identities(uow, row.id))


@router.post("/customers/{customer_id}/identities", response_model=IdentityOut, status_code=201)
async def link_identity(
    customer_id: uuid.UUID, body: IdentityIn, uow: UoW, now: Now, caller: Caller
) -> IdentityOut:
    row = await customers.link_identity(
        uow=uow,
        actor=caller,
        customer_id=customer_id,
        channel=body.channel,
        external_id=body.external_id,
        now=now,
    )
    await uow.commit()
    return IdentityOut(channel=row.channel, external_id=row.external_id, created_at=row.created_at)


@router.delete("/customers/{customer_id}/identities/{channel}/{external_id}", status_code=204)
async def unlink_identity(
    customer_id: uuid.UUID,
    channel: IdentityChannel,
    external_id: str,
    uow: UoW,
    caller: Caller,
) -> None:
    await customers.unlink_identity(
        uow=uow, actor=caller, customer_id=customer_id, channel=channel, external_id=external_id
    )
    await uow.commit()


@router.post("/customers/{customer_id}/link-tokens", response_model=LinkTokenOut, status_code=201)
async def issue_link_token(
    customer_id: uuid.UUID, body: LinkTokenIn, uow: UoW, now: Now, caller: Caller
) -> LinkTokenOut:
    """A one-time deep link that links the customer's Telegram chat (send it to them over a
    channel already theirs: SMS, WhatsApp, the app). Valid for 24 hours."""
    token, expires = await customers.issue_link_token(
        uow=uow, actor=caller, customer_id=customer_id, channel=body.channel, now=now
    )
    bots = [
        a
        for a in await accounts.list_accounts(uow=uow, tenant_id=caller.tenant_id)
        if a.channel == body.channel.value and a.active
    ]
    await uow.commit()
    url = f"https://t.me/{bots[0].address}?start={token}" if bots else None
    return LinkTokenOut(token=token, expires_at=expires, url=url)
