"""Email end to end: customers' mail read from a real IMAP server (a private Dovecot) and
received by our SMTP listener, into tickets — threaded by the ticket number and by
Message-ID, attachments kept, auto-replies and bounces recognised — and our answers sent
through a real SMTP server with threading headers. Fixtures: tests/fixtures/providers/email.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import smtplib
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import SMTP as smtp_policy
from email.policy import default as default_policy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from sahaya.channels import registry
from sahaya.channels.email import automated, body, imap, inbound, listener, threads
from sahaya.channels.email import tasks as email_tasks
from sahaya.channels.email.handoff import Inbox
from sahaya.channels.email.smtp import SmtpConfig, SmtpSender
from sahaya.cli.main import app as cli
from sahaya.messaging import accounts
from sahaya.messaging import services as messaging
from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import Channel, InboundKind, OutboundState
from sahaya.messaging.ports import OutboundMessage, PermanentSendError
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings, get_settings
from sahaya.tickets.attachments import Limits
from sahaya.worker.app import build_app
from sahaya.worker.runner import run_worker
from tests.conftest import TokenFactory, bearer, free_port, rows
from tests.mailservers import Dovecot, SmtpServer

FIXTURES = Path(__file__).parent.parent / "fixtures" / "providers" / "email"
USER = "support@sahaya.test"
PASSWORD = "mailbox pw"
MAIL_FROM = "Sahaya Support <support@sahaya.test>"
KOCHI = "kerala/ernakulam/kochi"
FIRST = "AF-000001"


def fixture(name: str, swap: dict[str, str] | None = None) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    for old, new in (swap or {}).items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


def stranger(number: int) -> bytes:
    """plain.eml, written by someone who is not a customer."""
    return fixture(
        "plain.eml",
        {
            "Anjali K <anjali@example.in>": "Nobody <nobody@example.org>",
            "<anjali@example.in>": "<nobody@example.org>",
            "CAF4512.anjali@mail.example.in": f"stranger-{number}@example.org",
        },
    )


def unreachable_database() -> Database:
    return Database(f"postgresql://sahaya@127.0.0.1:{free_port()}/nowhere", pool_size=1)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    # One user for the module: Dovecot notices a changed passwd-file only after a moment.
    with Dovecot.start(tmp_path_factory.mktemp("dovecot"), users={USER: PASSWORD}) as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer.start() as server:
        yield server


@dataclass
class Mailbox:
    """A folder of its own in the support mailbox (a name with a space, quoted in IMAP)."""

    dovecot: Dovecot
    folder: str
    account: ChannelAccount

    def deliver(self, raw: bytes) -> int:
        return self.dovecot.deliver(USER, raw, mailbox=self.folder)

    def seen(self) -> dict[int, bool]:
        flags = self.dovecot.flags(USER, self.folder)
        return {uid: "\\Seen" in found for uid, found in flags.items()}

    def mark_unseen(self, uid: int) -> None:
        with self.dovecot.imap(USER) as conn:
            assert conn.select(f'"{self.folder}"')[0] == "OK"
            status, _ = conn.uid("STORE", str(uid), "-FLAGS", "(\\Seen)")
            assert status == "OK"


async def email_account(
    database: Database,
    tenant_id: uuid.UUID,
    settings: Settings,
    *,
    provider: str,
    address: str,
    account_settings: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
) -> ChannelAccount:
    secret_key = settings.secret_key.get_secret_value()
    async with UnitOfWork(database) as uow:
        row = await accounts.create(
            uow=uow,
            tenant_id=tenant_id,
            channel=Channel.EMAIL,
            provider=provider,
            name="Support mail",
            address=address,
            api_base_url="",
            settings=account_settings,
            secrets=secrets,
            secret_key=secret_key,
        )
        await uow.commit()
    account = await accounts.by_id(database=database, account_id=row.id, secret_key=secret_key)
    assert account is not None
    return account


@pytest.fixture
async def mailbox(
    dovecot: Dovecot, database: Database, tenant_id: uuid.UUID, settings: Settings
) -> Mailbox:
    """A fresh folder of the support mailbox and the IMAP account that polls it."""
    folder = f"Support {uuid.uuid4().hex[:8]}"
    with dovecot.imap(USER) as conn:
        assert conn.create(f'"{folder}"')[0] == "OK"
    account = await email_account(
        database,
        tenant_id,
        settings,
        provider=imap.PROVIDER,
        address=USER,
        account_settings={
            "host": dovecot.host,
            "port": dovecot.port,
            "ssl": False,
            "mailbox": folder,
        },
        secrets={"username": USER, "password": PASSWORD},
    )
    return Mailbox(dovecot, folder, account)


async def poll(
    mailbox: Mailbox,
    database: Database,
    settings: Settings,
    now: datetime | None = None,
) -> imap.Polled:
    return await imap.poll(
        inbox=Inbox.from_settings(database, settings),
        account=mailbox.account,
        now=now or datetime.now(UTC),
    )


async def send_outbox(
    database: Database, smtp_server: SmtpServer, now: datetime | None = None
) -> messaging.DeliveryRun:
    """Send the due email through the SMTP server with the sender the worker builds."""
    config = Settings(
        environment="test",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_timeout=5,
        mail_from=MAIL_FROM,
    )
    async with httpx.AsyncClient() as http:
        [sender] = [s for s in registry.senders(database, config, http) if s.channel == "email"]
        async with UnitOfWork(database) as uow:
            run = await messaging.deliver_due(uow=uow, sender=sender, now=now or datetime.now(UTC))
            await uow.commit()
    return run


async def resolve(client: httpx.AsyncClient, make_token: TokenFactory, number: str) -> None:
    agent = bearer(await make_token("agent", KOCHI))
    response = await client.post(
        f"/api/v1/tickets/{number}/status", json={"status": "resolved"}, headers=agent
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "resolved"


def entries(db_url: str) -> list[str]:
    return [
        body
        for (body,) in rows(
            db_url,
            "SELECT body FROM ticket_entries WHERE kind = 'customer_message'"
            " ORDER BY created_at, id",
        )
    ]


# -- IMAP into tickets -------------------------------------------------------------------


async def test_a_customers_mail_opens_a_ticket_answered_with_threading_headers(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
    smtp_server: SmtpServer,
) -> None:
    uid = mailbox.deliver(fixture("plain.eml"))
    polled = await poll(mailbox, database, settings)
    assert (polled.fetched, polled.new, polled.repeated, polled.error) == (1, 1, 0, None)
    assert mailbox.seen() == {uid: True}

    assert rows(db_url, "SELECT number, channel, subject, customer_id FROM tickets") == [
        (FIRST, "email", "Order 4512 arrived cold", customer)
    ]
    # The signature after "-- " is not part of the message.
    assert entries(db_url) == [
        "Hello,\n\nMy order 4512 from Paragon, Kaloor arrived cold and an hour late.\n"
        "Please refund the delivery charge."
    ]
    assert rows(db_url, "SELECT dedupe_key, outcome FROM inbound_events") == [
        ("msg:CAF4512.anjali@mail.example.in", "ticket_opened")
    ]
    # The acknowledgement goes by email (once: the email route is the email itself).
    assert rows(db_url, "SELECT channel, recipient, template FROM outbox_messages") == [
        ("email", "anjali@example.in", "ticket_acknowledgement")
    ]
    assert (await send_outbox(database, smtp_server)).sent == 1
    [mail] = smtp_server.recorder.messages()
    assert mail["To"] == "anjali@example.in"
    assert FIRST in mail["Subject"]
    # It answers the customer's mail, so their mail client files it under theirs.
    assert mail["In-Reply-To"] == "<CAF4512.anjali@mail.example.in>"
    assert mail["References"] == f"<{FIRST}@sahaya.test> <CAF4512.anjali@mail.example.in>"
    assert mail["Message-ID"].startswith(f"<{FIRST}.")
    assert mail["Auto-Submitted"] == "auto-replied"


async def test_an_agents_reply_answers_the_customers_latest_mail_in_their_thread(
    listener_account: ChannelAccount,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
    smtp_server: SmtpServer,
    client: httpx.AsyncClient,
    make_token: TokenFactory,
) -> None:
    """The customer's second mail answers our acknowledgement; the agent's reply names it
    in In-Reply-To and its whole thread in References, and the ticket's id as well."""
    await through_listener(database, settings, fixture("plain.eml"))
    await through_listener(database, settings, fixture("reply.eml"))
    assert rows(db_url, "SELECT outcome FROM inbound_events ORDER BY received_at") == [
        ("ticket_opened",),
        ("threaded",),
    ]
    agent = bearer(await make_token("agent", KOCHI))
    response = await client.post(
        f"/api/v1/tickets/{FIRST}/entries",
        json={"kind": "agent_reply", "body": "The refund was sent again today."},
        headers=agent,
    )
    assert response.status_code == 201, response.text
    assert (await send_outbox(database, smtp_server)).sent == 2
    ack, reply = sorted(smtp_server.recorder.messages(), key=lambda m: "Re:" in m["Subject"])
    assert ack["In-Reply-To"] == "<CAF4512.anjali@mail.example.in>"
    assert reply["In-Reply-To"] == "<CAF4512-2.anjali@mail.example.in>"
    assert reply["References"].split() == [
        f"<{FIRST}@sahaya.test>",
        "<CAF4512.anjali@mail.example.in>",
        f"<{FIRST}.5f0c2d7e9b8a4c1d8e3f2a1b0c9d8e7f@sahaya.test>",
        "<CAF4512-2.anjali@mail.example.in>",
    ]
    # The customer's answer to that reply finds the ticket again by its headers alone.
    answer = EmailMessage()
    answer["From"], answer["To"] = "anjali@example.in", "help@sahaya.test"
    answer["Subject"], answer["Message-ID"] = "thanks", "<CAF4512-4.anjali@mail.example.in>"
    answer["In-Reply-To"], answer["References"] = reply["Message-ID"], reply["References"]
    answer.set_content("Got it, thank you.")
    await through_listener(database, settings, bytes(answer))
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]
    assert entries(db_url)[-1] == "Got it, thank you."


async def test_a_reply_joins_its_ticket_and_reopens_it_once_resolved(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
    client: httpx.AsyncClient,
    make_token: TokenFactory,
) -> None:
    mailbox.deliver(fixture("plain.eml"))
    await poll(mailbox, database, settings)
    await resolve(client, make_token, FIRST)

    mailbox.deliver(fixture("reply.eml"))
    polled = await poll(mailbox, database, settings)
    assert (polled.new, polled.error) == (1, None)
    [(number, status)] = rows(db_url, "SELECT number, status FROM tickets")
    assert number == FIRST
    assert status != "resolved"
    assert rows(db_url, "SELECT outcome FROM inbound_events ORDER BY received_at") == [
        ("ticket_opened",),
        ("threaded",),
    ]
    # format=flowed unwrapped, the quoted acknowledgement and its attribution cut off.
    assert entries(db_url)[1] == (
        "The refund has not reached my account yet. Could you check again? It was paid by UPI."
    )
    [(changes,)] = rows(
        db_url,
        "SELECT changes FROM ticket_events WHERE action = 'customer_message'",
    )
    assert changes["status"][0] == "resolved"


async def test_a_follow_up_to_the_customers_own_mail_joins_by_message_id(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
    client: httpx.AsyncClient,
    make_token: TokenFactory,
) -> None:
    """No ticket number anywhere: only In-Reply-To names the customer's first mail."""
    mailbox.deliver(fixture("plain.eml"))
    await poll(mailbox, database, settings)
    await resolve(client, make_token, FIRST)

    mailbox.deliver(fixture("follow-up.eml"))
    await poll(mailbox, database, settings)
    assert rows(db_url, "SELECT number FROM tickets") == [(FIRST,)]
    assert entries(db_url)[1] == "The raita was missing from the same order as well."


async def test_attachments_are_kept_and_refused_files_named(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    mailbox.deliver(fixture("attachment.eml"))
    polled = await poll(mailbox, database, settings)
    assert (polled.new, polled.deferred) == (1, 0)
    [(filename, content_type, size, sha)] = rows(
        db_url, "SELECT filename, content_type, size, sha256 FROM ticket_attachments"
    )
    # Sent as application/octet-stream; the name says what it is.
    assert (filename, content_type, size) == ("invoice-4512.pdf", "application/pdf", 125)
    assert (settings.var_dir / "attachments" / sha[:2] / sha[2:4] / sha).read_bytes()[:5] == (
        b"%PDF-"
    )
    [entry] = entries(db_url)
    assert entry.startswith("The invoice for order 4512 is attached")
    assert "[not kept: setup.exe (application/x-msdownload, 60 bytes): type not accepted]" in entry
    assert "[application/pdf: invoice-4512.pdf]" in entry
    # Processed: the spooled mail is gone.
    assert not list((settings.var_dir / "mail-spool").glob("*.eml"))


async def test_auto_replies_and_bounces_open_no_ticket_and_are_marked_seen(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    """The out-of-office answer comes from the registered customer and names her ticket:
    still no ticket and no message, or the two auto-responders would talk forever."""
    auto = mailbox.deliver(fixture("auto-reply.eml"))
    bounce = mailbox.deliver(fixture("bounce.eml"))
    await poll(mailbox, database, settings)
    assert mailbox.seen() == {auto: True, bounce: True}
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    assert rows(db_url, "SELECT count(*) FROM outbox_messages") == [(0,)]
    found = rows(
        db_url,
        "SELECT kind, outcome, payload->>'text' FROM inbound_events ORDER BY received_at, kind",
    )
    assert sorted(found) == sorted(
        [
            ("message", "ignored", "auto-reply (Auto-Submitted: auto-replied)"),
            ("message", "ignored", "bounce (delivery status notification)"),
            # The report names a message we never sent from this account: kept pending (a
            # report can come before its send commits); the sweep ends it as unmatched.
            ("receipt", None, None),
        ]
    )


async def test_a_bounce_fails_the_message_it_names(
    mailbox: Mailbox,
    database: Database,
    settings: Settings,
    db_url: str,
    smtp_server: SmtpServer,
) -> None:
    """A stranger's registration hint goes out from the mailbox's account; the stranger's
    address does not exist, and the DSN that comes back fails that outbox row."""
    mailbox.deliver(stranger(1))
    await poll(mailbox, database, settings)
    assert (await send_outbox(database, smtp_server)).sent == 1
    [(message_id,)] = rows(db_url, "SELECT provider_message_id FROM outbox_messages")
    mailbox.deliver(
        fixture("bounce.eml", {"<9d2c4b1a0f8e4d7c6b5a4f3e2d1c0b9a@sahaya.test>": message_id})
    )
    await poll(mailbox, database, settings)
    [(state, error)] = rows(db_url, "SELECT state, last_error FROM outbox_messages")
    assert state == OutboundState.FAILED.value
    assert "5.1.1" in error
    assert "User unknown" in error


async def test_a_bounce_fails_an_acknowledgement_sent_by_the_default_smtp_sender(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
    smtp_server: SmtpServer,
) -> None:
    """Acknowledgements leave through SMTP with no account of their own; a bounce of one
    that comes back to the support mailbox still fails it."""
    mailbox.deliver(fixture("plain.eml"))
    await poll(mailbox, database, settings)
    assert (await send_outbox(database, smtp_server)).sent == 1
    [(message_id, account)] = rows(
        db_url, "SELECT provider_message_id, account_id FROM outbox_messages"
    )
    assert account is None
    mailbox.deliver(
        fixture("bounce.eml", {"<9d2c4b1a0f8e4d7c6b5a4f3e2d1c0b9a@sahaya.test>": message_id})
    )
    await poll(mailbox, database, settings)
    assert rows(db_url, "SELECT state FROM outbox_messages") == [(OutboundState.FAILED.value,)]


async def test_an_unknown_sender_opens_no_ticket_and_gets_one_hint_a_day(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
    smtp_server: SmtpServer,
) -> None:
    now = datetime.now(UTC)
    mailbox.deliver(stranger(1))
    mailbox.deliver(stranger(2))
    await poll(mailbox, database, settings, now)
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    hints = "SELECT recipient FROM outbox_messages WHERE template = 'registration_hint'"
    assert rows(db_url, hints) == [("nobody@example.org",)]
    mailbox.deliver(stranger(3))
    await poll(mailbox, database, settings, now + timedelta(hours=25))
    assert rows(db_url, hints) == [("nobody@example.org",)] * 2
    assert rows(db_url, "SELECT outcome FROM inbound_events") == [("unknown_sender",)] * 3

    assert (await send_outbox(database, smtp_server, now + timedelta(hours=26))).sent == 2
    mails = smtp_server.recorder.messages()
    assert {m["To"] for m in mails} == {"nobody@example.org"}
    assert "register" in mails[0]["Subject"]


async def test_a_repeated_mail_is_a_no_op(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    first = mailbox.deliver(fixture("plain.eml"))
    await poll(mailbox, database, settings)
    mailbox.mark_unseen(first)  # as if we crashed before STORE \Seen
    second = mailbox.deliver(fixture("plain.eml"))  # delivered twice
    polled = await poll(mailbox, database, settings)
    assert (polled.fetched, polled.new, polled.repeated) == (2, 0, 2)
    assert mailbox.seen() == {first: True, second: True}
    assert rows(db_url, "SELECT count(*) FROM inbound_events") == [(1,)]
    assert len(entries(db_url)) == 1
    assert rows(db_url, "SELECT count(*) FROM outbox_messages") == [(1,)]


async def test_malayalam_mail_is_decoded(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    mailbox.deliver(fixture("malayalam.eml"))
    await poll(mailbox, database, settings)
    assert rows(db_url, "SELECT subject FROM tickets") == [("ഓർഡർ 4512 വൈകി എത്തി",)]
    [entry] = entries(db_url)
    assert "ഭക്ഷണം തണുത്തിരുന്നു." in entry
    [(name,)] = rows(db_url, "SELECT payload->>'name' FROM inbound_events")
    assert name == "അഞ്ജലി കെ"


async def test_an_html_only_mail_becomes_plain_text(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    mailbox.deliver(fixture("html-only.eml"))
    await poll(mailbox, database, settings)
    assert entries(db_url) == [
        "I ordered veg biryani & got chicken curry instead.\n\nOrder 4513.\nPlease call me."
    ]


async def test_mail_stays_unseen_while_the_database_is_unreachable(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    uid = mailbox.deliver(fixture("plain.eml"))
    down = unreachable_database()
    try:
        polled = await imap.poll(
            inbox=Inbox.from_settings(down, settings),
            account=mailbox.account,
            now=datetime.now(UTC),
        )
    finally:
        await down.dispose()
    assert polled.error is not None
    assert polled.error.startswith("not accepted, left unseen")
    assert mailbox.seen() == {uid: False}
    await poll(mailbox, database, settings)
    assert mailbox.seen() == {uid: True}
    assert rows(db_url, "SELECT number FROM tickets") == [(FIRST,)]


async def test_a_refused_login_is_reported_not_raised(
    dovecot: Dovecot, database: Database, tenant_id: uuid.UUID, settings: Settings
) -> None:
    account = await email_account(
        database,
        tenant_id,
        settings,
        provider=imap.PROVIDER,
        address="locked@sahaya.test",
        account_settings={"host": dovecot.host, "port": dovecot.port, "ssl": False},
        secrets={"username": USER, "password": "wrong"},
    )
    polled = await imap.poll(
        inbox=Inbox.from_settings(database, settings), account=account, now=datetime.now(UTC)
    )
    assert polled.fetched == 0
    assert polled.error is not None
    assert "AUTHENTICATIONFAILED" in polled.error


async def test_the_worker_task_polls_every_imap_account(
    mailbox: Mailbox,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    periodic = build_app(database.url).periodic_registry.periodic_tasks
    assert periodic[("email.poll-imap", "email-poll-imap")].cron == "* * * * * */30"
    uid = mailbox.deliver(fixture("plain.eml"))
    context = SimpleNamespace(additional_context={"database": database, "settings": settings})
    await email_tasks.poll_mailboxes(context, 0)  # type: ignore[arg-type]
    assert mailbox.seen() == {uid: True}
    assert rows(db_url, "SELECT number FROM tickets") == [(FIRST,)]


async def test_the_retry_sweep_reads_attachments_back_from_the_spool(
    mailbox: Mailbox, settings: Settings
) -> None:
    """The registry's media fetcher for email accounts serves the spooled parts."""
    raw = fixture("attachment.eml")
    parsed = inbound.parse(raw, now=datetime.now(UTC), limits=Limits())
    [media] = parsed.message.media
    inbox = Inbox.from_settings(Database("postgresql://unused@127.0.0.1:1/x"), settings)
    assert inbox.spool.keep(raw, parsed.sha256) is True
    assert inbox.spool.keep(raw, parsed.sha256) is False
    async with httpx.AsyncClient() as http:
        fetch = registry.media_fetcher(
            mailbox.account, http, mail_spool=settings.var_dir / "mail-spool"
        )
        assert fetch is not None
        data, mime = await fetch(media.provider_id)
    assert (len(data), mime) == (125, "application/pdf")


async def test_sahaya_email_add_creates_a_pollable_account(
    dovecot: Dovecot,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = f"Cli {uuid.uuid4().hex[:8]}"
    uid = dovecot.deliver(USER, fixture("plain.eml"), mailbox=folder)
    monkeypatch.setenv("SAHAYA_DATABASE_URL", db_url)
    monkeypatch.setenv("SAHAYA_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("SAHAYA_IMAP_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(
            CliRunner().invoke,
            cli,
            [
                "channel", "email", "--address", "Support@Sahaya.test", "--imap-host", dovecot.host,
                "--imap-port", str(dovecot.port), "--no-ssl", "--mailbox", folder,
            ],
        )  # fmt: skip
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "polls 127.0.0.1" in result.output
    polled = await imap.poll_all(
        inbox=Inbox.from_settings(database, settings),
        secret_key=settings.secret_key.get_secret_value(),
        now=datetime.now(UTC),
    )
    assert [(p.new, p.error) for p in polled.values()] == [(1, None)]
    assert dovecot.flags(USER, folder)[uid] >= {"\\Seen"}
    assert rows(db_url, "SELECT provider, address FROM channel_accounts") == [
        ("imap", "support@sahaya.test")
    ]


# -- the SMTP listener -------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_listener(
    inbox: Inbox,
    account_for: listener.AccountFor,
    tls: ssl.SSLContext | None = None,
    require_tls: bool = False,
) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    server = await listener.start(
        handler=listener.MailHandler(inbox, account_for),
        host="127.0.0.1",
        port=port,
        hostname="mx.sahaya.test",
        tls=tls,
        require_tls=require_tls,
    )
    try:
        yield "127.0.0.1", port
    finally:
        await listener.stop(server)


def smtp_send(address: tuple[str, int], sender: str, recipients: list[str], raw: bytes) -> None:
    with smtplib.SMTP(*address, timeout=10) as smtp:
        smtp.sendmail(sender, recipients, raw)


async def through_listener(
    database: Database, settings: Settings, *mails: bytes, sender: str = "anjali@example.in"
) -> None:
    """Deliver mails to help@sahaya.test through a real SMTP listener, one session each."""
    inbox = Inbox.from_settings(database, settings)
    secret = settings.secret_key.get_secret_value()
    async with running_listener(inbox, listener.account_source(inbox, secret)) as address:
        for raw in mails:
            await asyncio.to_thread(smtp_send, address, sender, ["help@sahaya.test"], raw)


@pytest.fixture
async def listener_account(
    database: Database, tenant_id: uuid.UUID, settings: Settings
) -> ChannelAccount:
    return await email_account(
        database, tenant_id, settings, provider=listener.PROVIDER, address="Help@Sahaya.test"
    )


async def test_the_smtp_listener_opens_a_ticket_and_relays_nothing(
    listener_account: ChannelAccount,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    inbox = Inbox.from_settings(database, settings)
    secret = settings.secret_key.get_secret_value()
    async with running_listener(inbox, listener.account_source(inbox, secret)) as address:
        await asyncio.to_thread(
            smtp_send, address, "anjali@example.in", ["help@sahaya.test"], fixture("plain.eml")
        )
        assert rows(db_url, "SELECT number, channel, subject FROM tickets") == [
            (FIRST, "email", "Order 4512 arrived cold")
        ]
        # Sent again (the client never saw our 250): a no-op.
        await asyncio.to_thread(
            smtp_send, address, "anjali@example.in", ["help@sahaya.test"], fixture("plain.eml")
        )
        assert rows(db_url, "SELECT count(*) FROM inbound_events") == [(1,)]
        # Not one of our addresses: refused, this is no relay.
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            await asyncio.to_thread(
                smtp_send, address, "anjali@example.in", ["x@elsewhere.test"], b"Subject: x\r\n\r\n"
            )
        assert refused.value.recipients["x@elsewhere.test"][0] == 550
        # A bounce (null envelope sender) is recognised like in a mailbox.
        await asyncio.to_thread(
            smtp_send,
            address,
            "",
            ["help@sahaya.test"],
            fixture("plain.eml", {"CAF4512.anjali": "CAF4512-again.anjali"}),
        )
    assert rows(
        db_url, "SELECT outcome, payload->>'text' FROM inbound_events ORDER BY received_at"
    )[-1] == ("ignored", "bounce (null return path)")


async def test_a_mail_with_a_huge_body_still_opens_its_ticket(
    listener_account: ChannelAccount,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    """A pasted log of 1.3 MB of distinct words: its first 50,000 characters become the
    ticket's search words (PostgreSQL refuses a search vector over 1 MB); the whole text
    is kept in the thread."""
    import secrets

    text = "\n".join(" ".join(secrets.token_hex(6) for _ in range(10)) for _ in range(10_000))
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "anjali@example.in", "help@sahaya.test", "log"
    mail["Message-ID"] = "<huge.log@example.in>"
    mail.set_content(text)
    await through_listener(database, settings, mail.as_bytes(policy=smtp_policy))
    assert rows(db_url, "SELECT number FROM tickets") == [(FIRST,)]
    kept = rows(db_url, "SELECT length(body) FROM ticket_entries")
    assert kept
    assert int(str(kept[0][0])) >= len(text)


async def test_a_mail_in_a_broken_charset_still_opens_its_ticket(
    listener_account: ChannelAccount,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    """Found by fuzzing: UTF-7 `+2AA-` decodes to a lone surrogate, which PostgreSQL
    cannot hold; the listener answered a permanent 500 and the mail was lost."""
    raw = (
        b"From: anjali@example.in\r\nTo: help@sahaya.test\r\nSubject: cold\r\n"
        b"Message-ID: <utf7@example.in>\r\nContent-Type: text/plain; charset=utf-7\r\n"
        b"\r\nfood +2AA- cold\r\n"
    )
    await through_listener(database, settings, raw)
    assert rows(db_url, "SELECT number FROM tickets") == [(FIRST,)]
    assert rows(db_url, "SELECT body FROM ticket_entries") == [("food \ufffd cold",)]


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate for `name` (and 127.0.0.1, where the tests connect) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "mx.crt", folder / "mx.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def smtp_send_tls(
    address: tuple[str, int], trusted: Path, sender: str, recipients: list[str], raw: bytes
) -> None:
    with smtplib.SMTP(*address, timeout=10) as smtp:
        smtp.starttls(context=ssl.create_default_context(cafile=str(trusted)))
        smtp.sendmail(sender, recipients, raw)


async def test_the_smtp_listener_offers_starttls_and_can_require_it(
    listener_account: ChannelAccount,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
    tmp_path: Path,
) -> None:
    """With a certificate the listener offers STARTTLS; required, a plain delivery is
    refused (530) and nothing is kept, and the same mail over TLS opens the ticket."""
    cert, key = self_signed(tmp_path, "mx.sahaya.test")
    inbox = Inbox.from_settings(database, settings)
    accounts_for = listener.account_source(inbox, settings.secret_key.get_secret_value())
    tls = listener.tls_context(cert, key)
    async with running_listener(inbox, accounts_for, tls, require_tls=True) as address:
        with pytest.raises(smtplib.SMTPSenderRefused) as plain:
            await asyncio.to_thread(
                smtp_send, address, "anjali@example.in", ["help@sahaya.test"], fixture("plain.eml")
            )
        assert plain.value.smtp_code == 530
        assert rows(db_url, "SELECT count(*) FROM inbound_events") == [(0,)]
        await asyncio.to_thread(
            smtp_send_tls,
            address,
            cert,
            "anjali@example.in",
            ["help@sahaya.test"],
            fixture("plain.eml"),
        )
    assert rows(db_url, "SELECT number, channel FROM tickets") == [(FIRST, "email")]


def test_tls_settings_come_as_a_pair() -> None:
    with pytest.raises(ValueError, match="go together"):
        Settings(smtp_tls_cert=Path("mx.crt"))
    with pytest.raises(ValueError, match="REQUIRE_TLS needs"):
        Settings(smtp_require_tls=True)


async def test_the_smtp_listener_answers_451_while_the_database_is_unreachable(
    listener_account: ChannelAccount, database: Database, settings: Settings, db_url: str
) -> None:
    down = unreachable_database()
    try:
        unreachable = Inbox.from_settings(down, settings)
        secret = settings.secret_key.get_secret_value()
        # RCPT: the address cannot even be looked up.
        async with running_listener(
            unreachable, listener.account_source(unreachable, secret)
        ) as address:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                await asyncio.to_thread(
                    smtp_send, address, "a@example.in", ["help@sahaya.test"], fixture("plain.eml")
                )
        assert refused.value.recipients["help@sahaya.test"][0] == 451

        # DATA: the address is known, the mail cannot be kept.
        async def known(_: str) -> ChannelAccount:
            return listener_account

        async with running_listener(unreachable, known) as address:
            with pytest.raises(smtplib.SMTPDataError) as data:
                await asyncio.to_thread(
                    smtp_send, address, "a@example.in", ["help@sahaya.test"], fixture("plain.eml")
                )
        assert data.value.smtp_code == 451
    finally:
        await down.dispose()
    assert rows(db_url, "SELECT count(*) FROM inbound_events") == [(0,)]


async def test_the_worker_runs_the_listener_when_a_port_is_set(
    listener_account: ChannelAccount,
    customer: uuid.UUID,
    db_url: str,
    settings: Settings,
) -> None:
    port = free_port()
    configured = settings.model_copy(update={"smtp_listen_port": port})
    worker = asyncio.create_task(
        run_worker(
            db_url,
            concurrency=1,
            fetch_job_polling_interval=0.1,
            install_signal_handlers=False,
            settings=configured,
        )
    )
    try:
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            try:
                await asyncio.to_thread(
                    smtp_send,
                    ("127.0.0.1", port),
                    "anjali@example.in",
                    ["help@sahaya.test"],
                    fixture("plain.eml"),
                )
                break
            except ConnectionRefusedError:
                assert asyncio.get_running_loop().time() < deadline, "no listener"
                await asyncio.sleep(0.1)
        assert rows(db_url, "SELECT number, channel FROM tickets") == [(FIRST, "email")]
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


# -- parsing, without servers ------------------------------------------------------------


def _mail(headers: dict[str, str], text: str = "Hello") -> bytes:
    mail = EmailMessage()
    mail["From"] = "Anjali K <anjali@example.in>"
    mail["Message-ID"] = "<x@example.in>"
    for name, value in headers.items():
        mail[name] = value
    mail.set_content(text)
    return bytes(mail)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Auto-Submitted": "no"}, None),
        ({"Auto-Submitted": "auto-generated"}, "auto-reply (Auto-Submitted: auto-generated)"),
        ({"X-Autoreply": "yes"}, "auto-reply (X-Autoreply)"),
        ({"X-Autorespond": "On vacation"}, "auto-reply (X-Autorespond)"),
        ({"Precedence": "bulk"}, "auto-reply (Precedence: bulk)"),
        ({"Precedence": "auto_reply"}, "auto-reply (Precedence: auto_reply)"),
        ({"List-Id": "<offers.example.in>"}, "mailing list (List-Id)"),
        ({"Return-Path": "<>"}, "bounce (null return path)"),
        ({"X-Sahaya-Ticket": "AF-000001"}, "our own mail"),
    ],
)
def test_machine_mail_is_recognised(headers: dict[str, str], expected: str | None) -> None:
    parsed = inbound.parse(_mail(headers), now=datetime.now(UTC), limits=Limits())
    assert parsed.message.kind == (InboundKind.UNSUPPORTED if expected else InboundKind.TEXT)
    assert (
        automated.reason(
            BytesParser(policy=default_policy).parsebytes(_mail(headers)),
            "anjali@example.in",
            frozenset(),
        )
        == expected
    )


def test_postmaster_and_our_own_address_are_not_customers() -> None:
    now = datetime.now(UTC)
    daemon = _mail({}).replace(b"anjali@example.in", b"postmaster@mx.example.in")
    assert (
        inbound.parse(daemon, now=now, limits=Limits()).message.text == "bounce (from postmaster)"
    )
    own = inbound.parse(_mail({}), now=now, limits=Limits(), own=frozenset({"anjali@example.in"}))
    assert own.message.text == "our own mail"


@pytest.mark.parametrize(
    ("subject", "references", "expected"),
    [
        ("Re: Order 4512 [AF-000123]", (), "AF-000123"),
        ("Re: We have received your request — ticket AF-000042", (), "AF-000042"),
        ("Order 4512 arrived cold", (), None),
        ("Re: [AR-000007] ride", ("AF-000123.abc@sahaya.test",), "AF-000123"),
        ("Re: hello", ("CAF.x@gmail.com", "AF-000009@sahaya.test"), "AF-000009"),
        ("Order AB-12 and 4512", ("someone@example.in",), None),
    ],
)
def test_the_ticket_hint(subject: str, references: tuple[str, ...], expected: str | None) -> None:
    assert inbound.ticket_hint(subject, references) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks!\n\nOn Mon, 23 Nov 2026, Support <s@x.in> wrote:\n> old", "Thanks!"),
        ("Thanks!\nOn Mon, 23 Nov 2026 at 11:30, Support\n<s@x.in> wrote:\n> old", "Thanks!"),
        ("ശരി\n\n2026, നവം 23 11:30 AM-ന്, Support <s@x.in> എഴുതി:\n> old", "ശരി"),
        ("Fine.\n\n-----Original Message-----\nFrom: Support", "Fine."),
        ("Fine.\n________________________________\nFrom: Support\nSent: Monday", "Fine."),
        ("Yes\n> quoted\nand more", "Yes\nand more"),
        ("Call me.\n-- \nAnjali\n9847012345", "Call me."),
        ("> only a quote", "> only a quote"),
    ],
)
def test_quoted_history_is_cut(text: str, expected: str) -> None:
    assert body.strip_quotes(text) == expected


@pytest.mark.parametrize(
    ("raw", "kind", "name", "text"),
    [
        # Raw UTF-8 in headers and body, nothing declared (RFC 6532 style, or a sloppy client).
        (
            "From: അഞ്ജലി <a@example.in>\r\nSubject: ഓർഡർ\r\n\r\nഹലോ\x00\r\n".encode(),
            InboundKind.TEXT,
            "അഞ്ജലി",
            "ഹലോ",
        ),
        (
            b"From: a@example.in\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nqapla\r\n",
            InboundKind.TEXT,
            None,
            "qapla",
        ),
        (b"From: <<<@@@>>>\r\n\r\nhello\r\n", InboundKind.UNSUPPORTED, None, "no sender address"),
        (
            b"From: a@example.in\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n"
            b"--X\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
            b"--X\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.in\r\nSubject: old\r\n\r\n"
            b"old body\r\n--X--\r\n",
            InboundKind.TEXT,
            None,
            "see below\n[not kept: an attached mail, 'old']",
        ),
    ],
)
def test_awkward_mails_are_read_as_well_as_they_can_be(
    raw: bytes, kind: InboundKind, name: str | None, text: str
) -> None:
    message = inbound.parse(raw, now=datetime.now(UTC), limits=Limits()).message
    assert (message.kind, message.name, message.text) == (kind, name, text)


def test_an_unreadable_mail_is_kept_as_unsupported() -> None:
    parsed = inbound.parse(b"\x00\xff garbage", now=datetime.now(UTC), limits=Limits())
    assert parsed.message.kind == InboundKind.UNSUPPORTED
    assert parsed.message.provider_message_id == f"sha256:{parsed.sha256}"


def test_outbound_threading_headers_only_for_tickets() -> None:
    sender = SmtpSender(SmtpConfig(host="unused", mail_from=MAIL_FROM))

    def built(reference: str | None, subject: str) -> EmailMessage:
        return sender.build(
            OutboundMessage(
                id=uuid.uuid4(),
                channel=Channel.EMAIL,
                recipient="anjali@example.in",
                subject=subject,
                body="Your refund is on its way.",
                template="agent_reply",
                language="en",
                reference=reference,
            ),
            datetime.now(UTC),
        )

    reply = built("AF-000123", "Refund")
    assert reply["Subject"] == "Refund [AF-000123]"
    assert (reply["In-Reply-To"], reply["References"]) == ("<AF-000123@sahaya.test>",) * 2
    already = built("AF-000123", "Re: Refund [AF-000123]")
    assert already["Subject"] == "Re: Refund [AF-000123]"
    notice = built("away:+919400000001", "Executive away")
    assert notice["In-Reply-To"] is None
    assert notice["Subject"] == "Executive away"


def test_a_long_thread_is_trimmed_and_long_ids_are_never_encoded() -> None:
    """Outlook writes Message-IDs of 80+ characters; the email package used to RFC 2047-
    encode a word longer than a line, which no mail client would match again."""
    outlook = "DB9PR04MB8445D8D4B3A1C7F2E8F1E6A5C9A12@DB9PR04MB8445.eurprd04.prod.outlook.com"
    thread = [f"old-{n}@example.in" for n in range(30)]
    raw = {"message_id": f"<{outlook}>", "references": thread}
    answered = threads.Answered.from_raw(raw)
    mail = SmtpSender(SmtpConfig(host="unused", mail_from=MAIL_FROM)).build(
        OutboundMessage(
            id=uuid.uuid4(),
            channel=Channel.EMAIL,
            recipient="anjali@example.in",
            subject="Refund",
            body="Your refund is on its way.",
            template="agent_reply",
            language="en",
            reference="AF-000123",
        ),
        datetime.now(UTC),
        answered,
    )
    received = BytesParser(policy=default_policy).parsebytes(bytes(mail))
    assert received["In-Reply-To"] == f"<{outlook}>"
    references = received["References"].split()
    assert len(references) == threads.MAX_REFERENCES
    assert references[:2] == ["<AF-000123@sahaya.test>", "<old-0@example.in>"]
    assert references[-2:] == ["<old-29@example.in>", f"<{outlook}>"]
    assert b"=?" not in bytes(mail).split(b"\r\n\r\n")[0]
    # A mail without a Message-ID cannot be answered: only the ticket is named.
    assert threads.Answered.from_raw({"message_id": "", "references": thread}) is None


async def test_a_long_sender_address_is_processed_and_an_impossible_one_is_named(
    listener_account: ChannelAccount, database: Database, settings: Settings, db_url: str
) -> None:
    """A 247-character address is valid (RFC 5321 allows 254): before, the conversation's
    200-character column refused it on every try, so the mail was kept but never processed.
    A longer one cannot be anyone's: the mail is kept as having no usable sender."""
    valid = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 50 + ".org"
    impossible = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".e" * 8 + ".org"
    assert (len(valid), len(impossible)) == (247, 276)
    mails = []
    for n, sender in enumerate((valid, impossible)):
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = sender, "help@sahaya.test", "hello"
        mail["Message-ID"] = f"<long.{n}@example.org>"
        mail.set_content("Where is my order?")
        mails.append(bytes(mail))
    await through_listener(database, settings, *mails, sender="x@example.org")
    kept = rows(
        db_url,
        "SELECT outcome, payload->>'text', processed_at IS NOT NULL FROM inbound_events"
        " ORDER BY payload->>'provider_message_id'",
    )
    assert kept == [
        ("unknown_sender", "Where is my order?", True),
        ("ignored", "no sender address", True),
    ]
    hints = "SELECT recipient FROM outbox_messages WHERE template = 'registration_hint'"
    assert rows(db_url, hints) == [(valid,)]


async def test_a_mail_of_many_parts_is_read_once_and_its_refusals_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten files are kept and the other 40 named, at most 20 of them by name; fetching the
    ten kept files from the spool parses the mail once (each fetch parsed all of it before:
    ~12 s for a mail of 4,000 parts)."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "anjali@example.in", "help@sahaya.test", "many"
    mail.set_content("photos of the damage")
    for n in range(50):
        mail.add_attachment(
            f"file {n}".encode(), maintype="application", subtype="pdf", filename=f"f{n}.pdf"
        )
    raw = bytes(mail)
    parsed = inbound.parse(raw, now=datetime.now(UTC), limits=Limits())
    assert len(parsed.message.media) == Limits().max_files
    notes = parsed.message.text.splitlines()[1:]
    assert notes[0] == "[not kept: f10.pdf (application/pdf, 7 bytes): more than 10 files]"
    assert len(notes) == 21
    assert notes[-1] == "[not kept: 20 more parts]"

    from sahaya.channels.email import spool as spool_module

    reads: list[int] = []

    def counted(raw: bytes) -> list[Message]:
        reads.append(len(raw))
        return inbound.parts(raw)

    monkeypatch.setattr(spool_module, "parts", counted)
    spool = spool_module.Spool(tmp_path)
    spool.keep(raw, parsed.sha256)
    fetch = spool.fetcher()
    files = [await fetch(media.provider_id) for media in parsed.message.media]
    assert files == [(f"file {n}".encode(), "application/pdf") for n in range(10)]
    assert reads == [len(raw)]
    with pytest.raises(PermanentSendError):  # pruned from the spool: retrying cannot help
        await fetch("0" * 64 + "#1")
    with pytest.raises(PermanentSendError):
        await fetch(f"{parsed.sha256}#999")


async def test_an_attachment_with_a_broken_content_type_is_kept_not_retried_for_ever(
    listener_account: ChannelAccount,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    """`Content-Type: image/png<NUL>x` (found by fuzzing): PostgreSQL cannot keep a NUL, so
    the message failed on every try. An unreadable type is read as unknown, and the type is
    then taken from the file name, as for application/octet-stream."""
    raw = (
        b"From: anjali@example.in\r\nTo: help@sahaya.test\r\nSubject: cold food\r\n"
        b"Message-ID: <nul.type@example.in>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee attached\r\n"
        b"--B\r\nContent-Type: image/png\x00x\r\n"
        b"Content-Disposition: attachment; filename=a\x00.png\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--B--\r\n"
    )
    await through_listener(database, settings, raw)
    assert rows(db_url, "SELECT outcome, last_error FROM inbound_events") == [
        ("ticket_opened", None)
    ]
    kept = rows(db_url, "SELECT filename, content_type, size FROM ticket_attachments")
    assert kept == [("a.png", "image/png", 8)]
