"""Who may do what: roles, and the rule that staff see only their node's subtree."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"

    @property
    def weight(self) -> int:
        return {"agent": 1, "supervisor": 2, "admin": 3}[self.value]


def in_subtree(path: str, root: str) -> bool:
    """True when `path` is `root` or below it (paths are slash-joined slugs)."""
    return path == root or path.startswith(root + "/")


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request, resolved from a bearer token."""

    tenant_id: uuid.UUID
    role: Role
    node_id: uuid.UUID
    node_path: str
    token_id: uuid.UUID
    user_id: uuid.UUID | None = None
    executive_id: uuid.UUID | None = None
    name: str = ""
    expires_at: datetime | None = None

    def sees(self, path: str) -> bool:
        return in_subtree(path, self.node_path)

    def at_least(self, role: Role) -> bool:
        return self.role.weight >= role.weight
