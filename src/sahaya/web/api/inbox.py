"""The customer app's inbox, and the outbox of a ticket.

For now these are staff endpoints, scoped like the customer record (through
`customers.services.get`): an agent sees the inbox of customers in their part of the
network and nobody else's. The customer app will call the same paths with a customer token
once customer sign-in arrives (a later issue); the scoping then becomes "your own inbox".
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from sahaya.messaging import services as messaging
from sahaya.messaging.schemas import ConversationItemOut, InboxItemOut, OutboxMessageOut
from sahaya.tickets import services as tickets
from sahaya.web.api.prefix import PREFIX
from sahaya.web.deps import Caller, Now, UoW

router = APIRouter(prefix=PREFIX, tags=["messaging"])


@router.get("/customers/{customer_id}/inbox", response_model=list[InboxItemOut])
async def inbox(
    customer_id: uuid.UUID,
    uow: UoW,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[InboxItemOut]:
    """The customer's app inbox, newest first."""
    rows = await messaging.inbox(uow=uow, actor=caller, customer_id=customer_id, limit=limit)
    return [InboxItemOut.model_validate(r) for r in rows]


@router.post("/customers/{customer_id}/inbox/{item_id}/read", response_model=InboxItemOut)
async def mark_read(
    customer_id: uuid.UUID, item_id: uuid.UUID, uow: UoW, now: Now, caller: Caller
) -> InboxItemOut:
    """Mark an item read; repeating it keeps the first read time."""
    row = await messaging.mark_read(
        uow=uow, actor=caller, customer_id=customer_id, item_id=item_id, now=now
    )
    await uow.commit()
    return InboxItemOut.model_validate(row)


@router.get("/tickets/{number}/outbox", response_model=list[OutboxMessageOut])
async def ticket_outbox(number: str, uow: UoW, caller: Caller) -> list[OutboxMessageOut]:
    """Messages queued for the ticket: state, attempts, the last error and the next try."""
    ticket, _ = await tickets.get(uow=uow, actor=caller, number=number)
    rows = await messaging.outbox_for_ticket(uow=uow, ticket_id=ticket.id)
    return [OutboxMessageOut.model_validate(r) for r in rows]


@router.get("/customers/{customer_id}/conversation", response_model=list[ConversationItemOut])
async def conversation(
    customer_id: uuid.UUID,
    uow: UoW,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ConversationItemOut]:
    """The customer's messages both ways on every channel, newest first (the profile's
    conversation history)."""
    items = await messaging.history(uow=uow, actor=caller, customer_id=customer_id, limit=limit)
    return [ConversationItemOut.model_validate(i, from_attributes=True) for i in items]
