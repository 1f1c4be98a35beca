"""HTTP shapes of the messaging context."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class OutboxMessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    channel: str
    recipient: str
    subject: str
    template: str | None
    language: str
    state: str = Field(description="queued, sent, delivered, read or failed")
    kind: str = Field(description="text, template, buttons or media")
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a queued message is tried next")
    last_error: str | None
    provider_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None


class InboxItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    title: str
    body: str
    ticket_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None


class ConversationItemOut(BaseModel):
    """One message in a customer's history, either way, on any channel."""

    direction: str = Field(description="in (from the customer) or out (to them)")
    channel: str
    at: datetime
    text: str
    ticket_id: uuid.UUID | None
    state: str | None = Field(description="out: queued, sent, delivered, read or failed")
    outcome: str | None = Field(description="in: what Sahaya made of it (ticket_opened, …)")
