"""Use cases of the customer registry. Every read and write is checked against the caller's
subtree; a customer outside it is reported as unknown, not forbidden, so staff cannot probe
which numbers are registered elsewhere."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sahaya.access import Principal
from sahaya.customers import domain
from sahaya.customers.domain import CustomerCard
from sahaya.customers.errors import (
    DuplicateIdentity,
    DuplicatePhone,
    InvalidCustomerData,
    InvalidHomeNode,
    UnknownCustomer,
)
from sahaya.customers.phones import InvalidPhone, to_e164
from sahaya.customers.repository import CustomerRepository, card_by_phone
from sahaya.customers.tables import CustomerIdentityRow, CustomerRow, LinkTokenRow
from sahaya.network import NetworkRepository, NodeRow
from sahaya.persistence import Database, UnitOfWork


def normalise_phone(raw: str, *, field: str = "phone") -> str:
    try:
        return to_e164(raw)
    except InvalidPhone as exc:
        raise InvalidCustomerData(str(exc), field=field) from None


def _clean(fn: Any, value: Any, field: str) -> Any:
    try:
        return fn(value)
    except domain.InvalidCustomer as exc:
        raise InvalidCustomerData(str(exc), field=field) from None


async def home_node(*, uow: UnitOfWork, actor: Principal, ref: str) -> NodeRow:
    node = await NetworkRepository(uow.session).node(actor.tenant_id, ref)
    if node is None or not actor.sees(node.path):
        raise InvalidHomeNode(
            f"no sub-district {ref!r} in your part of the network", field="home_node"
        )
    if node.level != "sub_district":
        raise InvalidHomeNode(
            f"{node.path!r} is a {node.level.replace('_', '-')}; "
            "a customer's home is a sub-district",
            field="home_node",
        )
    return node


async def register(
    *,
    uow: UnitOfWork,
    actor: Principal,
    name: str,
    phone: str,
    home_node_ref: str,
    email: str | None,
    language: str | None,
    now: datetime,
    source: str = "api",
) -> tuple[CustomerRow, NodeRow]:
    phone_e164 = normalise_phone(phone)
    node = await home_node(uow=uow, actor=actor, ref=home_node_ref)
    repo = CustomerRepository(uow.session)
    if await repo.phone_taken(actor.tenant_id, phone_e164) is not None:
        raise DuplicatePhone(
            f"{phone_e164} is already registered to another customer", field="phone"
        )
    row = CustomerRow(
        id=uuid.uuid4(),
        tenant_id=actor.tenant_id,
        name=_clean(domain.clean_name, name, "name"),
        phone_e164=phone_e164,
        email=_clean(domain.clean_email, email, "email"),
        home_node_id=node.id,
        language=_clean(domain.clean_language, language, "language").value,
        verification=domain.Verification.UNVERIFIED.value,
        blocked=False,
        source=source,
        created_at=now,
        updated_at=now,
    )
    repo.add(row)
    await uow.flush()
    return row, node


async def get(
    *, uow: UnitOfWork, actor: Principal, customer_id: uuid.UUID
) -> tuple[CustomerRow, NodeRow]:
    found = await CustomerRepository(uow.session).by_id(actor.tenant_id, customer_id)
    if found is None or not actor.sees(found[1].path):
        raise UnknownCustomer(f"no customer {customer_id}")
    return found


async def lookup_by_phone(*, database: Database, actor: Principal, phone: str) -> CustomerCard:
    """The customer who owns `phone`, written any common way, if the actor may see them."""
    e164 = normalise_phone(phone)
    card = await card_by_phone(database, actor.tenant_id, e164)
    if card is None or not actor.sees(card.home_node):
        raise UnknownCustomer(f"no customer with phone {e164}")
    return card


async def update(
    *,
    uow: UnitOfWork,
    actor: Principal,
    customer_id: uuid.UUID,
    changes: Mapping[str, Any],
    now: datetime,
) -> tuple[CustomerRow, NodeRow]:
    row, node = await get(uow=uow, actor=actor, customer_id=customer_id)
    repo = CustomerRepository(uow.session)
    if "name" in changes:
        row.name = _clean(domain.clean_name, changes["name"], "name")
    if "email" in changes:
        row.email = _clean(domain.clean_email, changes["email"], "email")
    if "language" in changes:
        row.language = _clean(domain.clean_language, changes["language"], "language").value
    if "blocked" in changes:
        row.blocked = bool(changes["blocked"])
    if "phone" in changes:
        e164 = normalise_phone(changes["phone"])
        other = await repo.phone_taken(actor.tenant_id, e164)
        if other is not None and other.id != row.id:
            raise DuplicatePhone(f"{e164} is already registered to another customer", field="phone")
        if e164 != row.phone_e164:
            row.phone_e164 = e164
            row.verification = domain.Verification.UNVERIFIED.value
            row.verified_at = None
            row.verified_via = None
    if "home_node" in changes:
        node = await home_node(uow=uow, actor=actor, ref=changes["home_node"])
        row.home_node_id = node.id
    row.updated_at = now
    await uow.flush()
    return row, node


async def mark_verified(
    *, uow: UnitOfWork, row: CustomerRow, method: domain.VerificationMethod, now: datetime
) -> None:
    row.verification = domain.Verification.VERIFIED.value
    row.verified_via = method.value
    row.verified_at = now
    row.updated_at = now


async def link_identity(
    *,
    uow: UnitOfWork,
    actor: Principal,
    customer_id: uuid.UUID,
    channel: domain.IdentityChannel,
    external_id: str,
    now: datetime,
) -> CustomerIdentityRow:
    row, _ = await get(uow=uow, actor=actor, customer_id=customer_id)
    value = _clean(lambda v: domain.check_identity(channel, v), external_id, "external_id")
    repo = CustomerRepository(uow.session)
    existing = await repo.identity(actor.tenant_id, channel.value, value)
    if existing is not None:
        if existing.customer_id == row.id:
            return existing
        raise DuplicateIdentity(
            f"{channel.value} id {value} is linked to another customer", field="external_id"
        )
    identity = CustomerIdentityRow(
        id=uuid.uuid4(),
        tenant_id=actor.tenant_id,
        customer_id=row.id,
        channel=channel.value,
        external_id=value,
        created_at=now,
    )
    repo.add(identity)
    await uow.flush()
    return identity


async def unlink_identity(
    *,
    uow: UnitOfWork,
    actor: Principal,
    customer_id: uuid.UUID,
    channel: domain.IdentityChannel,
    external_id: str,
) -> None:
    await get(uow=uow, actor=actor, customer_id=customer_id)
    repo = CustomerRepository(uow.session)
    identity = await repo.identity(actor.tenant_id, channel.value, external_id.strip())
    if identity is None or identity.customer_id != customer_id:
        raise UnknownCustomer(f"customer {customer_id} has no {channel.value} id {external_id}")
    await repo.delete(identity)


LINK_TOKEN_LIFETIME = timedelta(hours=24)


async def issue_link_token(
    *,
    uow: UnitOfWork,
    actor: Principal,
    customer_id: uuid.UUID,
    channel: domain.IdentityChannel,
    now: datetime,
) -> tuple[str, datetime]:
    """A one-time token for a deep link (`https://t.me/<bot>?start=<token>`): whoever opens
    it links their chat to this customer. Only its hash is stored; it expires in a day."""
    row, _ = await get(uow=uow, actor=actor, customer_id=customer_id)
    token = secrets.token_urlsafe(24)  # 32 characters of A-Za-z0-9_- (Telegram's alphabet)
    expires = now + LINK_TOKEN_LIFETIME
    CustomerRepository(uow.session).add(
        LinkTokenRow(
            id=uuid.uuid4(),
            tenant_id=actor.tenant_id,
            customer_id=row.id,
            channel=channel.value,
            token_hash=hashlib.sha256(token.encode()).digest(),
            created_at=now,
            expires_at=expires,
        )
    )
    await uow.flush()
    return token, expires


async def redeem_link_token(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    channel: domain.IdentityChannel,
    token: str,
    now: datetime,
) -> CustomerRow | None:
    """The customer a valid, unused, unexpired token was issued for — and the token is
    spent (a second use, even concurrent, finds nothing)."""
    if not token or len(token) > 64:
        return None
    repo = CustomerRepository(uow.session)
    customer_id = await repo.spend_link_token(
        tenant_id, channel.value, hashlib.sha256(token.encode()).digest(), now
    )
    if customer_id is None:
        return None
    found = await repo.by_id(tenant_id, customer_id)
    return None if found is None else found[0]


async def attach_identity(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    customer_id: uuid.UUID,
    channel: domain.IdentityChannel,
    external_id: str,
    now: datetime,
) -> None:
    """Link a channel identity that the customer has just proven (a deep link, a shared
    contact). The latest proof wins: an identity linked to someone else moves."""
    await CustomerRepository(uow.session).upsert_identity(
        tenant_id, customer_id, channel.value, external_id, now
    )
