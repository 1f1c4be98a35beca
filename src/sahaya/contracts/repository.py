"""All queries of the maintenance-contract context."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.contracts.domain import ContractView
from sahaya.contracts.tables import ContractRequirementRow, ContractRow

# A customer's contracts, newest cover first, as one JSON array: read alone
# (`contract_views`) or inside another context's statement (tickets.repository's intake
# probe); `views_from_json` reads it back.
VIEWS_JSON = """
SELECT coalesce(json_agg(json_build_object(
         'reference', reference, 'plan', plan, 'services', services,
         'starts_on', starts_on, 'ends_on', ends_on) ORDER BY ends_on DESC, reference),
       '[]'::json)
FROM contracts WHERE tenant_id = %(tenant)s AND customer_id = %(customer)s"""


def views_from_json(items: list[dict[str, Any]]) -> list[ContractView]:
    return [
        ContractView(
            reference=i["reference"],
            plan=i["plan"],
            services=tuple(i["services"]),
            starts_on=date.fromisoformat(i["starts_on"]),
            ends_on=date.fromisoformat(i["ends_on"]),
        )
        for i in items
    ]


async def contract_views(
    driver: AsyncConnection, tenant_id: uuid.UUID, customer_id: uuid.UUID
) -> list[ContractView]:
    """A customer's contracts as the entitlement rule reads them, newest cover first; on the
    unit of work's psycopg connection, as every new ticket asks (ADR 0005)."""
    cursor = await driver.execute(
        VIEWS_JSON, {"tenant": tenant_id, "customer": customer_id}, prepare=True
    )
    row = await cursor.fetchone()
    return views_from_json(row[0] if row else [])


class ContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_customer(self, tenant_id: uuid.UUID, customer_id: uuid.UUID) -> list[ContractRow]:
        """A customer's contracts, newest cover first."""
        rows = await self.session.scalars(
            select(ContractRow)
            .where(ContractRow.tenant_id == tenant_id, ContractRow.customer_id == customer_id)
            .order_by(ContractRow.ends_on.desc(), ContractRow.reference)
        )
        return list(rows)

    async def reference_taken(self, tenant_id: uuid.UUID, reference: str) -> bool:
        found = await self.session.scalar(
            select(ContractRow.id).where(
                ContractRow.tenant_id == tenant_id, ContractRow.reference == reference
            )
        )
        return found is not None

    async def requires_contract(self, tenant_id: uuid.UUID, service_code: str) -> bool:
        required = await self.session.scalar(
            select(ContractRequirementRow.required).where(
                ContractRequirementRow.tenant_id == tenant_id,
                ContractRequirementRow.service_code == service_code,
            )
        )
        return bool(required)

    async def set_requirement(
        self, tenant_id: uuid.UUID, service_code: str, *, required: bool, now: datetime
    ) -> None:
        statement = insert(ContractRequirementRow).values(
            tenant_id=tenant_id, service_code=service_code, required=required, updated_at=now
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "service_code"],
                set_={"required": required, "updated_at": now},
            )
        )

    def add(self, row: object) -> None:
        self.session.add(row)
