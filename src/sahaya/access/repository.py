"""All queries of the access context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.access.tables import ApiTokenRow, UserRow
from sahaya.network import NodeRow


class AccessRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user_by_username(self, tenant_id: uuid.UUID, username: str) -> UserRow | None:
        return await self.session.scalar(
            select(UserRow).where(UserRow.tenant_id == tenant_id, UserRow.username == username)
        )

    async def users_in(self, tenant_id: uuid.UUID, root_path: str) -> list[tuple[UserRow, NodeRow]]:
        result = await self.session.execute(
            select(UserRow, NodeRow)
            .join(NodeRow, NodeRow.id == UserRow.node_id)
            .where(
                UserRow.tenant_id == tenant_id,
                (NodeRow.path == root_path) | NodeRow.path.startswith(root_path + "/"),
            )
            .order_by(UserRow.username)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def supervisor_emails_by_node(
        self, node_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[str]]:
        """Emails of active supervisors bound to each of these nodes (a ticket's leads are
        those of its node and every node above it)."""
        rows = await self.session.execute(
            select(UserRow.node_id, UserRow.email).where(
                UserRow.node_id.in_(node_ids),
                UserRow.role == "supervisor",
                UserRow.active.is_(True),
                UserRow.email.is_not(None),
            )
        )
        found: dict[uuid.UUID, list[str]] = {}
        for node_id, email in rows.all():
            if email:
                found.setdefault(node_id, []).append(email)
        return found

    async def token_with_scope(
        self, token_hash: bytes
    ) -> tuple[ApiTokenRow, NodeRow, UserRow | None] | None:
        result = await self.session.execute(
            select(ApiTokenRow, NodeRow, UserRow)
            .join(NodeRow, NodeRow.id == ApiTokenRow.node_id)
            .outerjoin(UserRow, UserRow.id == ApiTokenRow.user_id)
            .where(ApiTokenRow.token_hash == token_hash)
        )
        row = result.first()
        return None if row is None else (row[0], row[1], row[2])

    def add(self, row: object) -> None:
        self.session.add(row)
