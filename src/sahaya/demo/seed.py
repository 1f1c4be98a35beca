"""Load the demo network once. Passwords are generated at first run and kept in
`var/demo-credentials.json` (mode 600), never in the repository."""

from __future__ import annotations

import json
import random
import secrets
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from sahaya.access import Principal, Role, UserRow
from sahaya.access import services as access
from sahaya.access.repository import AccessRepository
from sahaya.channels.telegram import api as telegram_api
from sahaya.channels.textlocal import api as textlocal_api
from sahaya.channels.whatsapp_cloud import api as whatsapp_api
from sahaya.customers import CustomerRepository
from sahaya.customers import services as customers
from sahaya.messaging import accounts
from sahaya.messaging.domain import Channel
from sahaya.network import NetworkRepository, NodeRow, domain
from sahaya.network import services as network
from sahaya.persistence import UnitOfWork
from sahaya.voice import services as voice

FIRST = (
    "Anjali",
    "Arjun",
    "Deepa",
    "Faisal",
    "Gopika",
    "Hari",
    "Jasmine",
    "Joseph",
    "Lakshmi",
    "Manu",
    "Meera",
    "Nikhil",
    "Priya",
    "Rahul",
    "Reshma",
    "Sajeev",
    "Shabna",
    "Thomas",
    "Vishnu",
    "Zainab",
)
LAST = ("K", "Nair", "Menon", "Pillai", "Varghese", "Kurian", "Rahman", "Thomas", "Das", "Joseph")
DEMO_USERS = (
    ("admin", "State administrator", Role.ADMIN, "kerala"),
    ("ekm.supervisor", "Ernakulam supervisor", Role.SUPERVISOR, "kerala/ernakulam"),
    ("kochi.agent", "Kochi agent", Role.AGENT, "kerala/ernakulam/kochi"),
    (
        "tvm.agent",
        "Thiruvananthapuram agent",
        Role.AGENT,
        "kerala/thiruvananthapuram/thiruvananthapuram",
    ),
)


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    password: str
    role: str
    node: str


def kerala() -> dict[str, list[str]]:
    data = json.loads(
        resources.files("sahaya.network").joinpath("data/kerala-taluks.json").read_text("utf-8")
    )
    districts: dict[str, list[str]] = data["districts"]
    return districts


def _demo_phone(n: int) -> str:
    """Numbers in the 90000 00000 series: valid-looking Indian mobiles, fictional."""
    return f"+9190{n:08d}"


async def _node_map(uow: UnitOfWork, tenant_id: uuid.UUID) -> list[NodeRow]:
    return await NetworkRepository(uow.session).subtree(tenant_id, "kerala")


async def seed(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, now: datetime, customers_per_taluk: int = 3
) -> bool:
    """Seed the demo network; returns False (and does nothing) if it was seeded before."""
    if await AccessRepository(uow.session).user_by_username(tenant_id, "admin") is not None:
        return False
    await network.ensure_services(uow=uow, tenant_id=tenant_id, services=network.DEFAULT_SERVICES)
    await network.load_tree(uow=uow, tenant_id=tenant_id, state="Kerala", districts=kerala())
    nodes = await _node_map(uow, tenant_id)
    serial = 0
    office = domain.WeeklyHours.office_hours().to_mapping()
    always = domain.WeeklyHours.always().to_mapping()
    for node in nodes:
        franchisee = await network.create_franchisee(
            uow=uow, tenant_id=tenant_id, name=f"{node.name} franchisee", nodes=[node]
        )
        for rank in (1, 2):
            serial += 1
            await network.add_executive(
                uow=uow,
                tenant_id=tenant_id,
                franchisee_id=franchisee.id,
                data=network.ExecutiveInput(
                    name=f"{node.name} executive {rank}",
                    rank=rank,
                    phone_e164=_demo_phone(serial),
                    email=f"exec{serial}@demo.sahaya.invalid",
                    services=["apnafood"],
                    working_hours=always if node.level == "state" else office,
                ),
                now=now,
            )
    return True


async def seed_users(*, uow: UnitOfWork, tenant_id: uuid.UUID) -> list[DemoLogin]:
    logins = []
    for username, display, role, path in DEMO_USERS:
        node = await network.node_or_raise(uow=uow, tenant_id=tenant_id, ref=path)
        password = secrets.token_urlsafe(12)
        await access.create_user(
            uow=uow,
            tenant_id=tenant_id,
            username=username,
            display_name=display,
            role=role,
            node=node,
            password=password,
        )
        logins.append(DemoLogin(username, password, role.value, path))
    return logins


async def seed_customers(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, now: datetime, per_taluk: int
) -> int:
    """A few customers in every taluk; the first is the reference's Anjali K of Kochi."""
    rng = random.Random(7)  # noqa: S311 - demo data only, repeatable
    admin = await AccessRepository(uow.session).user_by_username(tenant_id, "admin")
    assert isinstance(admin, UserRow)  # noqa: S101
    actor = await _principal_for(uow, admin)
    created = 0
    anjali = await CustomerRepository(uow.session).phone_taken(tenant_id, "+919847012345")
    if anjali is None:
        await customers.register(
            uow=uow,
            actor=actor,
            name="Anjali K",
            phone="09847012345",
            home_node_ref="kerala/ernakulam/kochi",
            email="anjali@example.com",
            language="ml",
            now=now,
            source="demo",
        )
        created += 1
    taluks = [n for n in await _node_map(uow, tenant_id) if n.level == "sub_district"]
    for index, taluk in enumerate(taluks):
        for k in range(per_taluk):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            await customers.register(
                uow=uow,
                actor=actor,
                name=name,
                phone=f"+91944{index:03d}{k:04d}",
                home_node_ref=taluk.path,
                email=None,
                language=rng.choice(("en", "ml")),
                now=now,
                source="demo",
            )
            created += 1
    return created


async def _principal_for(uow: UnitOfWork, user: UserRow) -> Principal:
    node = await network.node_or_raise(uow=uow, tenant_id=user.tenant_id, ref=str(user.node_id))
    return Principal(
        tenant_id=user.tenant_id,
        role=Role(user.role),
        node_id=node.id,
        node_path=node.path,
        token_id=uuid.uuid4(),
        user_id=user.id,
        name=user.display_name,
    )


def save_logins(path: Path, logins: list[DemoLogin]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(login) for login in logins], indent=2))
    path.chmod(0o600)


def load_logins(path: Path) -> list[DemoLogin]:
    if not path.exists():
        return []
    return [DemoLogin(**item) for item in json.loads(path.read_text())]


async def ensure_exotel_account(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, key_file: Path
) -> str | None:
    """The demo's Exotel account. Returns a new webhook key to keep in `key_file` once the
    transaction has committed (`save_key`), or None when the file already names a live one."""
    if key_file.exists():
        key = key_file.read_text().strip()
        if await voice.account_for_key_in(uow=uow, key=key) is not None:
            return None
    _, key = await voice.create_account(
        uow=uow, tenant_id=tenant_id, name="demo exotel", caller_id="04842000000"
    )
    return key


def save_key(key_file: Path, key: str) -> None:
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)


async def _saved_account_lives(uow: UnitOfWork, file: Path) -> bool:
    """Whether `file` names a channel account that still exists (then it is kept)."""
    if not file.exists():
        return False
    saved = json.loads(file.read_text())
    found = await accounts.by_id_in(uow=uow, account_id=uuid.UUID(saved["account_id"]))
    return found is not None


DEMO_WHATSAPP_NUMBER_ID = "100000000000001"
WHATSAPP_FILE = "demo-whatsapp.json"
# Where the web server mounts the Graph API sandbox the demo number sends through.
WHATSAPP_SANDBOX_PATH = "/sandbox/whatsapp"


async def ensure_whatsapp_account(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, file: Path, api_base_url: str, secret_key: str
) -> dict[str, str] | None:
    """The demo's WhatsApp number, sending through the in-process Graph API sandbox at
    `api_base_url`. Returns fresh credentials to keep in `file` once the transaction has
    committed (`save_credentials`), or None when the file already names a live account."""
    if await _saved_account_lives(uow, file):
        return None
    credentials = {
        "phone_number_id": DEMO_WHATSAPP_NUMBER_ID,
        "access_token": secrets.token_urlsafe(24),
        "app_secret": secrets.token_urlsafe(24),
        "verify_token": secrets.token_urlsafe(12),
    }
    row = await accounts.create(
        uow=uow,
        tenant_id=tenant_id,
        channel=Channel.WHATSAPP,
        provider=whatsapp_api.PROVIDER,
        name="demo whatsapp",
        address=DEMO_WHATSAPP_NUMBER_ID,
        api_base_url=api_base_url,
        secrets={k: v for k, v in credentials.items() if k != "phone_number_id"},
        secret_key=secret_key,
    )
    return credentials | {"account_id": str(row.id)}


TELEGRAM_FILE = "demo-telegram.json"
TELEGRAM_SANDBOX_PATH = "/sandbox/telegram"
DEMO_TELEGRAM_BOT = "apnafood_help_bot"


async def ensure_telegram_account(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, file: Path, api_base_url: str, secret_key: str
) -> dict[str, str] | None:
    """The demo's Telegram bot, calling the in-process Bot API sandbox at `api_base_url`.
    Returns fresh credentials to keep in `file` once committed, or None when the file
    already names a live account."""
    if await _saved_account_lives(uow, file):
        return None
    # "<bot id>:<secret>", as BotFather issues them.
    credentials = {
        "bot_token": f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)}",
        "webhook_secret": secrets.token_urlsafe(24),
    }
    row = await accounts.create(
        uow=uow,
        tenant_id=tenant_id,
        channel=Channel.TELEGRAM,
        provider=telegram_api.PROVIDER,
        name="demo telegram",
        address=DEMO_TELEGRAM_BOT,
        api_base_url=api_base_url,
        secrets=credentials,
        secret_key=secret_key,
    )
    return credentials | {"account_id": str(row.id)}


SMS_FILE = "demo-sms.json"
SMS_SANDBOX_PATH = "/sandbox/textlocal"


async def ensure_sms_account(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, file: Path, public_base: str, secret_key: str
) -> dict[str, str] | None:
    """The demo's SMS sender (sign-in codes, replies), sending through the in-process
    Textlocal sandbox whose delivery receipts come back to our webhook. Returns fresh
    credentials to keep in `file` once committed, or None when the file names a live one."""
    if await _saved_account_lives(uow, file):
        return None
    apikey, key = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    row = await accounts.create(
        uow=uow,
        tenant_id=tenant_id,
        channel=Channel.SMS,
        provider=textlocal_api.PROVIDER,
        name="demo sms",
        address="APNAFD",
        api_base_url=f"{public_base}{SMS_SANDBOX_PATH}",
        secrets={"apikey": apikey, "webhook_key": key},
        secret_key=secret_key,
    )
    row.settings = {"receipt_url": f"{public_base}/webhooks/sms/{row.id}/receipt?key={key}"}
    return {"account_id": str(row.id), "apikey": apikey, "webhook_key": key}


def save_credentials(file: Path, credentials: dict[str, str]) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(credentials, indent=2) + "\n")
    file.chmod(0o600)
