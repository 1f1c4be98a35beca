"""HTTP shapes of the access context."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from sahaya.access.domain import Role


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    token: str = Field(description="Shown once; send as `Authorization: Bearer <token>`")
    token_id: uuid.UUID
    role: Role
    node: str
    expires_at: datetime | None


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    role: Role
    node: str | None = Field(default=None, description="Id or path; defaults to yours")


class MeOut(BaseModel):
    name: str
    role: Role
    node_id: uuid.UUID
    node: str
    user_id: uuid.UUID | None
    executive_id: uuid.UUID | None


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=80)
    display_name: str = Field(min_length=1, max_length=200)
    role: Role
    node: str
    password: str = Field(min_length=10, max_length=200)
    email: EmailStr | None = None
    executive_id: uuid.UUID | None = None


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    email: str | None
    role: Role
    node: str
    executive_id: uuid.UUID | None
    active: bool
