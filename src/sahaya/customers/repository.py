"""All queries of the customer registry."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.customers.domain import CustomerCard
from sahaya.customers.tables import CustomerIdentityRow, CustomerRow, LinkTokenRow
from sahaya.network import NodeRow
from sahaya.persistence import Database


def _in_subtree(root_path: str) -> ColumnElement[bool]:
    return or_(NodeRow.path == root_path, NodeRow.path.startswith(root_path + "/"))


_CARDS_BY_PHONE = """
SELECT c.id, c.name, c.phone_e164, c.email, c.language, c.home_node_id, n.path AS home_node,
       c.verification, c.verified_at, c.verified_via, c.blocked, c.source, c.created_at,
       c.updated_at
FROM customers c JOIN nodes n ON n.id = c.home_node_id
WHERE c.tenant_id = %s AND c.phone_e164 = ANY(%s::text[])"""

PhoneKey = tuple[uuid.UUID, str]


async def card_by_phone(database: Database, tenant_id: uuid.UUID, e164: str) -> CustomerCard | None:
    """The hot read of the call gate and the lookup API: probes of the unique (tenant,
    phone) index on an autocommit psycopg connection (ADR 0005), with the lookups that
    arrive while one is in flight sharing the next query (persistence.batching)."""
    cards = database.batcher("customer-cards", functools.partial(_cards_by_phone, database))
    return await cards.get((tenant_id, e164))


async def _cards_by_phone(database: Database, keys: list[PhoneKey]) -> dict[PhoneKey, CustomerCard]:
    phones: dict[uuid.UUID, list[str]] = {}
    for tenant_id, e164 in keys:
        phones.setdefault(tenant_id, []).append(e164)
    found: dict[PhoneKey, CustomerCard] = {}
    async with database.reading() as connection:
        cursor = connection.cursor(row_factory=class_row(CustomerCard))
        for tenant_id, numbers in phones.items():
            await cursor.execute(_CARDS_BY_PHONE, (tenant_id, numbers), prepare=True)
            for card in await cursor.fetchall():
                found[(tenant_id, card.phone_e164)] = card
    return found


# A customer and their home node as `card_from_row` reads them back; also composed into
# another context's statement (tickets.fast_thread's claim reads the sender with it).
WITH_HOME = """
SELECT c.id, c.tenant_id, c.name, c.phone_e164, c.email, c.home_node_id, c.language,
       c.verification, c.verified_at, c.verified_via, c.blocked, c.source, c.external_ref,
       c.created_at, c.updated_at,
       n.id, n.tenant_id, n.parent_id, n.level, n.name, n.path, n.franchisee_id, n.created_at
FROM customers c JOIN nodes n ON n.id = c.home_node_id"""
_WITH_HOME = WITH_HOME + "\nWHERE c.tenant_id = %s AND "
_CUSTOMER = (
    "id", "tenant_id", "name", "phone_e164", "email", "home_node_id", "language",
    "verification", "verified_at", "verified_via", "blocked", "source", "external_ref",
    "created_at", "updated_at",
)  # fmt: skip
_NODE = ("id", "tenant_id", "parent_id", "level", "name", "path", "franchisee_id", "created_at")
_BY = {
    "phone": "c.phone_e164 = %s",
    "id": "c.id = %s",
    # value: (tenant, channel, external id) of a linked chat or WhatsApp number. Not
    # correlated with `c`: PostgreSQL reads the identity once, then the customer by key.
    "identity": """c.id = (SELECT customer_id FROM customer_identities
                WHERE tenant_id = %s AND channel = %s AND external_id = %s)""",
    # value: the identity's three, then (tenant, phone): the linked identity first, else
    # the phone — one round trip where the two lookups took two.
    "identity_or_phone": """c.id = COALESCE(
                (SELECT customer_id FROM customer_identities
                  WHERE tenant_id = %s AND channel = %s AND external_id = %s),
                (SELECT id FROM customers WHERE tenant_id = %s AND phone_e164 = %s))""",
}


async def with_home(
    driver: AsyncConnection, tenant_id: uuid.UUID, *, by: str, value: object
) -> tuple[CustomerRow, NodeRow] | None:
    """A customer and their home node `by` phone, id or linked identity, read on the unit of
    work's psycopg connection, as detached rows: for reading only (intake's hot path; ADR
    0005). Changes to them are not saved — use `CustomerRepository` for that."""
    params = (tenant_id, *value) if isinstance(value, tuple) else (tenant_id, value)
    cursor = await driver.execute(_WITH_HOME + _BY[by], params, prepare=True)
    row = await cursor.fetchone()
    return None if row is None else card_from_row(row)


def card_from_row(row: Sequence[Any]) -> tuple[CustomerRow, NodeRow]:
    """A `WITH_HOME` row as detached rows, for reading only."""
    split = len(_CUSTOMER)
    customer = CustomerRow.fresh(**dict(zip(_CUSTOMER, row[:split], strict=True)))
    node = NodeRow.fresh(**dict(zip(_NODE, row[split:], strict=True)))
    return customer, node


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _with_node(self) -> Select[CustomerRow, NodeRow]:
        return select(CustomerRow, NodeRow).join(NodeRow, NodeRow.id == CustomerRow.home_node_id)

    async def by_id(
        self, tenant_id: uuid.UUID, customer_id: uuid.UUID
    ) -> tuple[CustomerRow, NodeRow] | None:
        result = await self.session.execute(
            self._with_node().where(
                CustomerRow.tenant_id == tenant_id, CustomerRow.id == customer_id
            )
        )
        row = result.first()
        return None if row is None else (row[0], row[1])

    async def by_phone(self, tenant_id: uuid.UUID, e164: str) -> tuple[CustomerRow, NodeRow] | None:
        result = await self.session.execute(
            self._with_node().where(
                CustomerRow.tenant_id == tenant_id, CustomerRow.phone_e164 == e164
            )
        )
        row = result.first()
        return None if row is None else (row[0], row[1])

    async def search(
        self,
        *,
        tenant_id: uuid.UUID,
        root_path: str,
        text: str | None,
        after: uuid.UUID | None,
        limit: int,
    ) -> list[tuple[CustomerRow, NodeRow]]:
        query = self._with_node().where(CustomerRow.tenant_id == tenant_id, _in_subtree(root_path))
        if text:
            query = query.where(
                or_(
                    func.lower(CustomerRow.name).contains(text.lower(), autoescape=True),
                    CustomerRow.phone_e164.contains(text, autoescape=True),
                )
            )
        if after is not None:
            query = query.where(CustomerRow.id > after)
        result = await self.session.execute(query.order_by(CustomerRow.id).limit(limit))
        return [(row[0], row[1]) for row in result.all()]

    async def by_email(self, tenant_id: uuid.UUID, email: str) -> list[tuple[CustomerRow, NodeRow]]:
        """Customers with this (lower-cased) email; several can share one."""
        result = await self.session.execute(
            self._with_node()
            .where(CustomerRow.tenant_id == tenant_id, CustomerRow.email == email.strip().lower())
            .order_by(CustomerRow.created_at)
            .limit(5)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def identities(self, customer_id: uuid.UUID) -> list[CustomerIdentityRow]:
        rows = await self.session.scalars(
            select(CustomerIdentityRow)
            .where(CustomerIdentityRow.customer_id == customer_id)
            .order_by(CustomerIdentityRow.channel, CustomerIdentityRow.created_at)
        )
        return list(rows)

    async def identity(
        self, tenant_id: uuid.UUID, channel: str, external_id: str
    ) -> CustomerIdentityRow | None:
        return await self.session.scalar(
            select(CustomerIdentityRow).where(
                CustomerIdentityRow.tenant_id == tenant_id,
                CustomerIdentityRow.channel == channel,
                CustomerIdentityRow.external_id == external_id,
            )
        )

    async def phone_taken(self, tenant_id: uuid.UUID, e164: str) -> CustomerRow | None:
        return await self.session.scalar(
            select(CustomerRow).where(
                CustomerRow.tenant_id == tenant_id, CustomerRow.phone_e164 == e164
            )
        )

    async def spend_link_token(
        self, tenant_id: uuid.UUID, channel: str, token_hash: bytes, now: datetime
    ) -> uuid.UUID | None:
        """Guarded: a token is spent once, and only while it is valid."""
        return await self.session.scalar(
            update(LinkTokenRow)
            .where(
                LinkTokenRow.tenant_id == tenant_id,
                LinkTokenRow.channel == channel,
                LinkTokenRow.token_hash == token_hash,
                LinkTokenRow.used_at.is_(None),
                LinkTokenRow.expires_at > now,
            )
            .values(used_at=now)
            .returning(LinkTokenRow.customer_id)
        )

    async def upsert_identity(
        self,
        tenant_id: uuid.UUID,
        customer_id: uuid.UUID,
        channel: str,
        external_id: str,
        now: datetime,
    ) -> None:
        await self.session.execute(
            insert(CustomerIdentityRow)
            .values(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                customer_id=customer_id,
                channel=channel,
                external_id=external_id,
                created_at=now,
            )
            .on_conflict_do_update(
                index_elements=["tenant_id", "channel", "external_id"],
                set_={"customer_id": customer_id, "created_at": now},
            )
        )

    def add(self, row: object) -> None:
        self.session.add(row)

    async def delete(self, row: object) -> None:
        await self.session.delete(row)
