"""Telegram end to end: Bot API updates replayed through the real webhook (secret header,
repeats), a chat linked by a shared contact (only the sender's own) or a deep-link token,
messages into tickets, files fetched with getFile, and replies sent through a local Bot
API fake on a real port — with its refusals retried or failed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from sahaya.channels.telegram.fake import (
    callback_update,
    document_update,
    start_update,
    text_update,
)
from sahaya.messaging import services as messaging
from sahaya.messaging.domain import Channel
from sahaya.persistence import Database
from sahaya.settings import Settings
from tests.conftest import TokenFactory, bearer, rows
from tests.functional.channel_support import Telegram, reply_with_files
from tests.functional.channel_support import deliver as deliver_channel

FIXTURES = Path(__file__).parent.parent / "fixtures" / "providers" / "telegram"
CHAT = 55512345  # Anjali's private chat in the fixtures


async def deliver(
    database: Database, settings: Settings, now: datetime, *, timeout: float = 5.0
) -> messaging.DeliveryRun:
    return await deliver_channel(database, settings, Channel.TELEGRAM, now, timeout=timeout)


async def test_updates_without_our_secret_are_refused_and_not_kept(
    client: httpx.AsyncClient, telegram: Telegram, customer: uuid.UUID, db_url: str
) -> None:
    body = (FIXTURES / "text.json").read_bytes()
    wrong = await telegram.post(client, body, secret="guess")
    missing = await client.post(telegram.url, content=body)
    assert [wrong.status_code, missing.status_code] == [403, 403]
    assert rows(db_url, "SELECT count(*) FROM inbound_events") == [(0,)]
    malformed = await telegram.post(client, b'{"message": {}}')
    assert malformed.status_code == 400


async def test_an_unlinked_chat_is_asked_to_share_its_phone_number(
    client: httpx.AsyncClient,
    telegram: Telegram,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
) -> None:
    response = await telegram.replay(client, "text.json")
    assert response.status_code == 200
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    assert rows(db_url, "SELECT outcome FROM inbound_events") == [("unknown_sender",)]
    assert (await deliver(database, settings, datetime.now(UTC))).sent == 1
    [call] = telegram.fake.sent
    assert call.method == "sendMessage"
    assert call.params["chat_id"] == CHAT
    button = call.params["reply_markup"]["keyboard"][0][0]
    assert button == {"text": "Share my phone number", "request_contact": True}


async def test_sharing_ones_own_contact_links_the_chat_and_verifies_the_number(
    client: httpx.AsyncClient, telegram: Telegram, customer: uuid.UUID, db_url: str
) -> None:
    assert (await telegram.replay(client, "contact-own.json")).status_code == 200
    assert rows(db_url, "SELECT outcome FROM inbound_events") == [("linked",)]
    assert rows(
        db_url,
        "SELECT channel, external_id FROM customer_identities WHERE customer_id = %s",
        customer,
    ) == [("telegram", str(CHAT))]
    [(verification, via, at)] = rows(
        db_url,
        "SELECT verification, verified_via, verified_at FROM customers WHERE id = %s",
        customer,
    )
    assert (verification, via) == ("verified", "contact_share")
    assert at is not None
    assert rows(db_url, "SELECT template FROM outbox_messages") == [("channel_linked",)]
    # From now on the chat's messages are the customer's tickets.
    assert (await telegram.replay(client, "text.json")).status_code == 200
    assert rows(db_url, "SELECT channel, subject FROM tickets") == [
        ("telegram", "where is my order")
    ]


async def test_a_forwarded_contact_card_proves_nothing(
    client: httpx.AsyncClient,
    telegram: Telegram,
    customer: uuid.UUID,
    db_url: str,
    make_token: TokenFactory,
) -> None:
    """Someone else's card (contact.user_id ≠ from.id) must not link the chat, even when
    the number on it is a registered customer's."""
    admin = bearer(await make_token("admin"))
    rahul = await client.post(
        "/api/v1/customers",
        json={
            "name": "Rahul Menon",
            "phone": "+919846098765",
            "home_node": "kerala/ernakulam/kochi",
        },
        headers=admin,
    )
    assert rahul.status_code == 201
    assert (await telegram.replay(client, "contact-forwarded.json")).status_code == 200
    assert rows(db_url, "SELECT outcome FROM inbound_events") == [("unknown_sender",)]
    assert rows(db_url, "SELECT count(*) FROM customer_identities") == [(0,)]
    assert rows(
        db_url, "SELECT verification FROM customers WHERE phone_e164 = '+919846098765'"
    ) == [("unverified",)]


async def test_a_deep_link_token_links_the_chat_once(
    client: httpx.AsyncClient,
    telegram: Telegram,
    customer: uuid.UUID,
    db_url: str,
    make_token: TokenFactory,
) -> None:
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    issued = await client.post(
        f"/api/v1/customers/{customer}/link-tokens", json={"channel": "telegram"}, headers=agent
    )
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert issued.json()["url"] == f"https://t.me/apnafood_help_bot?start={token}"
    assert (await telegram.post(client, start_update(900001, CHAT, token))).status_code == 200
    assert rows(db_url, "SELECT external_id FROM customer_identities") == [(str(CHAT),)]
    # The same token from another chat is refused: it was spent.
    await telegram.post(client, start_update(900002, 66600066, token))
    outcomes = rows(db_url, "SELECT outcome FROM inbound_events ORDER BY received_at, outcome")
    assert sorted(o for (o,) in outcomes) == ["link_refused", "linked"]
    assert rows(db_url, "SELECT count(*) FROM customer_identities") == [(1,)]
    templates = sorted(t for (t,) in rows(db_url, "SELECT template FROM outbox_messages"))
    assert templates == ["channel_linked", "link_refused"]


async def _linked(client: httpx.AsyncClient, telegram: Telegram) -> None:
    assert (await telegram.replay(client, "contact-own.json")).json()["new"] == 1


async def test_repeated_updates_are_no_ops_and_files_are_fetched_with_get_file(
    client: httpx.AsyncClient, telegram: Telegram, customer: uuid.UUID, db_url: str
) -> None:
    await _linked(client, telegram)
    file_id = telegram.fake.add_file(b"%PDF-1.7 bill", "application/pdf", "invoice.pdf")
    update = document_update(900010, CHAT, file_id, "invoice.pdf", "application/pdf", "Bill")
    first = await telegram.post(client, update)
    again = await telegram.post(client, update)
    assert (first.json()["new"], again.json()["repeated"]) == (1, 1)
    assert rows(db_url, "SELECT filename, size FROM ticket_attachments") == [("invoice.pdf", 13)]
    tap = callback_update(900011, CHAT, "cancel:4512:yes")
    await telegram.post(client, tap)
    [answered] = [c for c in telegram.fake.sent if c.method == "answerCallbackQuery"]
    assert answered.params["callback_query_id"] == tap["callback_query"]["id"]
    bodies = [b for (b,) in rows(db_url, "SELECT body FROM ticket_entries ORDER BY created_at")]
    assert any("[button: cancel:4512:yes]" in b for b in bodies)
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]


@pytest.mark.parametrize("fixture", ["edited-message.json", "sticker.json", "group-message.json"])
async def test_unsupported_updates_are_acknowledged_without_tickets(
    client: httpx.AsyncClient, telegram: Telegram, customer: uuid.UUID, db_url: str, fixture: str
) -> None:
    await _linked(client, telegram)
    response = await telegram.replay(client, fixture)
    assert response.status_code == 200
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]


async def test_replies_go_out_through_the_bot_with_retries_and_clear_failures(
    client: httpx.AsyncClient,
    telegram: Telegram,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    make_token: TokenFactory,
) -> None:
    await _linked(client, telegram)
    await telegram.post(client, text_update(900020, CHAT, "my refund?"))
    [(number,)] = rows(db_url, "SELECT number FROM tickets")
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM outbox_messages")
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    reply = {"kind": "agent_reply", "body": "Refund sent today."}
    assert (
        await client.post(f"/api/v1/tickets/{number}/entries", json=reply, headers=agent)
    ).status_code == 201
    now = datetime.now(UTC)
    telegram.fake.fail_next.append(429)
    assert (await deliver(database, settings, now)).retrying == 1
    [(error,)] = rows(db_url, "SELECT last_error FROM outbox_messages")
    assert "429" in error
    assert "retry after" in error
    assert (await deliver(database, settings, now + timedelta(seconds=31))).sent == 1
    [call] = telegram.fake.sent
    assert (call.params["chat_id"], call.params["text"]) == (CHAT, "Refund sent today.")
    # The customer blocks the bot: the next reply fails for good, with Telegram's reason.
    telegram.fake.blocked_chats.add(CHAT)
    await client.post(f"/api/v1/tickets/{number}/entries", json=reply, headers=agent)
    assert (await deliver(database, settings, now + timedelta(minutes=1))).failed == 1
    [(state, error)] = rows(
        db_url, "SELECT state, last_error FROM outbox_messages WHERE state <> 'sent'"
    )
    assert state == "failed"
    assert "blocked" in error


async def test_a_reply_with_a_file_follows_as_an_uploaded_document(
    client: httpx.AsyncClient,
    telegram: Telegram,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    make_token: TokenFactory,
) -> None:
    await _linked(client, telegram)
    await telegram.post(client, text_update(900030, CHAT, "bill please"))
    bill = b"%PDF-1.7 bill 4512"
    await reply_with_files(client, db_url, make_token, {"bill.pdf": bill}, body="Your bill:")
    run = await deliver(database, settings, datetime.now(UTC))
    assert run.sent == 1
    assert [c.method for c in telegram.fake.sent] == ["sendMessage", "sendDocument"]
    assert telegram.fake.sent[1].files == {"document": bill}
    assert telegram.fake.sent[1].params["chat_id"] == CHAT


async def test_a_document_refused_for_a_while_follows_later_without_the_text_again(
    client: httpx.AsyncClient,
    telegram: Telegram,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    make_token: TokenFactory,
) -> None:
    await _linked(client, telegram)
    await telegram.post(client, text_update(900031, CHAT, "bill please"))
    bill = b"%PDF-1.7 bill 4512"
    await reply_with_files(client, db_url, make_token, {"bill.pdf": bill}, body="Your bill:")
    telegram.fake.fail_next.extend(["ok", 502])  # the text goes; the document: Bad Gateway
    now = datetime.now(UTC)
    assert (await deliver(database, settings, now)).retrying == 1
    assert (await deliver(database, settings, now + timedelta(seconds=31))).sent == 1
    assert [c.method for c in telegram.fake.sent] == ["sendMessage", "sendDocument"]
    assert telegram.fake.sent[1].files == {"document": bill}
    [(state, parts)] = rows(db_url, "SELECT state, parts FROM outbox_messages")
    assert state == "sent"
    assert [p["name"] for p in parts] == ["the text", "bill.pdf"]
    assert all(str(p["provider_message_id"]).startswith(f"{CHAT}:") for p in parts)
