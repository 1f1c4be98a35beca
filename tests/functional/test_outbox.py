"""The outbox end to end: a new ticket queues its acknowledgement (email + app inbox) in the
ticket's own transaction, and delivery sends it to a real SMTP server (aiosmtpd, started by
the test) with retries, backoff and failure, once only."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import func, select

from sahaya.access import services as access
from sahaya.channels.email.smtp import SmtpConfig, SmtpSender
from sahaya.messaging import AppInboxRow, OutboxMessageRow
from sahaya.messaging import services as messaging
from sahaya.messaging.ports import Sender
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings
from sahaya.tickets import intake as ticket_intake
from sahaya.tickets.attachments import AttachmentStore
from sahaya.tickets.domain import Channel
from sahaya.worker.app import build_app
from tests.conftest import TokenFactory, bearer, free_port
from tests.mailservers import SmtpServer

KOCHI = "kerala/ernakulam/kochi"
MAIL_FROM = "Sahaya Support <support@sahaya.test>"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 for this test."""
    with SmtpServer.start() as server:
        yield server


@pytest.fixture
def sender(smtp_server: SmtpServer) -> SmtpSender:
    return SmtpSender(
        SmtpConfig(host=smtp_server.host, port=smtp_server.port, mail_from=MAIL_FROM, timeout=5)
    )


@pytest.fixture
async def agent(make_token: TokenFactory) -> str:
    return await make_token("agent", KOCHI)


async def customer(
    client: httpx.AsyncClient,
    token: str,
    *,
    phone: str = "9847012345",
    email_address: str | None = "anjali@example.in",
    language: str = "ml",
) -> str:
    response = await client.post(
        "/api/v1/customers",
        json={
            "name": "Anjali K",
            "phone": phone,
            "home_node": KOCHI,
            "email": email_address,
            "language": language,
        },
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def ticket(client: httpx.AsyncClient, token: str, customer_id: str, **fields: Any) -> str:
    body = {
        "customer_id": customer_id,
        "subject": "Order 4512 arrived cold",
        "message": "The biryani was cold.",
        **fields,
    }
    response = await client.post("/api/v1/tickets", json=body, headers=bearer(token))
    assert response.status_code in (200, 201), response.text
    return str(response.json()["number"])


async def outbox(client: httpx.AsyncClient, token: str, number: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/tickets/{number}/outbox", headers=bearer(token))
    assert response.status_code == 200, response.text
    return cast(list[dict[str, Any]], response.json())


async def counts(database: Database) -> tuple[int, int]:
    async with UnitOfWork(database) as uow:
        emails = await uow.session.scalar(select(func.count()).select_from(OutboxMessageRow))
        items = await uow.session.scalar(select(func.count()).select_from(AppInboxRow))
    return int(emails or 0), int(items or 0)


async def deliver(database: Database, sender: Sender, now: datetime) -> messaging.DeliveryRun:
    async with UnitOfWork(database) as uow:
        run = await messaging.deliver_due(uow=uow, sender=sender, now=now, limit=20)
        await uow.commit()
    return run


async def test_a_new_ticket_queues_one_email_and_one_inbox_item(
    client: httpx.AsyncClient, agent: str, database: Database
) -> None:
    customer_id = await customer(client, agent)
    number = await ticket(client, agent, customer_id)

    [queued] = await outbox(client, agent, number)
    assert (queued["channel"], queued["state"], queued["attempts"]) == ("email", "queued", 0)
    assert queued["recipient"] == "anjali@example.in"
    assert queued["language"] == "ml"
    assert number in queued["subject"]
    assert queued["last_error"] is None
    inbox = await client.get(f"/api/v1/customers/{customer_id}/inbox", headers=bearer(agent))
    [item] = inbox.json()
    assert item["title"] == f"നിങ്ങളുടെ പരാതി ലഭിച്ചു — ടിക്കറ്റ് {number}"
    assert "Order 4512 arrived cold" in item["body"]
    assert item["read_at"] is None

    # A message threaded into the open ticket is not a new ticket: no second acknowledgement.
    await ticket(client, agent, customer_id, message="Any update?")
    assert await counts(database) == (1, 1)


async def test_a_ticket_that_rolls_back_leaves_no_message(
    client: httpx.AsyncClient, agent: str, database: Database
) -> None:
    customer_id = await customer(client, agent)
    refused = await client.post(
        "/api/v1/tickets",
        json={"customer_id": customer_id, "service": "nope", "subject": "x", "message": "y"},
        headers=bearer(agent),
    )
    assert refused.status_code == 422
    assert "nope" in refused.json()["detail"]
    assert await counts(database) == (0, 0)

    # Opened in a unit of work the messages exist, flushed beside the ticket; leaving the
    # unit of work without a commit (as any failure does) takes them away with the ticket.
    now = datetime.now(UTC)
    async with UnitOfWork(database) as uow:
        actor = await access.authenticate(uow=uow, token=agent, now=now)
        opened = await ticket_intake.open_ticket(
            uow=uow,
            actor=actor,
            intake=ticket_intake.Intake(
                customer_id=uuid.UUID(customer_id),
                service_code="apnafood",
                channel=Channel.API,
                subject="Cold food",
                message="Cold again",
            ),
            now=now,
            thread_window=timedelta(hours=24),
        )
        assert opened.created
        inside = await uow.session.scalar(select(func.count()).select_from(OutboxMessageRow))
        assert inside == 1
    assert await counts(database) == (0, 0)


async def test_delivery_sends_the_acknowledgement_once(
    client: httpx.AsyncClient,
    agent: str,
    database: Database,
    tenant_id: uuid.UUID,
    sender: SmtpSender,
    smtp_server: SmtpServer,
) -> None:
    customer_id = await customer(client, agent)
    number = await ticket(client, agent, customer_id)

    run = await deliver(database, sender, datetime.now(UTC))
    assert (run.sent, run.retrying, run.failed) == (1, 0, 0)
    [envelope] = smtp_server.recorder.received
    assert envelope.mail_from == "support@sahaya.test"
    assert envelope.rcpt_tos == ["anjali@example.in"]
    [mail] = smtp_server.recorder.messages()
    assert mail["To"] == "anjali@example.in"
    assert mail["From"] == MAIL_FROM
    assert mail["Subject"] == f"നിങ്ങളുടെ പരാതി ലഭിച്ചു — ടിക്കറ്റ് {number}"
    assert mail["X-Sahaya-Ticket"] == number
    assert mail["Auto-Submitted"] == "auto-replied"
    body = mail.get_content()
    assert "നിങ്ങളുടെ പരാതി ഞങ്ങൾക്ക് ലഭിച്ചു" in body
    assert "Order 4512 arrived cold" in body
    assert mail["Date"] is not None

    [sent] = await outbox(client, agent, number)
    assert (sent["state"], sent["attempts"]) == ("sent", 1)
    assert sent["sent_at"] is not None
    assert sent["provider_message_id"] == mail["Message-ID"]
    assert mail["Message-ID"].startswith(f"<{number}.")

    # Idempotent: a sent row is never picked again, however late the next run.
    again = await deliver(database, sender, datetime.now(UTC) + timedelta(days=1))
    assert again.handled == 0
    assert len(smtp_server.recorder.received) == 1

    # A delivery receipt moves it to delivered, once.
    receipts = []
    for _ in range(2):
        async with UnitOfWork(database) as uow:
            receipts.append(
                await messaging.mark_delivered(
                    uow=uow,
                    tenant_id=tenant_id,
                    provider_message_id=mail["Message-ID"],
                    now=datetime.now(UTC),
                )
            )
            await uow.commit()
    assert receipts == [True, False]
    [delivered] = await outbox(client, agent, number)
    assert delivered["state"] == "delivered"
    assert delivered["delivered_at"] is not None


async def test_english_customer_gets_the_english_text(
    client: httpx.AsyncClient,
    agent: str,
    database: Database,
    sender: SmtpSender,
    smtp_server: SmtpServer,
) -> None:
    customer_id = await customer(client, agent, language="en")
    number = await ticket(client, agent, customer_id)
    await deliver(database, sender, datetime.now(UTC))
    [mail] = smtp_server.recorder.messages()
    assert mail["Subject"] == f"We have received your request — ticket {number}"
    assert "reply to this message" in mail.get_content()


async def test_a_transient_refusal_is_retried_with_backoff(
    client: httpx.AsyncClient,
    agent: str,
    database: Database,
    sender: SmtpSender,
    smtp_server: SmtpServer,
) -> None:
    customer_id = await customer(client, agent)
    number = await ticket(client, agent, customer_id)
    smtp_server.recorder.data_replies.append("451 4.3.0 Mailbox busy, try again later")

    now = datetime.now(UTC)
    run = await deliver(database, sender, now)
    assert (run.sent, run.retrying) == (0, 1)
    [waiting] = await outbox(client, agent, number)
    assert (waiting["state"], waiting["attempts"]) == ("queued", 1)
    assert "451" in waiting["last_error"]
    assert datetime.fromisoformat(waiting["next_attempt_at"]) == now + timedelta(seconds=30)
    assert smtp_server.recorder.received == []

    assert (await deliver(database, sender, now + timedelta(seconds=10))).handled == 0
    later = await deliver(database, sender, now + timedelta(seconds=31))
    assert later.sent == 1
    [sent] = await outbox(client, agent, number)
    assert (sent["state"], sent["attempts"], sent["last_error"]) == ("sent", 2, None)
    assert len(smtp_server.recorder.received) == 1


async def test_a_permanent_refusal_fails_the_message(
    client: httpx.AsyncClient,
    agent: str,
    database: Database,
    sender: SmtpSender,
    smtp_server: SmtpServer,
) -> None:
    customer_id = await customer(client, agent)
    number = await ticket(client, agent, customer_id)
    smtp_server.recorder.rcpt_replies.append("550 5.1.1 No such user here")

    now = datetime.now(UTC)
    assert (await deliver(database, sender, now)).failed == 1
    [failed] = await outbox(client, agent, number)
    assert (failed["state"], failed["attempts"]) == ("failed", 1)
    assert "550" in failed["last_error"]
    assert failed["failed_at"] is not None
    assert failed["next_attempt_at"] is None
    assert (await deliver(database, sender, now + timedelta(days=2))).handled == 0


async def test_gives_up_after_six_transient_refusals(
    client: httpx.AsyncClient,
    agent: str,
    database: Database,
    sender: SmtpSender,
    smtp_server: SmtpServer,
) -> None:
    customer_id = await customer(client, agent)
    number = await ticket(client, agent, customer_id)
    smtp_server.recorder.data_replies.extend(["421 4.7.0 Try later"] * 6)

    now = datetime.now(UTC)
    for attempt in range(1, 7):
        now += timedelta(hours=7)
        run = await deliver(database, sender, now)
        assert run.handled == 1, attempt
    [failed] = await outbox(client, agent, number)
    assert (failed["state"], failed["attempts"]) == ("failed", 6)
    assert failed["last_error"].startswith("gave up after 6 attempts: 421")


async def test_nothing_listens_on_the_port_is_transient(
    client: httpx.AsyncClient, agent: str, database: Database
) -> None:
    customer_id = await customer(client, agent)
    number = await ticket(client, agent, customer_id)
    nobody = SmtpSender(SmtpConfig(host="127.0.0.1", port=free_port(), timeout=2))
    assert (await deliver(database, nobody, datetime.now(UTC))).retrying == 1
    [waiting] = await outbox(client, agent, number)
    assert waiting["state"] == "queued"
    assert "ConnectionRefusedError" in waiting["last_error"]


async def test_a_customer_without_email_gets_only_the_inbox_item(
    client: httpx.AsyncClient, agent: str, database: Database
) -> None:
    customer_id = await customer(client, agent, email_address=None)
    number = await ticket(client, agent, customer_id)
    assert await outbox(client, agent, number) == []
    assert await counts(database) == (0, 1)


async def test_osticket_autorespond_false_sends_no_acknowledgement(
    client: httpx.AsyncClient, agent: str, database: Database, make_token: TokenFactory
) -> None:
    await customer(client, agent, email_address="api@osticket.com", language="en")
    key = await make_token("agent", "kerala")
    request = {
        "name": "Angry User",
        "email": "api@osticket.com",
        "phone": "9847012345",
        "subject": "Testing API",
        "message": "MESSAGE HERE",
        "autorespond": False,
    }
    quiet = await client.post("/api/tickets.json", json=request, headers={"X-API-Key": key})
    assert quiet.status_code == 201, quiet.text
    assert await outbox(client, agent, quiet.text) == []
    assert await counts(database) == (0, 0)

    # With autorespond left at its default (true), the next new ticket is acknowledged.
    await client.post(
        f"/api/v1/tickets/{quiet.text}/status", json={"status": "resolved"}, headers=bearer(agent)
    )
    loud = await client.post(
        "/api/tickets.json",
        json={**request, "autorespond": True},
        headers={"X-API-Key": key},
    )
    assert loud.status_code == 201, loud.text
    assert [m["recipient"] for m in await outbox(client, agent, loud.text)] == ["api@osticket.com"]


async def test_inbox_lists_marks_read_and_is_scoped(
    client: httpx.AsyncClient, agent: str, make_token: TokenFactory
) -> None:
    customer_id = await customer(client, agent)
    number = await ticket(client, agent, customer_id)
    url = f"/api/v1/customers/{customer_id}/inbox"
    [item] = (await client.get(url, headers=bearer(agent))).json()

    read = await client.post(f"{url}/{item['id']}/read", headers=bearer(agent))
    assert read.status_code == 200, read.text
    read_at = read.json()["read_at"]
    assert read_at is not None
    again = await client.post(f"{url}/{item['id']}/read", headers=bearer(agent))
    assert again.json()["read_at"] == read_at  # the first read time stays
    [listed] = (await client.get(url, headers=bearer(agent))).json()
    assert listed["read_at"] == read_at

    missing = await client.post(f"{url}/{uuid.uuid4()}/read", headers=bearer(agent))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    other = await make_token("agent", "kerala/ernakulam/aluva")
    for response in (
        await client.get(url, headers=bearer(other)),
        await client.post(f"{url}/{item['id']}/read", headers=bearer(other)),
        await client.get(f"/api/v1/tickets/{number}/outbox", headers=bearer(other)),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


def test_the_smtp_sender_comes_from_settings() -> None:
    assert SmtpSender.from_settings(Settings(environment="test")) is None
    built = SmtpSender.from_settings(
        Settings(environment="test", smtp_host="mail.example.in", smtp_port=2525)
    )
    assert built is not None
    assert (built.config.host, built.config.port) == ("mail.example.in", 2525)


@contextlib.asynccontextmanager
async def running_worker(database: Database, sender: Sender | None) -> AsyncIterator[None]:
    """Like test_worker's helper, with the sender the worker process would build."""
    app = build_app(database.url)
    async with app.open_async():
        task = asyncio.create_task(
            app.run_worker_async(
                additional_context={
                    "database": database,
                    "senders": [sender] if sender is not None else [],
                },
                fetch_job_polling_interval=0.1,
                install_signal_handlers=False,
                wait=True,
            )
        )
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_the_worker_delivers_queued_messages(
    client: httpx.AsyncClient,
    agent: str,
    database: Database,
    sender: SmtpSender,
    smtp_server: SmtpServer,
) -> None:
    customer_id = await customer(client, agent)
    number = await ticket(client, agent, customer_id)

    async with running_worker(database, sender):
        deadline = asyncio.get_running_loop().time() + 15
        while not smtp_server.recorder.received:
            assert asyncio.get_running_loop().time() < deadline, "nothing was sent"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # another sweep or two: still one message

    [mail] = smtp_server.recorder.messages()
    assert number in mail["Subject"]
    [sent] = await outbox(client, agent, number)
    assert sent["state"] == "sent"
    assert sent["provider_message_id"] == mail["Message-ID"]


async def test_an_email_reply_carries_the_agents_files(
    client: httpx.AsyncClient,
    agent: str,
    database: Database,
    sender: SmtpSender,
    smtp_server: SmtpServer,
    settings: Settings,
) -> None:
    customer_id = await customer(client, agent)
    number = await ticket(client, agent, customer_id)
    reply = {
        "kind": "agent_reply",
        "body": "Your refund receipt is attached.",
        "attachments": [
            {"filename": "refund.pdf", "content_type": "application/pdf", "data": "JVBERi0x"}
        ],
    }
    posted = await client.post(
        f"/api/v1/tickets/{number}/entries", json=reply, headers=bearer(agent)
    )
    assert posted.status_code == 201
    store = AttachmentStore(settings.var_dir / "attachments")
    async with UnitOfWork(database) as uow:
        run = await messaging.deliver_due(
            uow=uow, sender=sender, now=datetime.now(UTC), read_file=store.read
        )
        await uow.commit()
    assert run.sent == 2  # the acknowledgement and the reply
    [mail] = [m for m in smtp_server.recorder.messages() if "attached" in str(m.get_body())]
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "refund.pdf"
    assert attachment.get_content() == b"%PDF-1"
    assert number in mail["Subject"]
