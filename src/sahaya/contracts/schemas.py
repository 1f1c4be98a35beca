"""HTTP shapes of the maintenance-contract context."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from sahaya.contracts.domain import ContractState, Entitlement


class ContractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=1, max_length=40, description="Unique, e.g. GOLD-2026")
    plan: str = Field(min_length=1, max_length=60, description="e.g. gold, silver")
    services: list[str] = Field(min_length=1, max_length=20, description="Service codes")
    starts_on: date
    ends_on: date = Field(description="Last covered day (inclusive)")


class ContractOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    reference: str
    plan: str
    services: list[str]
    starts_on: date
    ends_on: date
    state: ContractState = Field(description="As of today in Asia/Kolkata")
    created_at: datetime


class EntitlementOut(BaseModel):
    service: str
    entitlement: Entitlement
    reason: str
    requires_contract: bool
    reference: str | None
    needs_approval: bool


class RequirementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required: bool


class RequirementOut(BaseModel):
    service: str
    required: bool


class DecisionIn(BaseModel):
    """Sales/management's answer on a ticket waiting for a contract exception."""

    model_config = ConfigDict(extra="forbid")
    approve: bool
    reason: str = Field(min_length=1, max_length=2000)
