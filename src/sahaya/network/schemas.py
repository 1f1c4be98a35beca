"""HTTP shapes of the network context."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from sahaya.network.domain import Availability


class ServiceOut(BaseModel):
    code: str
    name: str
    active: bool


class ServicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


class NodeOut(BaseModel):
    id: uuid.UUID
    name: str
    level: str
    path: str
    parent_id: uuid.UUID | None
    franchisee_id: uuid.UUID | None


class NodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    parent: str | None = Field(default=None, description="Parent node id or path; none = state")


class FranchiseeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    nodes: list[str] = Field(min_length=1, description="Ids or paths of the nodes it owns")
    phone: str | None = None
    email: EmailStr | None = None


class FranchiseeOut(BaseModel):
    id: uuid.UUID
    name: str
    phone_e164: str | None
    email: str | None
    nodes: list[str]


class ExecutiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    franchisee_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    rank: int = Field(ge=1, le=99)
    phone: str
    email: EmailStr | None = None
    services: list[str] = Field(min_length=1)
    working_hours: dict[str, Any] = Field(
        description='Weekly hours, e.g. {"mon": [["09:00", "18:00"]], ...}'
    )
    timezone: str = "Asia/Kolkata"
    availability: Availability = Availability.AVAILABLE
    support_tier: Literal["L1", "L2", "L3"] | None = None


class ExecutivePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    rank: int | None = Field(default=None, ge=1, le=99)
    phone: str | None = None
    email: EmailStr | None = None
    services: list[str] | None = Field(default=None, min_length=1)
    working_hours: dict[str, Any] | None = None
    timezone: str | None = None
    support_tier: Literal["L1", "L2", "L3"] | None = None


class AvailabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Availability


class ExecutiveOut(BaseModel):
    id: uuid.UUID
    franchisee_id: uuid.UUID
    name: str
    rank: int
    phone_e164: str
    email: str | None
    services: list[str]
    working_hours: dict[str, Any]
    timezone: str
    availability: Availability
    availability_changed_at: datetime
    on_shift: bool
    support_tier: str | None


class ChainStepOut(BaseModel):
    executive_id: uuid.UUID
    name: str
    phone_e164: str
    node: str
    level: str
    rank: int
    kept: bool
    position: int | None
    skip: str | None
    reason: str


class ChainOut(BaseModel):
    node: str
    service: str
    at: datetime
    dial: list[str] = Field(description="Phone numbers in ringing order")
    steps: list[ChainStepOut]
    gaps: list[str]
