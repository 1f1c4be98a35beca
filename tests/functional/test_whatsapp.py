"""WhatsApp end to end: Meta's documented webhook payloads replayed through the real
endpoint (signed, forged, repeated, concurrent), messages into tickets, unknown senders,
media fetched through a local Graph API fake on a real port, and outbound messages sent
through that fake with its status callbacks posted back — retries, failures, receipts out
of order and the 24-hour rule."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from sahaya.channels.whatsapp_cloud import fake as fake_module
from sahaya.channels.whatsapp_cloud import wire as whatsapp_wire
from sahaya.channels.whatsapp_cloud.fake import Media, sign
from sahaya.messaging import accounts
from sahaya.messaging import services as messaging
from sahaya.messaging.domain import Channel, OutboundKind
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings
from sahaya.tickets import channel_events, fast_thread
from sahaya.tickets.attachments import AttachmentStore
from sahaya.tickets.inbound import InboundConfig
from tests.conftest import TokenFactory, bearer, rows
from tests.functional.channel_support import (
    APP_SECRET,
    VERIFY,
    WhatsApp,
    reply_with_files,
    retry,
)
from tests.functional.channel_support import deliver as deliver_channel

FIXTURES = Path(__file__).parent.parent / "fixtures" / "providers" / "whatsapp"
WA_ID = "919847012345"  # the `customer` fixture's number as WhatsApp writes it
STRANGER = "919846055501"


async def deliver(
    database: Database, settings: Settings, now: datetime, *, timeout: float = 5.0
) -> messaging.DeliveryRun:
    return await deliver_channel(database, settings, Channel.WHATSAPP, now, timeout=timeout)


# --- verification and authenticity -------------------------------------------------------


async def test_the_subscription_handshake_echoes_the_challenge_only_for_our_token(
    client: httpx.AsyncClient, whatsapp: WhatsApp
) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": VERIFY}
    ok = await client.get(whatsapp.url, params=query)
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = await client.get(whatsapp.url, params=query | {"hub.verify_token": "guess"})
    assert wrong.status_code == 403
    unknown = await client.get(f"/webhooks/whatsapp/{uuid.uuid4()}", params=query)
    assert unknown.status_code == 404


async def test_forged_or_unsigned_events_are_refused_and_nothing_is_kept(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    body = (FIXTURES / "text.json").read_bytes()
    forged = await client.post(
        whatsapp.url, content=body, headers={"x-hub-signature-256": sign(body, "not-ours")}
    )
    unsigned = await client.post(whatsapp.url, content=body)
    tampered = await client.post(
        whatsapp.url,
        content=body.replace(b"4512", b"9999"),
        headers={"x-hub-signature-256": sign(body, APP_SECRET)},
    )
    assert [r.status_code for r in (forged, unsigned, tampered)] == [401, 401, 401]
    assert rows(db_url, "SELECT count(*) FROM inbound_events") == [(0,)]
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object": "page"}',
        b'{"object":"whatsapp_business_account",'
        b'"entry":[{"changes":[{"field":"messages","value":{"metadata":{}}}]}]}',
    ],
)
async def test_a_signed_but_malformed_body_gets_400_not_500(
    client: httpx.AsyncClient, whatsapp: WhatsApp, body: bytes
) -> None:
    response = await whatsapp.post(client, body)
    assert response.status_code == 400
    assert response.text


# --- messages into tickets ----------------------------------------------------------------


async def test_a_registered_customers_message_opens_a_ticket_acknowledged_on_whatsapp(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    response = await whatsapp.replay(client, "text.json")
    assert response.status_code == 200
    assert response.json()["new"] == 1
    [(number, channel, subject, node)] = rows(
        db_url,
        "SELECT t.number, t.channel, t.subject, n.path FROM tickets t"
        " JOIN nodes n ON n.id = t.node_id WHERE t.customer_id = %s",
        customer,
    )
    assert (channel, subject, node) == (
        "whatsapp",
        "Where is my order 4512?",
        "kerala/ernakulam/kochi",
    )
    [(body,)] = rows(db_url, "SELECT body FROM ticket_entries WHERE kind = 'customer_message'")
    assert body == "Where is my order 4512?"
    acks = rows(
        db_url,
        "SELECT channel, recipient, account_id FROM outbox_messages ORDER BY channel",
    )
    assert [(c, r) for c, r, _ in acks] == [("email", "anjali@example.in"), ("whatsapp", WA_ID)]
    assert acks[1][2] == whatsapp.account_id
    [(outcome, processed)] = rows(
        db_url, "SELECT outcome, processed_at IS NOT NULL FROM inbound_events"
    )
    assert (outcome, processed) == ("ticket_opened", True)
    assert (
        number in rows(db_url, "SELECT body FROM outbox_messages WHERE channel = 'whatsapp'")[0][0]
    )


async def test_a_repeated_or_concurrently_duplicated_event_makes_one_entry(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    first, second = await asyncio.gather(
        whatsapp.replay(client, "text.json"), whatsapp.replay(client, "text.json")
    )
    again = await whatsapp.replay(client, "text.json")
    assert [r.status_code for r in (first, second, again)] == [200, 200, 200]
    assert sorted(r.json()["new"] for r in (first, second, again)) == [0, 0, 1]
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]
    assert rows(db_url, "SELECT count(*) FROM ticket_entries WHERE kind = 'customer_message'") == [
        (1,)
    ]
    assert rows(db_url, "SELECT count(*) FROM inbound_events") == [(1,)]


async def test_later_messages_thread_into_the_open_ticket(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    await whatsapp.replay(client, "text.json")
    await whatsapp.replay(client, "text-malayalam.json")
    await whatsapp.replay(client, "location.json")
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]
    bodies = [
        b
        for (b,) in rows(
            db_url,
            "SELECT body FROM ticket_entries"
            " WHERE kind = 'customer_message' ORDER BY created_at, id",
        )
    ]
    assert len(bodies) == 3
    assert any("[location: " in b for b in bodies)
    malayalam = json.loads((FIXTURES / "text-malayalam.json").read_bytes())
    text = malayalam["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"]
    assert text in bodies  # the unescaped Malayalam, stored as the customer wrote it
    outcomes = [
        o for (o,) in rows(db_url, "SELECT outcome FROM inbound_events ORDER BY received_at")
    ]
    assert sorted(outcomes) == ["threaded", "threaded", "ticket_opened"]


async def test_both_shapes_of_button_tap_reach_the_ticket_with_their_payload(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    await whatsapp.replay(client, "button-reply.json")
    await whatsapp.replay(client, "template-button.json")
    bodies = " ".join(b for (b,) in rows(db_url, "SELECT body FROM ticket_entries"))
    assert "[button: cancel:4512:yes]" in bodies
    assert "[button: resolved:8812]" in bodies


@pytest.mark.parametrize(
    "fixture", ["reaction.json", "unsupported.json", "template-status-update.json"]
)
async def test_known_but_unsupported_events_are_acknowledged_and_make_no_ticket(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str, fixture: str
) -> None:
    response = await whatsapp.replay(client, fixture)
    assert response.status_code == 200
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    assert {o for (o,) in rows(db_url, "SELECT outcome FROM inbound_events")} <= {"ignored"}


async def test_an_unknown_sender_gets_no_ticket_and_one_registration_hint_a_day(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    units: list[bool] = []  # lean or not, for each unit of work a message's processing took

    def counted(database: Database, *, lean: bool = False) -> UnitOfWork:
        units.append(lean)
        return UnitOfWork(database, lean=lean)

    monkeypatch.setattr(channel_events, "UnitOfWork", counted)
    for text in ("hello?", "anyone there?", "my order is late"):
        assert (await whatsapp.text(client, STRANGER, text)).status_code == 200
    assert units
    assert False not in units  # the hint's claim needs no ORM session (~3× the CPU)
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    hints = rows(db_url, "SELECT recipient, template FROM outbox_messages")
    assert hints == [(STRANGER, "registration_hint")]
    assert rows(db_url, "SELECT outcome, count(*) FROM inbound_events GROUP BY outcome") == [
        ("unknown_sender", 3)
    ]
    # A day later the stranger is told again.
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE conversations SET last_hint_at = last_hint_at - interval '25 hours'")
    await whatsapp.text(client, STRANGER, "hello again")
    assert rows(db_url, "SELECT count(*) FROM outbox_messages") == [(2,)]


async def test_two_senders_in_one_envelope_are_handled_apart(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    response = await whatsapp.replay(client, "two-messages.json")
    assert response.json()["new"] == 2
    assert sorted(o for (o,) in rows(db_url, "SELECT outcome FROM inbound_events")) == [
        "ticket_opened",
        "unknown_sender",
    ]


# --- media -------------------------------------------------------------------------------


async def test_an_image_is_fetched_through_the_graph_api_and_attached(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    photo = b"\xff\xd8\xff\xe0 a photo of a damaged box"
    whatsapp.fake.media["1003383421387256"] = Media(photo, "image/jpeg")
    response = await whatsapp.replay(client, "image.json")
    assert response.json() == {
        "status": "ok",
        "new": 1,
        "repeated": 0,
        "deferred": 0,
        "outcomes": [{"outcome": "ticket_opened", "ticket": "AF-000001"}],
    }
    [(filename, content_type, size)] = rows(
        db_url, "SELECT filename, content_type, size FROM ticket_attachments"
    )
    assert (content_type, size) == ("image/jpeg", len(photo))
    assert filename.endswith(".jpg")
    [(subject,)] = rows(db_url, "SELECT subject FROM tickets")
    assert subject == "Damaged box, order 4512"


async def test_a_medium_of_an_impossible_type_is_named_and_the_message_goes_on(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    """A provider's MIME type that ticket_attachments cannot keep (too long) failed the
    message on every try; now the file is refused and named, like a type we do not take."""
    whatsapp.fake.media["1003383421387256"] = Media(b"\xff\xd8 photo", "image/" + "j" * 200)
    response = await whatsapp.replay(client, "image.json")
    assert response.json()["outcomes"] == [{"outcome": "ticket_opened", "ticket": "AF-000001"}]
    assert rows(db_url, "SELECT count(*) FROM ticket_attachments") == [(0,)]
    [(body,)] = rows(db_url, "SELECT body FROM ticket_entries WHERE kind = 'customer_message'")
    assert "is not a MIME type]" in body


async def test_a_medium_that_cannot_be_fetched_is_kept_and_processed_by_the_retry_sweep(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
) -> None:
    # The Graph API does not have the medium yet when the webhook comes.
    response = await whatsapp.replay(client, "document.json")
    assert response.status_code == 200
    assert response.json()["deferred"] == 1
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    [(attempts, error)] = rows(db_url, "SELECT attempts, last_error FROM inbound_events")
    assert attempts == 1
    assert "code 100" in error
    assert (await whatsapp.replay(client, "document.json")).json()["repeated"] == 1

    document = json.loads((FIXTURES / "document.json").read_bytes())
    media_id = document["entry"][0]["changes"][0]["value"]["messages"][0]["document"]["id"]
    whatsapp.fake.media[media_id] = Media(b"%PDF-1.7 invoice", "application/pdf")
    handled = await retry(database, settings, datetime.now(UTC) + timedelta(minutes=1))
    assert handled == 1
    assert rows(db_url, "SELECT filename FROM ticket_attachments") == [("invoice.pdf",)]
    assert rows(db_url, "SELECT outcome FROM inbound_events") == [("ticket_opened",)]


async def test_a_medium_never_fetched_leaves_the_message_in_a_ticket_after_three_tries(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
) -> None:
    """The Graph API never gives the file (gone, or an outage): the customer's words must not
    wait for it for ever. After three failed tries (~12.5 minutes along the backoff) the
    message opens its ticket and the thread names the file it could not fetch."""
    assert (await whatsapp.replay(client, "document.json")).json()["deferred"] == 1
    start = datetime.now(UTC)
    for minutes in (1, 4):
        assert await retry(database, settings, start + timedelta(minutes=minutes)) == 0
    assert rows(db_url, "SELECT attempts FROM inbound_events") == [(3,)]
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    owed = (await client.get("/healthz")).json()["backlog"]  # what an operator sees meanwhile
    assert owed["inbound_events"]["pending"] == owed["inbound_events"]["failing"] == 1
    assert owed["inbound_events"]["oldest_age_seconds"] >= 0
    assert await retry(database, settings, start + timedelta(minutes=15)) == 1
    assert rows(db_url, "SELECT outcome FROM inbound_events") == [("ticket_opened",)]
    assert (await client.get("/healthz")).json()["backlog"]["inbound_events"]["pending"] == 0
    assert rows(db_url, "SELECT count(*) FROM ticket_attachments") == [(0,)]
    [(body,)] = rows(db_url, "SELECT body FROM ticket_entries WHERE kind = 'customer_message'")
    assert "[file not fetched: invoice.pdf: HTTP 400, code 100" in body


# --- outbound, receipts and the 24-hour window ---------------------------------------------


async def _opened_conversation(client: httpx.AsyncClient, whatsapp: WhatsApp) -> None:
    """The customer writes now, which opens the 24-hour window and a ticket."""
    response = await whatsapp.text(client, WA_ID, "Is my refund done?")
    assert response.json()["new"] == 1


async def test_replies_are_sent_and_receipts_only_move_them_forward(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
) -> None:
    await _opened_conversation(client, whatsapp)
    run = await deliver(database, settings, datetime.now(UTC))
    assert run.sent == 1
    [sent] = whatsapp.fake.sent
    assert (sent.body["to"], sent.body["type"]) == (WA_ID, "text")
    assert "AF-" in sent.body["text"]["body"]
    await whatsapp.fake.flush()  # the fake posts `sent` and `delivered` back, signed
    [(state, wamid)] = rows(
        db_url, "SELECT state, provider_message_id FROM outbox_messages WHERE channel = 'whatsapp'"
    )
    assert (state, wamid) == ("delivered", sent.wamid)
    # `read`, then a late duplicate `delivered`: read stays.
    for status in ("read", "delivered"):
        body = whatsapp.fake._envelope(statuses=[whatsapp.fake._status(sent.wamid, WA_ID, status)])
        assert (await whatsapp.fake.post(body)).status_code == 200
    assert rows(
        db_url, "SELECT state, read_at IS NOT NULL FROM outbox_messages WHERE channel = 'whatsapp'"
    ) == [("read", True)]


async def test_a_failed_status_marks_the_message_failed_with_metas_reason(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
) -> None:
    await _opened_conversation(client, whatsapp)
    whatsapp.fake.fail_status_for[WA_ID] = "Message failed to send because more than 24 hours"
    await deliver(database, settings, datetime.now(UTC))
    await whatsapp.fake.flush()
    [(state, error)] = rows(
        db_url, "SELECT state, last_error FROM outbox_messages WHERE channel = 'whatsapp'"
    )
    assert state == "failed"
    assert "131026" in error


async def test_transient_refusals_are_retried_and_permanent_ones_fail(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
) -> None:
    await _opened_conversation(client, whatsapp)
    now = datetime.now(UTC)
    whatsapp.fake.fail_next.extend([429])
    assert (await deliver(database, settings, now)).retrying == 1
    [(state, attempts, error)] = rows(
        db_url, "SELECT state, attempts, last_error FROM outbox_messages WHERE channel = 'whatsapp'"
    )
    assert (state, attempts) == ("queued", 1)
    assert "130429" in error
    assert (await deliver(database, settings, now + timedelta(seconds=31))).sent == 1

    # A refusal Meta will never accept (bad token) fails at once.
    async with UnitOfWork(database) as uow:
        uow.session.add(
            messaging.channel_message(
                tenant_id=tenant_id,
                route=messaging.Route(Channel.WHATSAPP, whatsapp.account_id, WA_ID),
                body="second reply",
                now=now,
            )
        )
        await uow.commit()
    whatsapp.fake.fail_next.extend([400])
    assert (await deliver(database, settings, now + timedelta(minutes=1))).failed == 1


async def test_outside_the_24_hour_window_only_templates_are_sent(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
) -> None:
    await _opened_conversation(client, whatsapp)
    later = datetime.now(UTC) + timedelta(hours=25)
    route = messaging.Route(Channel.WHATSAPP, whatsapp.account_id, WA_ID)
    with psycopg.connect(db_url) as conn:  # the acknowledgement is not part of this story
        conn.execute("DELETE FROM outbox_messages")
    async with UnitOfWork(database) as uow:
        uow.session.add(
            messaging.channel_message(tenant_id=tenant_id, route=route, body="free text", now=later)
        )
        uow.session.add(
            messaging.channel_message(
                tenant_id=tenant_id,
                route=route,
                body="",
                kind=OutboundKind.TEMPLATE,
                payload={"name": "order_issue_followup", "parameters": ["4512"]},
                now=later,
            )
        )
        await uow.commit()
    run = await deliver(database, settings, later)
    assert (run.sent, run.failed) == (1, 1)
    states = dict(rows(db_url, "SELECT kind, state FROM outbox_messages"))
    assert states == {"text": "failed", "template": "sent"}
    [(error,)] = rows(db_url, "SELECT last_error FROM outbox_messages WHERE kind = 'text'")
    assert "24-hour window" in error
    [sent] = whatsapp.fake.sent  # the free text never reached Meta
    assert sent.body["type"] == "template"
    assert sent.body["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "4512"}
    ]


# --- agent replies -----------------------------------------------------------------------


async def test_an_agents_reply_goes_back_on_whatsapp_or_where_the_agent_says(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    make_token: TokenFactory,
) -> None:
    await _opened_conversation(client, whatsapp)
    [(number,)] = rows(db_url, "SELECT number FROM tickets")
    with psycopg.connect(db_url) as conn:  # leave only the replies in the outbox
        conn.execute("DELETE FROM outbox_messages")
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    url = f"/api/v1/tickets/{number}/entries"
    reply = {"kind": "agent_reply", "body": "Your refund was sent today."}
    assert (await client.post(url, json=reply, headers=agent)).status_code == 201
    by_email = await client.post(url, json=reply | {"channel": "email"}, headers=agent)
    assert by_email.status_code == 201
    telegram = await client.post(url, json=reply | {"channel": "telegram"}, headers=agent)
    assert telegram.status_code == 409
    assert telegram.headers["content-type"] == "application/problem+json"
    assert "telegram" in telegram.json()["detail"]
    note = await client.post(
        url, json={"kind": "internal_note", "body": "x", "channel": "sms"}, headers=agent
    )
    assert note.status_code == 422  # InvalidTicket: a clear problem, not a silent drop
    sent = rows(
        db_url, "SELECT channel, recipient, reference FROM outbox_messages ORDER BY channel"
    )
    assert sent == [("email", "anjali@example.in", number), ("whatsapp", WA_ID, number)]
    history = (await client.get(f"/api/v1/tickets/{number}/history", headers=agent)).json()
    assert {"whatsapp", "email"} <= {
        e["changes"].get("sent_via") for e in history if e["action"] == "agent_reply"
    }


async def test_a_changed_phone_number_takes_the_old_numbers_chat_away_from_the_customer(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    make_token: TokenFactory,
) -> None:
    """The old number may pass to someone else: its chat must not keep writing into the
    customer's ticket, nor receive their replies."""
    await _opened_conversation(client, whatsapp)
    [(number,)] = rows(db_url, "SELECT number FROM tickets")
    admin = bearer(await make_token("admin", "kerala"))
    moved = await client.patch(
        f"/api/v1/customers/{customer}", json={"phone": "09847099999"}, headers=admin
    )
    assert moved.status_code == 200, moved.text
    later = await whatsapp.text(client, WA_ID, "whose ticket is this?")
    assert later.json()["outcomes"] == [{"outcome": "unknown_sender", "ticket": None}]
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM outbox_messages")
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    reply = {"kind": "agent_reply", "body": "Your refund was sent today."}
    sent = await client.post(f"/api/v1/tickets/{number}/entries", json=reply, headers=agent)
    assert sent.status_code == 201, sent.text
    assert (
        rows(db_url, "SELECT channel, recipient FROM outbox_messages WHERE channel <> 'email'")
        == []
    )


async def test_a_username_user_without_a_phone_is_matched_once_their_id_is_linked(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    make_token: TokenFactory,
) -> None:
    """2026 BSUID rollout: `from` is withheld; the user is known only by `user_id`."""
    first = await whatsapp.replay(client, "bsuid-text.json")
    assert first.status_code == 200
    assert rows(db_url, "SELECT outcome FROM inbound_events") == [("unknown_sender",)]
    assert rows(db_url, "SELECT recipient FROM outbox_messages") == [("IN.1502576394655843",)]
    admin = bearer(await make_token("admin"))
    linked = await client.post(
        f"/api/v1/customers/{customer}/identities",
        json={"channel": "whatsapp", "external_id": "IN.1502576394655843"},
        headers=admin,
    )
    assert linked.status_code == 201
    body = (FIXTURES / "bsuid-text.json").read_bytes().replace(b"OEUwAA==", b"OEUwAB==")
    assert (await whatsapp.post(client, body)).json()["new"] == 1
    assert rows(db_url, "SELECT channel, contact_phone FROM tickets") == [
        ("whatsapp", "+919847012345")
    ]


async def test_a_ticket_resolved_while_a_message_threads_into_it_gets_the_message_a_new_ticket(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    """The quick statement (tickets/fast_thread.py) reads the open ticket at its start and
    locks it later. An agent resolving the ticket in between makes the re-check under the
    lock fail: the statement is undone (sahaya_retry_unless) and run again, and the message
    then opens a new ticket. Nothing of the undone try stays."""
    await whatsapp.text(client, WA_ID, "my biryani is late")
    [(number,)] = rows(db_url, "SELECT number FROM tickets")
    async with await psycopg.AsyncConnection.connect(db_url) as agent:
        await agent.execute("SELECT 1 FROM tickets WHERE number = %s FOR UPDATE", (number,))
        reply = asyncio.create_task(whatsapp.text(client, WA_ID, "any update?"))
        for _ in range(200):  # until the statement waits for the ticket's lock
            [(waiting,)] = rows(
                db_url,
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND query LIKE '%%WITH look AS%%'",
            )
            if waiting:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the quick statement never waited for the ticket's lock")
        await agent.execute("UPDATE tickets SET status = 'resolved' WHERE number = %s", (number,))
        await agent.commit()
    outcome = (await reply).json()["outcomes"][0]
    assert outcome["outcome"] == "ticket_opened"
    assert outcome["ticket"] != number
    assert rows(
        db_url,
        "SELECT t.number, count(*) FROM ticket_entries e JOIN tickets t ON t.id = e.ticket_id"
        " WHERE e.kind = 'customer_message' GROUP BY t.number ORDER BY t.number",
    ) == [(number, 1), (outcome["ticket"], 1)]
    assert rows(db_url, "SELECT messages FROM conversations") == [(2,)]
    assert rows(db_url, "SELECT outcome FROM inbound_events ORDER BY received_at") == [
        ("ticket_opened",),
        ("ticket_opened",),
    ]


async def test_a_threaded_message_is_searchable_audited_and_moves_the_ticket(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    make_token: TokenFactory,
) -> None:
    """The second message takes the quick path (tickets/fast_thread.py): it must leave the
    same traces as the full one — thread entry, audit event, search words, updated_at."""
    await whatsapp.text(client, WA_ID, "my biryani is late")
    [(number, before)] = rows(db_url, "SELECT number, updated_at FROM tickets")
    second = await whatsapp.text(client, WA_ID, "also the raita is missing")
    assert second.json()["outcomes"] == [{"outcome": "threaded", "ticket": number}]
    [(after,)] = rows(db_url, "SELECT updated_at FROM tickets")
    assert after > before
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    history = (await client.get(f"/api/v1/tickets/{number}/history", headers=agent)).json()
    assert [e["action"] for e in history][-1] == "customer_message"
    assert history[-1]["changes"] == {"channel": "whatsapp"}
    found = await client.get("/api/v1/tickets", params={"q": "raita"}, headers=agent)
    assert [t["number"] for t in found.json()["items"]] == [number]
    [(messages, linked)] = rows(db_url, "SELECT messages, customer_id FROM conversations")
    assert (messages, linked) == (2, customer)


async def test_the_customer_profile_shows_the_conversation_both_ways(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    make_token: TokenFactory,
) -> None:
    await whatsapp.text(client, WA_ID, "Is my refund done?")
    await deliver(database, settings, datetime.now(UTC))
    await whatsapp.fake.flush()
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    items = (await client.get(f"/api/v1/customers/{customer}/conversation", headers=agent)).json()
    summary = {(i["direction"], i["channel"], i["state"], i["outcome"]) for i in items}
    assert ("in", "whatsapp", None, "ticket_opened") in summary
    assert ("out", "whatsapp", "delivered", None) in summary  # the acknowledgement
    assert ("out", "email", "queued", None) in summary
    assert [i["text"] for i in items if i["direction"] == "in"] == ["Is my refund done?"]
    elsewhere = bearer(await make_token("agent", "kerala/thiruvananthapuram/thiruvananthapuram"))
    hidden = await client.get(f"/api/v1/customers/{customer}/conversation", headers=elsewhere)
    assert hidden.status_code == 404


async def test_buttons_and_media_go_out_in_the_shapes_meta_accepts_and_timeouts_are_retried(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fake_module, "TIMEOUT_SECONDS", 1.0)  # the fake's stall, shortened
    await _opened_conversation(client, whatsapp)
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM outbox_messages")
    now = datetime.now(UTC)
    route = messaging.Route(Channel.WHATSAPP, whatsapp.account_id, WA_ID)
    buttons = {
        "buttons": [
            {"id": "cancel:4512:yes", "title": "Confirm"},
            {"id": "cancel:4512:no", "title": "Keep order"},
        ]
    }
    media = {
        "type": "document",
        "link": "https://files.example.in/invoice.pdf",
        "filename": "invoice.pdf",
    }
    async with UnitOfWork(database) as uow:
        for kind, body, payload in (
            (OutboundKind.BUTTONS, "Cancel order 4512?", buttons),
            (OutboundKind.MEDIA, "Your invoice", media),
        ):
            uow.session.add(
                messaging.channel_message(
                    tenant_id=tenant_id, route=route, body=body, kind=kind, payload=payload, now=now
                )
            )
        await uow.commit()
    whatsapp.fake.fail_next.append("timeout")  # Meta does not answer in time
    run = await deliver(database, settings, now, timeout=0.5)
    assert (run.sent, run.retrying) == (1, 1)
    [(error,)] = rows(db_url, "SELECT last_error FROM outbox_messages WHERE state = 'queued'")
    assert "Timeout" in error
    assert (await deliver(database, settings, now + timedelta(seconds=31))).sent == 1
    shapes = {s.body["type"]: s.body for s in whatsapp.fake.sent}
    assert set(shapes) == {"interactive", "document"}
    action = shapes["interactive"]["interactive"]["action"]
    assert [b["reply"]["id"] for b in action["buttons"]] == ["cancel:4512:yes", "cancel:4512:no"]
    assert shapes["document"]["document"] == {
        "link": "https://files.example.in/invoice.pdf",
        "caption": "Your invoice",
        "filename": "invoice.pdf",
    }


async def test_a_reply_with_a_file_sends_the_text_then_the_uploaded_document(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    make_token: TokenFactory,
) -> None:
    pdf = b"%PDF-1.7 refund receipt"
    await _reply_with_files(client, whatsapp, db_url, make_token, {"refund.pdf": pdf})
    run = await deliver(database, settings, datetime.now(UTC))
    assert run.sent == 1
    assert [s.body["type"] for s in whatsapp.fake.sent] == ["text", "document"]
    assert whatsapp.fake.uploads == [("refund.pdf", "application/pdf", pdf)]
    document = whatsapp.fake.sent[1].body["document"]
    assert document["filename"] == "refund.pdf"
    assert whatsapp.fake.media[document["id"]].data == pdf


async def test_a_copy_waiting_on_a_failed_first_attempt_does_the_work_itself(
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Copies of one event in one process wait for the first attempt instead of the
    database; when that attempt fails without keeping anything (the database went away
    before the event was kept), the copy must not answer "repeated" — it keeps and
    processes the event itself."""

    class Outage(Exception):
        pass

    async def working(media_id: str) -> tuple[bytes, str]:
        return b"\xff\xd8 photo", "image/jpeg"

    keep = fast_thread.keep_or_thread
    calls = 0

    async def fails_first(*args: Any, **kwargs: Any) -> fast_thread.Kept:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.2)  # the copy comes in meanwhile and waits for this attempt
            raise Outage("the database went away before the event was kept")
        return await keep(*args, **kwargs)

    monkeypatch.setattr(fast_thread, "keep_or_thread", fails_first)
    attempt = await _attempts(database, whatsapp, settings, working, Outage)
    first, second = await asyncio.gather(attempt(), attempt(), return_exceptions=True)
    assert isinstance(first, Outage)
    assert isinstance(second, channel_events.Accepted)
    assert (second.new, second.repeated) == (1, 0)
    assert rows(db_url, "SELECT outcome FROM inbound_events") == [("ticket_opened",)]
    assert rows(db_url, "SELECT count(*) FROM ticket_attachments") == [(1,)]
    # And a later copy is answered from memory, with the same result as the database's.
    third = await attempt()
    assert (third.new, third.repeated) == (0, 1)


async def test_a_message_kept_before_the_database_went_away_is_left_to_the_sweep(
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
) -> None:
    """The event is committed by the statement that keeps it (ADR 0012); if processing it
    then finds the database gone, the provider gets its 2xx (a retry would only be a
    repeat), a copy is a repeat, and the retry sweep processes the event when it is due."""

    class Outage(Exception):
        pass

    async def broken(media_id: str) -> tuple[bytes, str]:
        raise Outage(media_id)

    attempt = await _attempts(database, whatsapp, settings, broken, Outage)
    first, second = await asyncio.gather(attempt(), attempt())
    assert (first.new, first.deferred, first.repeated) == (0, 1, 0)
    assert (second.new, second.deferred, second.repeated) == (0, 0, 1)
    [(processed, due)] = rows(db_url, "SELECT processed_at, next_attempt_at FROM inbound_events")
    assert processed is None
    assert due > datetime.now(UTC)
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    assert await retry(database, settings, datetime.now(UTC)) == 0  # not due yet
    image = json.loads((FIXTURES / "image.json").read_bytes())
    media_id = image["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]
    whatsapp.fake.media[media_id] = Media(b"\xff\xd8 photo", "image/jpeg")
    assert await retry(database, settings, due + timedelta(seconds=1)) == 1
    assert rows(db_url, "SELECT outcome FROM inbound_events") == [("ticket_opened",)]
    assert rows(db_url, "SELECT count(*) FROM ticket_attachments") == [(1,)]


async def _attempts(
    database: Database,
    whatsapp: WhatsApp,
    settings: Settings,
    fetch: Any,
    outage: type[Exception],
) -> Any:
    """Accepting the fixture's photo directly, with `outage` counted as the database
    being unreachable."""
    account = await accounts.by_id(
        database=database,
        account_id=whatsapp.account_id,
        secret_key=settings.secret_key.get_secret_value(),
    )
    assert account is not None
    [(_, message)] = whatsapp_wire.parse((FIXTURES / "image.json").read_bytes()).messages
    config = InboundConfig(
        thread_window=timedelta(hours=24),
        store=AttachmentStore(settings.var_dir / "attachments"),
    )

    def attempt() -> Any:
        return channel_events.accept(
            database=database,
            account=account,
            batch=[message],
            now=datetime.now(UTC),
            config=config,
            fetch_media=fetch,
            unreachable=(outage,),
        )

    return attempt


async def test_a_file_we_do_not_keep_is_named_and_the_message_still_opens_a_ticket(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    document = json.loads((FIXTURES / "document.json").read_bytes())
    media_id = document["entry"][0]["changes"][0]["value"]["messages"][0]["document"]["id"]
    whatsapp.fake.media[media_id] = Media(b"MZ\x90\x00", "application/x-msdownload")
    response = await whatsapp.replay(client, "document.json")
    assert response.json()["outcomes"][0]["outcome"] == "ticket_opened"
    assert rows(db_url, "SELECT count(*) FROM ticket_attachments") == [(0,)]
    [(body,)] = rows(db_url, "SELECT body FROM ticket_entries WHERE kind = 'customer_message'")
    assert "[file not kept: invoice.pdf: files of type application/x-msdownload" in body


async def test_a_message_with_a_nul_character_opens_its_ticket(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    """JSON may carry U+0000, which PostgreSQL's text and jsonb refuse: the message is
    kept and opens its ticket, the character dropped."""
    response = await whatsapp.text(client, WA_ID, "order\u0000 4512 late")
    assert response.status_code == 200, response.text
    assert response.json()["new"] == 1
    assert rows(db_url, "SELECT body FROM ticket_entries") == [("order 4512 late",)]


async def test_odd_input_found_by_fuzzing_is_kept_or_refused_never_a_500(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    surrogate = await whatsapp.post(
        client, json.dumps(whatsapp.fake._envelope(messages=[])).encode()
    )  # a valid, empty envelope first: the account works
    assert surrogate.status_code == 200
    lone = await whatsapp.text(client, WA_ID, "late \ud800 again")
    assert lone.status_code == 200, lone.text
    literal = await whatsapp.text(client, WA_ID, "C:\\u0000 end")  # a backslash, then u0000
    assert literal.status_code == 200, literal.text
    bodies = [b for (b,) in rows(db_url, "SELECT body FROM ticket_entries ORDER BY seq")]
    assert bodies == ["late \ufffd again", "C:\\u0000 end"]
    # A forged signature in characters hmac cannot compare: refused, not a 500.
    body = json.dumps(whatsapp.fake._envelope(messages=[])).encode()
    odd = await client.post(
        whatsapp.url,
        content=body,
        headers={"content-type": "application/json", "x-hub-signature-256": "sha256=é".encode()},
    )
    assert odd.status_code == 401
    deep = b"[" * 5_000 + b"]" * 5_000
    assert (await whatsapp.post(client, deep)).status_code == 400
    far = fake_module.text_message(WA_ID, "x")
    far.update(type="location", location={"latitude": 10**400, "longitude": 1})
    del far["text"]
    huge = await whatsapp.post(client, json.dumps(whatsapp.fake._envelope(messages=[far])).encode())
    assert huge.status_code == 400


async def test_long_message_ids_sharing_a_beginning_stay_two_messages(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, db_url: str
) -> None:
    for ending in ("a", "b"):
        message = fake_module.text_message(WA_ID, f"message {ending}", wamid="w" * 320 + ending)
        body = json.dumps(whatsapp.fake._envelope(messages=[message])).encode()
        response = await whatsapp.post(client, body)
        assert response.json()["new"] == 1, response.text
    assert rows(db_url, "SELECT count(*) FROM inbound_events") == [(2,)]


async def _reply_with_files(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    db_url: str,
    make_token: TokenFactory,
    files: dict[str, bytes],
) -> None:
    """An agent's reply carrying `files`, on a fresh conversation with an empty outbox."""
    await _opened_conversation(client, whatsapp)
    await reply_with_files(client, db_url, make_token, files)


async def test_a_file_that_fails_for_a_while_does_not_send_the_text_again(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    make_token: TokenFactory,
) -> None:
    """The text and each file are parts of their own: a retry resumes with the file that
    failed, and receipts for every part find the message."""
    files = {"receipt.pdf": b"%PDF-1.7 receipt", "invoice.pdf": b"%PDF-1.7 invoice"}
    await _reply_with_files(client, whatsapp, db_url, make_token, files)
    whatsapp.fake.fail_next.extend(["ok", 503])  # the text goes; the first document: 503
    now = datetime.now(UTC)
    assert (await deliver(database, settings, now)).retrying == 1
    [text] = whatsapp.fake.sent
    [(state, wamid, parts)] = rows(
        db_url, "SELECT state, provider_message_id, parts FROM outbox_messages"
    )
    assert (state, wamid) == ("queued", text.wamid)
    assert parts == [{"name": "the text", "provider_message_id": text.wamid}]
    assert (await deliver(database, settings, now + timedelta(seconds=31))).sent == 1
    assert [s.body["type"] for s in whatsapp.fake.sent] == ["text", "document", "document"]
    assert [s.body["document"]["filename"] for s in whatsapp.fake.sent[1:]] == list(files)
    [(parts,)] = rows(db_url, "SELECT parts FROM outbox_messages")
    assert [p["provider_message_id"] for p in parts] == [s.wamid for s in whatsapp.fake.sent]
    await whatsapp.fake.flush()  # `sent` and `delivered` for each of the three
    await retry(database, settings, now + timedelta(hours=1))  # those ahead of the commit
    assert rows(db_url, "SELECT state FROM outbox_messages") == [("delivered",)]
    outcomes = rows(db_url, "SELECT DISTINCT outcome FROM inbound_events WHERE kind = 'receipt'")
    assert set(outcomes) <= {("receipt_applied",), ("receipt_unchanged",)}


async def test_a_file_refused_for_good_leaves_a_record_of_what_reached_the_customer(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    make_token: TokenFactory,
) -> None:
    files = {"receipt.pdf": b"%PDF-1.7 receipt", "invoice.pdf": b"%PDF-1.7 invoice"}
    await _reply_with_files(client, whatsapp, db_url, make_token, files)
    whatsapp.fake.fail_next.extend(["ok", "ok", 400])  # the second document is refused
    now = datetime.now(UTC)
    assert (await deliver(database, settings, now)).failed == 1
    [(state, error, parts)] = rows(db_url, "SELECT state, last_error, parts FROM outbox_messages")
    assert state == "failed"
    assert error.startswith("sent: the text, receipt.pdf; not sent: invoice.pdf: HTTP 400")
    assert [p["provider_message_id"] for p in parts] == [s.wamid for s in whatsapp.fake.sent]
    await whatsapp.fake.flush()  # receipts for what was sent still find the message
    await retry(database, settings, now + timedelta(hours=1))  # those ahead of the commit
    outcomes = rows(db_url, "SELECT DISTINCT outcome FROM inbound_events WHERE kind = 'receipt'")
    assert outcomes == [("receipt_unchanged",)]
