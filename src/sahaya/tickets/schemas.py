"""HTTP shapes of the ticketing context."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sahaya.tickets.domain import Channel, Status


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(min_length=3, max_length=120)
    data: str = Field(description="The file, base64-encoded")


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: uuid.UUID | None = None
    phone: str | None = Field(default=None, description="Instead of customer_id, any format")
    service: str = "apnafood"
    channel: Channel = Channel.API
    subject: str = Field(min_length=1, max_length=300)
    message: str = Field(min_length=1, max_length=100_000)
    severity: Literal["minor", "major", "critical"] | None = None
    tags: list[str] = Field(default_factory=list, max_length=20)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)


class TicketOut(BaseModel):
    id: uuid.UUID
    number: str
    customer_id: uuid.UUID | None
    service: str
    channel: str
    node: str
    subject: str
    severity: str
    status: str
    assignee_id: uuid.UUID | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    entitlement: str | None = Field(
        default=None, description="AMC check at intake: covered, expired, missing, not_required"
    )
    entitlement_note: str | None = None
    approval: str = Field(
        default="not_needed",
        description="Contract exception: not_needed, pending, approved or declined",
    )
    approval_reason: str | None = None
    threaded: bool = Field(default=False, description="The message joined an open ticket")


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class TemplateIn(BaseModel):
    """An approved provider template (a WhatsApp message template): what reaches a customer
    outside a channel's reply window."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$", description="As approved at the provider")
    language: str = Field(
        pattern=r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$", description="Its approved language, e.g. en_US"
    )
    parameters: list[Annotated[str, Field(min_length=1, max_length=1024)]] = Field(
        default_factory=list, max_length=20, description="The body's {{1}}, {{2}}, … in order"
    )

    @field_validator("parameters")
    @classmethod
    def _one_line(cls, value: list[str]) -> list[str]:
        """WhatsApp refuses these for good (error 132018): refused here, while the agent waits."""
        for index, text in enumerate(value):
            if "\n" in text or "\t" in text or "     " in text:
                raise ValueError(
                    f"parameter {index + 1} has a line break, a tab or more than 4 spaces in a row"
                )
        return value


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["agent_reply", "internal_note"]
    # Required, except for a reply that is a template (the template is its text).
    body: str | None = Field(default=None, min_length=1, max_length=100_000)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)
    # A reply goes back on the ticket's channel unless the agent picks another.
    channel: Literal["whatsapp", "telegram", "sms", "email", "app"] | None = None
    template: TemplateIn | None = None


class EntryOut(BaseModel):
    id: uuid.UUID
    kind: str
    author: str
    body: str
    created_at: datetime


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status
    reason: str | None = Field(default=None, max_length=2000)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    executive_id: uuid.UUID


class EventOut(BaseModel):
    actor: str
    action: str
    changes: dict[str, Any]
    created_at: datetime


class AttachmentOut(BaseModel):
    id: uuid.UUID
    entry_id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
