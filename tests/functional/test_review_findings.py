"""Review findings on the messaging-channel pipeline: each test fails on the code it was
written against and says in its docstring what the correct behaviour is."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from sahaya.channels import registry
from sahaya.channels.whatsapp_cloud.fake import text_message
from sahaya.messaging import accounts
from sahaya.messaging import services as messaging
from sahaya.messaging.domain import Channel
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings
from sahaya.tickets import channel_events
from sahaya.tickets.attachments import AttachmentStore
from sahaya.tickets.inbound import InboundConfig
from tests.conftest import rows
from tests.functional.channel_support import Telegram, WhatsApp, retry
from tests.functional.test_whatsapp import WA_ID


def _signed_items(whatsapp: WhatsApp, *items: dict[str, Any]) -> bytes:
    return json.dumps(whatsapp.fake._envelope(messages=list(items))).encode()


# --- WhatsApp: malformed but signed bodies ---------------------------------------------------


async def test_whatsapp_contacts_card_with_null_phones_is_a_400_not_a_500(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID
) -> None:
    """wire._message iterates `card.get("phones", [])` (channels/whatsapp_cloud/wire.py,
    `contacts` branch): `"phones": null` (or a number) raises TypeError, which escapes
    `parse` as a 500. Correct: odd input is a WireError → 400 (or the card is read without
    phones), never a 500."""
    item = {
        "from": WA_ID,
        "id": "wamid.contacts-null-phones",
        "timestamp": "1735689600",
        "type": "contacts",
        "contacts": [{"name": {"formatted_name": "Ravi"}, "phones": None}],
    }
    response = await whatsapp.post(client, _signed_items(whatsapp, item))
    assert response.status_code in (200, 400)


@pytest.mark.parametrize(
    "item",
    [
        text_message(WA_ID, "my order\u0000 is late", wamid="wamid.nul-text"),
        {
            "from": WA_ID,
            "id": "wamid.nan-location",
            "timestamp": "1735689600",
            "type": "location",
            "location": {"latitude": "NaN", "longitude": "76.3"},
        },
    ],
    ids=["nul-in-text", "nan-latitude"],
)
async def test_whatsapp_input_postgres_cannot_store_is_not_refused_with_503_forever(
    client: httpx.AsyncClient, whatsapp: WhatsApp, customer: uuid.UUID, item: dict[str, Any]
) -> None:
    """A signed message whose text holds U+0000, or whose latitude is "NaN", passes the
    parser; `record_event` then fails in PostgreSQL (jsonb refuses \\u0000 and NaN) with a
    psycopg DataError, which web/webhooks treat as "database unreachable" (UNREACHABLE in
    persistence/unreachable.py includes every psycopg.Error / DBAPIError) → 503. Meta
    retries the same bytes for 7 days, each time a 503, then drops the message: the
    customer's message is lost and nothing is kept for an operator. Correct: the parser
    refuses (400) or sanitises what PostgreSQL cannot store; a data error is not an
    outage."""
    response = await whatsapp.post(client, _signed_items(whatsapp, item))
    assert response.status_code < 500, response.text


async def test_telegram_text_with_a_nul_character_is_not_refused_with_503_forever(
    client: httpx.AsyncClient, telegram: Telegram, customer: uuid.UUID
) -> None:
    """Same for Telegram: a text with U+0000 is answered 503 for ever (Telegram retries
    the update and holds the bot's later updates behind it). Correct: 400 or sanitised."""
    update = {
        "update_id": 900001,
        "message": {
            "message_id": 1,
            "from": {"id": 55512345, "is_bot": False, "first_name": "Anjali"},
            "chat": {"id": 55512345, "type": "private", "first_name": "Anjali"},
            "date": 1735689600,
            "text": "hello\u0000",
        },
    }
    response = await telegram.post(client, update)
    assert response.status_code < 500, response.text


# --- the retry sweep -----------------------------------------------------------------------


async def test_one_event_whose_payload_cannot_be_read_does_not_stop_the_retry_sweep(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
) -> None:
    """retry_pending (tickets/channel_events.py) rebuilds each event with
    `message_from_payload` *outside* its try/savepoint: one row whose payload does not
    parse (an older payload shape, a hand-edited row) raises out of the loop, rolls back the
    whole sweep, and — being the earliest due — is first again on every run, so no other
    kept event is ever processed again. Correct: that event is postponed with its error and
    the others are processed."""
    now = datetime.now(UTC)
    with psycopg.connect(db_url) as conn:
        # Due first: an event whose payload lacks `address` (cannot be rebuilt).
        conn.execute(
            "INSERT INTO inbound_events (id, tenant_id, account_id, dedupe_key, kind, payload,"
            " received_at, attempts, next_attempt_at)"
            " VALUES (%s, %s, %s, 'msg:broken', 'message', %s, %s, 1, %s)",
            (
                uuid.uuid4(),
                tenant_id,
                whatsapp.account_id,
                json.dumps({"provider_message_id": "broken", "kind": "text"}),
                now - timedelta(minutes=5),
                now - timedelta(minutes=5),
            ),
        )
    # A good event, kept unprocessed (its first attempt failed), due a little later.
    good = text_message(WA_ID, "where is my refund", wamid="wamid.good")
    account = await accounts.by_id(
        database=database,
        account_id=whatsapp.account_id,
        secret_key=settings.secret_key.get_secret_value(),
    )
    assert account is not None
    from sahaya.channels.whatsapp_cloud import wire

    [(_, message)] = wire.parse(_signed_items(whatsapp, good)).messages
    from sahaya.messaging import inbound as events

    async with UnitOfWork(database) as uow:
        event_id = await events.record_event(
            uow=uow,
            account=account,
            kind="message",
            dedupe_key=message.dedupe_key,
            payload=events.message_payload(message),
            now=now - timedelta(minutes=4),
        )
        assert event_id is not None
        await uow.commit()

    handled = await retry(database, settings, now)
    assert handled == 1
    assert rows(
        db_url, "SELECT outcome FROM inbound_events WHERE dedupe_key = 'msg:wamid.good'"
    ) == [("ticket_opened",)]
    [(attempts, error)] = rows(
        db_url, "SELECT attempts, last_error FROM inbound_events WHERE dedupe_key = 'msg:broken'"
    )
    assert attempts == 2
    assert error


# --- receipts ----------------------------------------------------------------------------


async def test_a_status_that_arrives_before_the_send_is_committed_is_not_lost(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
) -> None:
    """deliver_due keeps its claimed rows (and the wamid it just got) uncommitted until
    the whole batch is sent; Meta posts `sent`/`delivered` for the first message within a
    second. Such a receipt names no message yet: it must be kept pending (not finished as
    "unchanged", which lost the delivery state) and applied by the retry sweep once the
    send has committed."""
    await whatsapp.text(client, WA_ID, "Is my refund done?")
    now = datetime.now(UTC)
    async with httpx.AsyncClient(timeout=5) as http:
        sender = registry.sender_for(Channel.WHATSAPP, database, settings, http)
        async with UnitOfWork(database) as uow:
            run = await messaging.deliver_due(uow=uow, sender=sender, now=now)
            assert run.sent == 1
            await whatsapp.fake.flush()  # Meta's statuses arrive while the batch is open
            await uow.commit()
    outcomes = rows(db_url, "SELECT outcome FROM inbound_events WHERE kind = 'receipt'")
    assert outcomes == [(None,), (None,)]  # kept, waiting for their message
    await retry(database, settings, now + timedelta(seconds=31))
    [(state, delivered)] = rows(
        db_url,
        "SELECT state, delivered_at IS NOT NULL FROM outbox_messages WHERE channel = 'whatsapp'",
    )
    assert (state, delivered) == ("delivered", True)
    assert sorted(
        o for (o,) in rows(db_url, "SELECT outcome FROM inbound_events WHERE kind = 'receipt'")
    ) == [
        "receipt_applied",
        "receipt_unchanged",
    ]


# --- lock order: quick path against full path -----------------------------------------------


async def test_a_text_and_a_photo_sent_together_into_one_ticket_do_not_deadlock(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
) -> None:
    """The two paths take the same two locks in opposite orders. The full path
    (tickets/inbound.receive) upserts the conversation first (row locked until commit),
    then intake_probe locks the open ticket FOR UPDATE; the quick path (then
    tickets/fast_thread.thread, now keep_or_thread) locked the ticket FOR UPDATE first,
    then upserted the conversation. A customer sending a photo (full path, slowed by the media
    download) and a text (quick path) at once into their open ticket deadlocks; PostgreSQL
    aborts one, and as psycopg errors count as "unreachable" that webhook answers 503.
    Correct: one lock order (e.g. the quick path upserts the conversation before locking
    the ticket), both messages threaded."""
    import asyncio

    from sahaya.channels.whatsapp_cloud import wire
    from sahaya.persistence.unreachable import UNREACHABLE

    assert (await whatsapp.text(client, WA_ID, "my biryani is late")).json()["new"] == 1
    account = await accounts.by_id(
        database=database,
        account_id=whatsapp.account_id,
        secret_key=settings.secret_key.get_secret_value(),
    )
    assert account is not None
    photo = {
        "from": WA_ID,
        "id": "wamid.photo",
        "timestamp": str(int(datetime.now(UTC).timestamp())),
        "type": "image",
        "image": {"id": "media-1", "mime_type": "image/jpeg", "caption": "the box"},
    }
    text = text_message(WA_ID, "and the raita is missing", wamid="wamid.text")
    [(_, photo_message), (_, text_message_)] = wire.parse(
        _signed_items(whatsapp, photo, text)
    ).messages
    downloading, release = asyncio.Event(), asyncio.Event()

    async def slow_fetch(media_id: str) -> tuple[bytes, str]:
        downloading.set()
        await release.wait()
        return b"\xff\xd8 photo", "image/jpeg"

    config = InboundConfig(
        thread_window=timedelta(hours=24),
        store=AttachmentStore(settings.var_dir / "attachments"),
    )

    def accept(message: Any) -> Any:
        return channel_events.accept(
            database=database,
            account=account,
            batch=[message],
            now=datetime.now(UTC),
            config=config,
            fetch_media=slow_fetch,
            unreachable=UNREACHABLE,
        )

    photo_task = asyncio.create_task(accept(photo_message))
    await asyncio.wait_for(downloading.wait(), 5)  # conversation row now locked
    text_task = asyncio.create_task(accept(text_message_))
    await asyncio.sleep(0.5)  # the quick path holds the ticket, waits for the conversation
    release.set()
    results = await asyncio.gather(photo_task, text_task, return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["Accepted", "Accepted"], results
    assert rows(db_url, "SELECT count(*) FROM ticket_entries WHERE kind = 'customer_message'") == [
        (3,)
    ]
