"""Use cases of access: users, logins, API tokens, and resolving a token to a principal."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sahaya.access import tokens
from sahaya.access.domain import Principal, Role
from sahaya.access.errors import BadCredentials, BadToken, DuplicateUser, InvalidUser, NotAllowed
from sahaya.access.passwords import hash_password, verify_password
from sahaya.access.repository import AccessRepository
from sahaya.access.tables import ApiTokenRow, UserRow
from sahaya.network import NodeRow
from sahaya.persistence import UnitOfWork

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    row: ApiTokenRow


def check_grant(*, actor: Principal, role: Role, node: NodeRow) -> None:
    """Staff may create users and tokens only at or below their node and rank."""
    if not actor.at_least(Role.SUPERVISOR):
        raise NotAllowed("agents cannot create users or tokens")
    if not actor.sees(node.path):
        raise NotAllowed(f"node {node.path!r} is outside your part of the network", field="node")
    if role.weight > actor.role.weight:
        raise NotAllowed(f"a {actor.role.value} cannot grant the {role.value} role", field="role")


async def create_user(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    username: str,
    display_name: str,
    role: Role,
    node: NodeRow,
    password: str,
    email: str | None = None,
    executive_id: uuid.UUID | None = None,
) -> UserRow:
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise InvalidUser(
            "username: 2-80 characters of a-z, 0-9, '.', '_' or '-', starting with a letter "
            "or digit",
            field="username",
        )
    if len(password) < 10:
        raise InvalidUser("password: at least 10 characters", field="password")
    repo = AccessRepository(uow.session)
    if await repo.user_by_username(tenant_id, username) is not None:
        raise DuplicateUser(f"username {username!r} is taken", field="username")
    user = UserRow(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        username=username,
        display_name=display_name,
        email=email,
        role=role.value,
        node_id=node.id,
        executive_id=executive_id,
        password_hash=hash_password(password),
        active=True,
    )
    repo.add(user)
    await uow.flush()
    return user


async def issue_token(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    name: str,
    role: Role,
    node: NodeRow,
    now: datetime,
    user: UserRow | None = None,
    lifetime: timedelta | None = None,
) -> IssuedToken:
    token = tokens.new_token()
    row = ApiTokenRow(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        token_hash=tokens.token_hash(token),
        prefix=tokens.display_prefix(token),
        kind="session" if user is not None else "integration",
        name=name,
        role=role.value,
        node_id=node.id,
        user_id=user.id if user else None,
        created_at=now,
        expires_at=now + lifetime if lifetime else None,
    )
    AccessRepository(uow.session).add(row)
    await uow.flush()
    return IssuedToken(token=token, row=row)


async def login(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    username: str,
    password: str,
    now: datetime,
    lifetime: timedelta,
) -> tuple[IssuedToken, UserRow]:
    user = await AccessRepository(uow.session).user_by_username(tenant_id, username.strip().lower())
    if not verify_password(password, user.password_hash if user else None) or user is None:
        raise BadCredentials("wrong username or password")
    if not user.active:
        raise BadCredentials("this account is disabled")
    node = await uow.session.get(NodeRow, user.node_id)
    assert node is not None  # noqa: S101 - foreign key
    issued = await issue_token(
        uow=uow,
        tenant_id=tenant_id,
        name=f"login {user.username}",
        role=Role(user.role),
        node=node,
        now=now,
        user=user,
        lifetime=lifetime,
    )
    return issued, user


async def authenticate(*, uow: UnitOfWork, token: str, now: datetime) -> Principal:
    found = await AccessRepository(uow.session).token_with_scope(tokens.token_hash(token))
    if found is None:
        raise BadToken("unknown token")
    row, node, user = found
    if row.revoked_at is not None:
        raise BadToken("this token was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise BadToken("this token has expired")
    if user is not None and not user.active:
        raise BadToken("the user of this token is disabled")
    return Principal(
        tenant_id=row.tenant_id,
        role=Role(row.role),
        node_id=node.id,
        node_path=node.path,
        token_id=row.id,
        user_id=user.id if user else None,
        executive_id=user.executive_id if user else None,
        name=user.display_name if user else row.name,
        expires_at=row.expires_at,
    )


async def revoke_token(*, uow: UnitOfWork, token: str, now: datetime) -> None:
    found = await AccessRepository(uow.session).token_with_scope(tokens.token_hash(token))
    if found is not None and found[0].revoked_at is None:
        found[0].revoked_at = now
