"""All queries of the network context."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.network.tables import ExecutiveRow, FranchiseeRow, NodeRow, ServiceRow, TenantRow


def ancestor_paths(path: str) -> list[str]:
    """`a/b/c` → `["a", "a/b", "a/b/c"]`."""
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _parse_uuid(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


class NetworkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def tenant_by_slug(self, slug: str) -> TenantRow | None:
        return await self.session.scalar(select(TenantRow).where(TenantRow.slug == slug))

    async def services(self, tenant_id: uuid.UUID) -> list[ServiceRow]:
        rows = await self.session.scalars(
            select(ServiceRow).where(ServiceRow.tenant_id == tenant_id).order_by(ServiceRow.code)
        )
        return list(rows)

    async def service(self, tenant_id: uuid.UUID, code: str) -> ServiceRow | None:
        return await self.session.scalar(
            select(ServiceRow).where(ServiceRow.tenant_id == tenant_id, ServiceRow.code == code)
        )

    async def node(self, tenant_id: uuid.UUID, ref: str) -> NodeRow | None:
        """A node by id or by path (`kerala/ernakulam/kochi`)."""
        node_id = _parse_uuid(ref)
        condition = NodeRow.id == node_id if node_id else NodeRow.path == ref.strip("/").lower()
        return await self.session.scalar(
            select(NodeRow).where(NodeRow.tenant_id == tenant_id, condition)
        )

    async def node_by_id(self, tenant_id: uuid.UUID, node_id: uuid.UUID) -> NodeRow | None:
        return await self.session.scalar(
            select(NodeRow).where(NodeRow.tenant_id == tenant_id, NodeRow.id == node_id)
        )

    async def nodes_by_ids(self, node_ids: Iterable[uuid.UUID]) -> list[NodeRow]:
        rows = await self.session.scalars(select(NodeRow).where(NodeRow.id.in_(list(node_ids))))
        return list(rows)

    async def executive_emails(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        rows = await self.session.execute(
            select(ExecutiveRow.id, ExecutiveRow.email).where(
                ExecutiveRow.id.in_(list(ids)), ExecutiveRow.email.is_not(None)
            )
        )
        return {row[0]: row[1] for row in rows.all() if row[1]}

    async def nodes_by_paths(self, tenant_id: uuid.UUID, paths: Sequence[str]) -> list[NodeRow]:
        rows = await self.session.scalars(
            select(NodeRow).where(NodeRow.tenant_id == tenant_id, NodeRow.path.in_(paths))
        )
        return list(rows)

    async def node_count(self, tenant_id: uuid.UUID) -> int:
        found = await self.session.scalar(
            select(func.count()).select_from(NodeRow).where(NodeRow.tenant_id == tenant_id)
        )
        return int(found or 0)

    async def subtree(self, tenant_id: uuid.UUID, root_path: str) -> list[NodeRow]:
        rows = await self.session.scalars(
            select(NodeRow)
            .where(
                NodeRow.tenant_id == tenant_id,
                or_(NodeRow.path == root_path, NodeRow.path.startswith(root_path + "/")),
            )
            .order_by(NodeRow.path)
        )
        return list(rows)

    async def franchisee(self, tenant_id: uuid.UUID, ref: str) -> FranchiseeRow | None:
        franchisee_id = _parse_uuid(ref)
        if franchisee_id is None:
            return None
        return await self.session.scalar(
            select(FranchiseeRow).where(
                FranchiseeRow.tenant_id == tenant_id, FranchiseeRow.id == franchisee_id
            )
        )

    async def franchisees(self, ids: Sequence[uuid.UUID]) -> list[FranchiseeRow]:
        rows = await self.session.scalars(select(FranchiseeRow).where(FranchiseeRow.id.in_(ids)))
        return list(rows)

    async def nodes_of_franchisee(self, franchisee_id: uuid.UUID) -> list[NodeRow]:
        rows = await self.session.scalars(
            select(NodeRow).where(NodeRow.franchisee_id == franchisee_id).order_by(NodeRow.path)
        )
        return list(rows)

    async def executives_of(self, franchisee_ids: Sequence[uuid.UUID]) -> list[ExecutiveRow]:
        rows = await self.session.scalars(
            select(ExecutiveRow)
            .where(ExecutiveRow.franchisee_id.in_(franchisee_ids))
            .order_by(ExecutiveRow.franchisee_id, ExecutiveRow.rank)
        )
        return list(rows)

    async def executive(self, tenant_id: uuid.UUID, executive_id: uuid.UUID) -> ExecutiveRow | None:
        return await self.session.scalar(
            select(ExecutiveRow).where(
                ExecutiveRow.tenant_id == tenant_id, ExecutiveRow.id == executive_id
            )
        )

    async def executive_by_phone(self, tenant_id: uuid.UUID, phone: str) -> ExecutiveRow | None:
        return await self.session.scalar(
            select(ExecutiveRow).where(
                ExecutiveRow.tenant_id == tenant_id, ExecutiveRow.phone_e164 == phone
            )
        )

    async def executives_in_subtree(
        self, tenant_id: uuid.UUID, root_path: str
    ) -> list[tuple[ExecutiveRow, NodeRow]]:
        result = await self.session.execute(
            select(ExecutiveRow, NodeRow)
            .join(NodeRow, NodeRow.franchisee_id == ExecutiveRow.franchisee_id)
            .where(
                NodeRow.tenant_id == tenant_id,
                or_(NodeRow.path == root_path, NodeRow.path.startswith(root_path + "/")),
            )
            .order_by(NodeRow.path, ExecutiveRow.rank)
        )
        return [(row[0], row[1]) for row in result.all()]

    def add(self, row: object) -> None:
        self.session.add(row)
