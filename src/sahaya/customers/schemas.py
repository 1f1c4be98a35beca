"""HTTP shapes of the customer registry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sahaya.customers.domain import IdentityChannel


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    phone: str = Field(max_length=40, description="Any common format; stored as E.164")
    home_node: str = Field(description="Id or path of the customer's sub-district")
    email: str | None = Field(default=None, max_length=320)
    language: str | None = Field(default=None, description="en or ml")


class CustomerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    home_node: str | None = None
    email: str | None = Field(default=None, max_length=320)
    language: str | None = None
    blocked: bool | None = None


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: IdentityChannel
    external_id: str = Field(min_length=1, max_length=200)


class IdentityOut(BaseModel):
    channel: str
    external_id: str
    created_at: datetime


class CustomerOut(BaseModel):
    id: uuid.UUID
    name: str
    phone_e164: str
    email: str | None
    language: str
    home_node_id: uuid.UUID
    home_node: str
    verification: str
    verified_at: datetime | None
    verified_via: str | None
    blocked: bool
    source: str
    created_at: datetime
    updated_at: datetime
    identities: list[IdentityOut] | None = None


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    next_after: uuid.UUID | None = Field(description="Pass as `after` for the next page")


class LinkTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal[IdentityChannel.TELEGRAM] = IdentityChannel.TELEGRAM


class LinkTokenOut(BaseModel):
    token: str
    expires_at: datetime
    url: str | None = Field(description="The t.me deep link, when a Telegram bot is set up")
