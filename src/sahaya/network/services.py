"""Use cases of the franchise network. Keyword-only, time passed in, no commits."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sahaya.network import domain
from sahaya.network.errors import (
    DuplicateExecutive,
    InvalidNetworkChange,
    UnknownExecutive,
    UnknownNode,
    UnknownService,
)
from sahaya.network.repository import NetworkRepository, ancestor_paths
from sahaya.network.tables import ExecutiveRow, FranchiseeRow, NodeRow, ServiceRow, TenantRow
from sahaya.persistence import UnitOfWork

DEFAULT_SERVICES = (
    ("apnafood", "Apnafood", True),
    ("apnaride", "Apnaride", False),
    ("apnacart", "Apnacart", False),
    ("apnaservices", "Apnaservices", False),
)
_LEVEL_BELOW = {"state": "district", "district": "sub_district"}


def parse_hours(data: Mapping[str, Any], tz: str) -> domain.WeeklyHours:
    try:
        return domain.WeeklyHours.from_mapping(data, tz=tz)
    except domain.InvalidWorkingHours as exc:
        raise InvalidNetworkChange(f"working_hours: {exc}", field="working_hours") from None


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")
    if not slug:
        raise InvalidNetworkChange(f"name {name!r} has no letters or digits to make a path from")
    return slug


async def ensure_tenant(*, uow: UnitOfWork, slug: str, name: str) -> TenantRow:
    repo = NetworkRepository(uow.session)
    tenant = await repo.tenant_by_slug(slug)
    if tenant is None:
        tenant = TenantRow(id=uuid.uuid4(), slug=slug, name=name)
        repo.add(tenant)
        await uow.flush()
    return tenant


async def ensure_services(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, services: Iterable[tuple[str, str, bool]]
) -> list[ServiceRow]:
    repo = NetworkRepository(uow.session)
    existing = {row.code: row for row in await repo.services(tenant_id)}
    for code, name, active in services:
        if code not in existing:
            row = ServiceRow(
                id=uuid.uuid4(), tenant_id=tenant_id, code=code, name=name, active=active
            )
            repo.add(row)
            existing[code] = row
    await uow.flush()
    return sorted(existing.values(), key=lambda row: row.code)


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    code: str
    name: str
    active: bool


async def active_service(*, uow: UnitOfWork, tenant_id: uuid.UUID, code: str) -> ServiceInfo:
    """A service tickets may be opened for, from the per-process reference cache."""

    async def load(session: AsyncSession) -> ServiceInfo | None:
        row = await NetworkRepository(session).service(tenant_id, code)
        return None if row is None else ServiceInfo(row.code, row.name, row.active)

    found = await uow.cached(("service", tenant_id, code), load)
    if found is None or not found.active:
        raise UnknownService(f"no active service {code!r}", field="service")
    return found


async def set_service_active(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, code: str, active: bool
) -> ServiceRow:
    service = await NetworkRepository(uow.session).service(tenant_id, code)
    if service is None:
        raise UnknownService(f"no service {code!r}", field="code")
    service.active = active
    return service


async def add_node(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, name: str, parent: NodeRow | None
) -> NodeRow:
    """Add a node below `parent` (or the state root when `parent` is None)."""
    if parent is None:
        level, path = "state", slugify(name)
    else:
        below = _LEVEL_BELOW.get(parent.level)
        if below is None:
            raise InvalidNetworkChange("a sub-district node cannot have children", field="parent")
        level, path = below, f"{parent.path}/{slugify(name)}"
    repo = NetworkRepository(uow.session)
    if await repo.node(tenant_id, path) is not None:
        raise InvalidNetworkChange(f"node {path!r} already exists", field="name")
    node = NodeRow(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        parent_id=parent.id if parent else None,
        level=level,
        name=" ".join(name.split()),
        path=path,
    )
    repo.add(node)
    await uow.flush()
    return node


async def load_tree(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, state: str, districts: Mapping[str, Sequence[str]]
) -> int:
    """Create the state, its districts and their sub-districts; existing nodes are kept.
    Returns how many nodes were created."""
    repo = NetworkRepository(uow.session)
    created = 0

    async def ensure(name: str, parent: NodeRow | None) -> NodeRow:
        nonlocal created
        path = slugify(name) if parent is None else f"{parent.path}/{slugify(name)}"
        node = await repo.node(tenant_id, path)
        if node is None:
            node = await add_node(uow=uow, tenant_id=tenant_id, name=name, parent=parent)
            created += 1
        return node

    root = await ensure(state, None)
    for district_name, taluks in districts.items():
        district = await ensure(district_name, root)
        for taluk in taluks:
            await ensure(taluk, district)
    return created


async def node_or_raise(*, uow: UnitOfWork, tenant_id: uuid.UUID, ref: str) -> NodeRow:
    node = await NetworkRepository(uow.session).node(tenant_id, ref)
    if node is None:
        raise UnknownNode(f"no node {ref!r}")
    return node


async def create_franchisee(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    name: str,
    nodes: Sequence[NodeRow],
    phone_e164: str | None = None,
    email: str | None = None,
) -> FranchiseeRow:
    """A franchisee owning `nodes` (replacing any previous owner of those nodes)."""
    franchisee = FranchiseeRow(
        id=uuid.uuid4(), tenant_id=tenant_id, name=name, phone_e164=phone_e164, email=email
    )
    NetworkRepository(uow.session).add(franchisee)
    await uow.flush()
    for node in nodes:
        node.franchisee_id = franchisee.id
    return franchisee


@dataclass(frozen=True, slots=True)
class ExecutiveInput:
    name: str
    rank: int
    phone_e164: str
    email: str | None
    services: Sequence[str]
    working_hours: Mapping[str, Any]
    timezone: str = domain.DEFAULT_TZ
    availability: domain.Availability = domain.Availability.AVAILABLE
    support_tier: str | None = None


async def _check_services(uow: UnitOfWork, tenant_id: uuid.UUID, codes: Sequence[str]) -> None:
    known = {row.code for row in await NetworkRepository(uow.session).services(tenant_id)}
    unknown = sorted(set(codes) - known)
    if unknown:
        raise UnknownService(f"unknown service(s): {', '.join(unknown)}", field="services")


async def _check_unique(
    repo: NetworkRepository, row: ExecutiveRow, tenant_id: uuid.UUID, franchisee_id: uuid.UUID
) -> None:
    same_phone = await repo.executive_by_phone(tenant_id, row.phone_e164)
    if same_phone is not None and same_phone.id != row.id:
        raise DuplicateExecutive(
            f"phone {row.phone_e164} already belongs to executive {same_phone.name}",
            field="phone",
        )
    ranks = {e.rank: e for e in await repo.executives_of([franchisee_id]) if e.id != row.id}
    if row.rank in ranks:
        raise DuplicateExecutive(
            f"rank #{row.rank} is already held by {ranks[row.rank].name} in this franchisee",
            field="rank",
        )


async def add_executive(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    franchisee_id: uuid.UUID,
    data: ExecutiveInput,
    now: datetime,
) -> ExecutiveRow:
    hours = parse_hours(data.working_hours, data.timezone)
    await _check_services(uow, tenant_id, data.services)
    repo = NetworkRepository(uow.session)
    row = ExecutiveRow(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        franchisee_id=franchisee_id,
        name=data.name,
        rank=data.rank,
        phone_e164=data.phone_e164,
        email=data.email,
        services=sorted(set(data.services)),
        working_hours=hours.to_mapping(),
        timezone=hours.tz,
        availability=data.availability.value,
        availability_changed_at=now,
        support_tier=data.support_tier,
    )
    await _check_unique(repo, row, tenant_id, franchisee_id)
    repo.add(row)
    await uow.flush()
    return row


async def update_executive(
    *,
    uow: UnitOfWork,
    executive: ExecutiveRow,
    changes: Mapping[str, Any],
) -> ExecutiveRow:
    """Apply a partial update (keys: name, rank, phone_e164, email, services, working_hours,
    timezone, support_tier)."""
    if "services" in changes:
        await _check_services(uow, executive.tenant_id, changes["services"])
    tz = changes.get("timezone", executive.timezone)
    hours = changes.get("working_hours", executive.working_hours)
    normalised = parse_hours(hours, tz)
    for field in ("name", "rank", "phone_e164", "email", "support_tier"):
        if field in changes:
            setattr(executive, field, changes[field])
    if "services" in changes:
        executive.services = sorted(set(changes["services"]))
    executive.working_hours = normalised.to_mapping()
    executive.timezone = normalised.tz
    await _check_unique(
        NetworkRepository(uow.session), executive, executive.tenant_id, executive.franchisee_id
    )
    await uow.flush()
    return executive


async def set_availability(
    *, uow: UnitOfWork, executive: ExecutiveRow, state: domain.Availability, now: datetime
) -> ExecutiveRow:
    if executive.availability != state.value:
        executive.availability = state.value
        executive.availability_changed_at = now
    return executive


async def executive_or_raise(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, executive_id: uuid.UUID
) -> ExecutiveRow:
    row = await NetworkRepository(uow.session).executive(tenant_id, executive_id)
    if row is None:
        raise UnknownExecutive(f"no executive {executive_id}")
    return row


def executive_view(row: ExecutiveRow) -> domain.ExecutiveView:
    return domain.ExecutiveView(
        id=row.id,
        name=row.name,
        rank=row.rank,
        phone_e164=row.phone_e164,
        services=frozenset(row.services),
        hours=domain.WeeklyHours.from_mapping(row.working_hours, tz=row.timezone),
        availability=domain.Availability(row.availability),
    )


async def node_views(*, uow: UnitOfWork, node: NodeRow) -> list[domain.NodeView]:
    """The node and its ancestors, nearest first, each with its franchisee's executives."""
    repo = NetworkRepository(uow.session)
    path_nodes = await repo.nodes_by_paths(node.tenant_id, ancestor_paths(node.path))
    path_nodes.sort(key=lambda n: n.path.count("/"), reverse=True)
    owners = [n.franchisee_id for n in path_nodes if n.franchisee_id is not None]
    executives: dict[uuid.UUID, list[domain.ExecutiveView]] = {}
    for row in await repo.executives_of(owners):
        executives.setdefault(row.franchisee_id, []).append(executive_view(row))
    return [
        domain.NodeView(
            id=n.id,
            name=n.name,
            level=domain.Level(n.level),
            executives=tuple(executives.get(n.franchisee_id, ())) if n.franchisee_id else (),
        )
        for n in path_nodes
    ]


async def escalation_chain(
    *,
    uow: UnitOfWork,
    node: NodeRow,
    service: str,
    now: datetime,
    depth: domain.ChainDepth,
    on_call: frozenset[uuid.UUID] = frozenset(),
) -> domain.EscalationChain:
    """Who rings, in order, for a customer of `node` asking about `service` at `now`."""
    if await NetworkRepository(uow.session).service(node.tenant_id, service) is None:
        raise UnknownService(f"no service {service!r}", field="service")
    path = await node_views(uow=uow, node=node)
    return domain.escalation_chain(
        path=path, service=service, now=now, depth=depth, on_call=on_call
    )
