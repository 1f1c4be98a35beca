"""SMS and the customer app end to end: a sign-in code sent through a local Textlocal fake
(on a real port) and its delivery receipt posted back; the code's rules (wrong tries,
cool-down, unknown numbers); inbound SMS into tickets; Exotel SMS status callbacks; and the
app API scoped to its one customer, with replies arriving on its live stream."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sahaya.channels.exotel import sms as exotel_sms
from sahaya.channels.textlocal import api as textlocal_api
from sahaya.channels.textlocal.fake import FakeTextlocal
from sahaya.messaging import accounts
from sahaya.messaging import services as messaging
from sahaya.messaging.domain import Channel
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings
from sahaya.web.app import create_app
from tests.conftest import TokenFactory, bearer, rows, serving
from tests.functional.channel_support import deliver as deliver_channel

FIXTURES = Path(__file__).parent.parent / "fixtures" / "providers"
APIKEY, KEY = "tl-api-key", "dlr-key-1"
PHONE = "+919847012345"  # the `customer` fixture


@dataclass
class Sms:
    account_id: uuid.UUID
    fake: FakeTextlocal

    def url(self, kind: str, key: str = KEY) -> str:
        return f"/webhooks/sms/{self.account_id}/{kind}?key={key}"


@pytest.fixture
async def sms(
    client: httpx.AsyncClient, database: Database, tenant_id: uuid.UUID, settings: Settings
) -> AsyncIterator[Sms]:
    fake = FakeTextlocal(APIKEY, receipt_client=client)
    async with serving(fake.app) as base:
        account_id = uuid.uuid4()
        async with UnitOfWork(database) as uow:
            row = await accounts.create(
                uow=uow,
                tenant_id=tenant_id,
                channel=Channel.SMS,
                provider=textlocal_api.PROVIDER,
                name="Textlocal",
                address="APNAFD",
                api_base_url=base,
                settings={},
                secrets={"apikey": APIKEY, "webhook_key": KEY},
                secret_key=settings.secret_key.get_secret_value(),
            )
            account_id = row.id
            row.settings = {
                "receipt_url": f"http://sahaya.test/webhooks/sms/{row.id}/receipt?key={KEY}"
            }
            await uow.commit()
        fake.inbound_url = f"http://sahaya.test/webhooks/sms/{account_id}/inbound?key={KEY}"
        yield Sms(account_id, fake)


async def deliver_sms(database: Database, settings: Settings) -> messaging.DeliveryRun:
    return await deliver_channel(database, settings, Channel.SMS, datetime.now(UTC))


async def sign_in(
    client: httpx.AsyncClient, sms: Sms, database: Database, settings: Settings
) -> dict[str, str]:
    sent = await client.post("/api/v1/app/sign-in/code", json={"phone": "09847012345"})
    assert sent.status_code == 202
    assert (await deliver_sms(database, settings)).sent == 1
    code = re.search(r"\b(\d{6})\b", sms.fake.sent[-1].message)
    assert code is not None
    signed = await client.post(
        "/api/v1/app/sign-in", json={"phone": "9847012345", "code": code.group(1)}
    )
    assert signed.status_code == 200, signed.text
    return bearer(signed.json()["token"])


# --- sign-in by SMS code ------------------------------------------------------------------


async def test_a_code_by_sms_signs_the_customer_in_and_verifies_the_number(
    client: httpx.AsyncClient,
    sms: Sms,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
) -> None:
    me = await sign_in(client, sms, database, settings)
    [sent] = sms.fake.sent
    assert (sent.numbers, sent.sender) == (["919847012345"], "APNAFD")
    profile = (await client.get("/api/v1/app/me", headers=me)).json()
    assert (profile["id"], profile["verified_via"]) == (str(customer), "sms_otp")
    # The outbox no longer holds the code; the stored challenge holds only a hash.
    [(body, state)] = rows(db_url, "SELECT body, state FROM outbox_messages")
    assert state in ("sent", "delivered")  # the receipt may already be back
    assert not re.search(r"\d{6}", body)
    [(code_hash,)] = rows(db_url, "SELECT code_hash FROM otp_challenges")
    assert len(code_hash) == 32
    await sms.fake.flush()  # Textlocal's delivery receipt comes back to our webhook
    assert rows(db_url, "SELECT state FROM outbox_messages") == [("delivered",)]
    assert sms.fake.posted[0].status == 200
    signed_out = await client.post("/api/v1/app/sign-out", headers=me)
    assert signed_out.status_code == 204
    assert (await client.get("/api/v1/app/me", headers=me)).status_code == 401


async def test_wrong_codes_run_out_and_a_spent_code_cannot_be_reused(
    client: httpx.AsyncClient,
    sms: Sms,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
) -> None:
    await client.post("/api/v1/app/sign-in/code", json={"phone": PHONE})
    await deliver_sms(database, settings)
    code = re.search(r"\b(\d{6})\b", sms.fake.sent[-1].message)
    assert code is not None
    wrong = f"{(int(code.group(1)) + 1) % 1_000_000:06d}"
    answers = [
        await client.post("/api/v1/app/sign-in", json={"phone": PHONE, "code": wrong})
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [422] * 5
    assert "4 tries left" in answers[0].json()["detail"]
    right = await client.post("/api/v1/app/sign-in", json={"phone": PHONE, "code": code.group(1)})
    assert right.status_code == 422
    assert "too many wrong tries" in right.json()["detail"]


async def test_codes_are_rate_limited_and_unknown_numbers_get_the_same_answer_and_no_sms(
    client: httpx.AsyncClient,
    sms: Sms,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    first = await client.post("/api/v1/app/sign-in/code", json={"phone": PHONE})
    again = await client.post("/api/v1/app/sign-in/code", json={"phone": PHONE})
    assert (first.status_code, again.status_code) == (202, 429)
    assert again.headers["content-type"] == "application/problem+json"
    assert 1 <= int(again.headers["retry-after"]) <= 30
    stranger = await client.post("/api/v1/app/sign-in/code", json={"phone": "+919900000001"})
    assert stranger.status_code == 202
    assert stranger.json()["detail"] == first.json()["detail"]
    assert (await deliver_sms(database, settings)).sent == 1  # only the registered number
    bad = await client.post("/api/v1/app/sign-in/code", json={"phone": "12"})
    assert bad.status_code == 422


async def test_parallel_code_requests_cannot_pass_the_limits_together(
    client: httpx.AsyncClient,
    sms: Sms,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    """Requests sent all at once are judged one after another (per number and per
    address), so the cool-down and the hourly caps hold: no SMS bombing in parallel."""

    async def ask(phone: str) -> int:
        return (await client.post("/api/v1/app/sign-in/code", json={"phone": phone})).status_code

    same_number = await asyncio.gather(*(ask(PHONE) for _ in range(8)))
    assert sorted(same_number) == [202] + [429] * 7  # the 30-second cool-down
    assert (await deliver_sms(database, settings)).sent == 1
    # One address, many numbers: 20 codes an hour, this one has asked for 1 already.
    strangers = [f"+9199000{n:05d}" for n in range(25)]
    from_one_address = await asyncio.gather(*(ask(phone) for phone in strangers))
    assert sorted(from_one_address) == [202] * 19 + [429] * 6
    assert rows(db_url, "SELECT count(*) FROM otp_challenges") == [(20,)]


async def test_a_code_is_never_sent_once_it_expired_and_its_text_is_removed_then(
    client: httpx.AsyncClient,
    sms: Sms,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    """The SMS provider is down (503): a code is retried while it can still be used, and
    fails, its text removed, instead of a retry after its 5 minutes."""
    assert (await client.post("/api/v1/app/sign-in/code", json={"phone": PHONE})).status_code == 202
    asked = datetime.now(UTC)
    sms.fake.fail_next.extend([503, 503, 503])
    for after in (timedelta(0), timedelta(seconds=31), timedelta(minutes=2, seconds=32)):
        await deliver_channel(database, settings, Channel.SMS, asked + after)
    # The next try would be 10 minutes on, long after the code expired: it ends here.
    [(state, body, error)] = rows(db_url, "SELECT state, body, last_error FROM outbox_messages")
    assert state == "failed"
    assert "expires at" in error
    assert not re.search(r"\d{6}", body)
    assert sms.fake.sent == []


async def test_a_code_no_one_sent_before_it_expired_is_failed_and_removed_by_the_sweep(
    client: httpx.AsyncClient,
    sms: Sms,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    """No worker sent it in time (no SMS sender running): the sweep every worker runs
    fails it and removes the code's text; a sender that comes later does not send it."""
    assert (await client.post("/api/v1/app/sign-in/code", json={"phone": PHONE})).status_code == 202
    asked = datetime.now(UTC)
    async with UnitOfWork(database) as uow:  # not yet expired: kept
        assert await messaging.expire_due(uow=uow, now=asked + timedelta(minutes=4)) == 0
        await uow.commit()
    assert re.search(r"\d{6}", rows(db_url, "SELECT body FROM outbox_messages")[0][0])
    async with UnitOfWork(database) as uow:
        assert await messaging.expire_due(uow=uow, now=asked + timedelta(minutes=6)) == 1
        await uow.commit()
    [(state, body, error)] = rows(db_url, "SELECT state, body, last_error FROM outbox_messages")
    assert state == "failed"
    assert "expired" in error
    assert not re.search(r"\d{6}", body)
    await deliver_channel(database, settings, Channel.SMS, asked + timedelta(minutes=7))
    assert sms.fake.sent == []


async def test_a_code_a_worker_reaches_only_after_it_expired_is_not_sent(
    client: httpx.AsyncClient,
    sms: Sms,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    assert (await client.post("/api/v1/app/sign-in/code", json={"phone": PHONE})).status_code == 202
    asked = datetime.now(UTC)
    run = await deliver_channel(database, settings, Channel.SMS, asked + timedelta(minutes=6))
    assert run.failed == 1
    assert sms.fake.sent == []
    [(body, error)] = rows(db_url, "SELECT body, last_error FROM outbox_messages")
    assert "expired" in error
    assert not re.search(r"\d{6}", body)


# --- inbound SMS and provider receipts ------------------------------------------------------


async def test_an_inbound_sms_opens_a_ticket_and_a_repeat_is_a_no_op(
    client: httpx.AsyncClient, sms: Sms, customer: uuid.UUID, db_url: str
) -> None:
    form = (FIXTURES / "textlocal" / "inbound.form").read_text().strip()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    first = await client.post(sms.url("inbound"), content=form, headers=headers)
    again = await client.post(sms.url("inbound"), content=form, headers=headers)
    assert first.json()["outcomes"] == [{"outcome": "ticket_opened", "ticket": "AF-000001"}]
    assert again.json()["new"] == 0
    assert rows(db_url, "SELECT channel, subject FROM tickets") == [
        ("sms", "my order 4512 is late")
    ]
    forged = await client.post(sms.url("inbound", key="guess"), content=form, headers=headers)
    assert forged.status_code == 403
    malformed = await client.post(sms.url("inbound"), content="sender=&content=", headers=headers)
    assert malformed.status_code == 400


async def test_exotel_sms_status_callbacks_mark_messages_delivered_or_failed(
    client: httpx.AsyncClient,
    database: Database,
    tenant_id: uuid.UUID,
    settings: Settings,
    db_url: str,
) -> None:
    async with UnitOfWork(database) as uow:
        account = await accounts.create(
            uow=uow,
            tenant_id=tenant_id,
            channel=Channel.SMS,
            provider=exotel_sms.PROVIDER,
            name="Exotel SMS",
            address="APNAFD",
            api_base_url="http://127.0.0.1:9",
            secrets={"webhook_key": KEY},
            secret_key=settings.secret_key.get_secret_value(),
        )
        route = messaging.Route(Channel.SMS, account.id, PHONE)
        for sid in ("0b6c6a98f32682862ce6edf1bdab3526", "ffff6a98f32682862ce6edf1bdab0000"):
            row = messaging.channel_message(
                tenant_id=tenant_id, route=route, body="hello", now=datetime.now(UTC)
            )
            row.state, row.provider_message_id = "sent", sid
            uow.session.add(row)
        await uow.commit()
    url = f"/webhooks/sms/{account.id}/receipt?key={KEY}"
    form = (FIXTURES / "exotel" / "sms-status-sent.form").read_text().strip()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert (await client.post(url, content=form, headers=headers)).status_code == 200
    failed = {
        "SmsSid": "ffff6a98f32682862ce6edf1bdab0000",
        "Status": "failed_dnd",
        "DetailedStatus": "FAILED_DND",
        "DetailedStatusCode": "23005",
    }
    assert (await client.post(url, json=failed)).status_code == 200
    interim = await client.post(url, json={"SmsSid": "x", "Status": "submitted"})
    assert interim.json()["outcomes"] == [{"outcome": "interim", "ticket": None}]
    states = dict(rows(db_url, "SELECT provider_message_id, state FROM outbox_messages"))
    assert states == {
        "0b6c6a98f32682862ce6edf1bdab3526": "delivered",
        "ffff6a98f32682862ce6edf1bdab0000": "failed",
    }


# --- the customer app ---------------------------------------------------------------------


async def test_the_app_sees_only_its_own_tickets_and_the_visible_thread(
    client: httpx.AsyncClient,
    sms: Sms,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    make_token: TokenFactory,
) -> None:
    me = await sign_in(client, sms, database, settings)
    photo = {"filename": "box.jpg", "content_type": "image/jpeg", "data": "/9j/4AAQ"}
    opened = await client.post(
        "/api/v1/app/tickets",
        json={"message": "Box arrived crushed", "attachments": [photo]},
        headers=me,
    )
    assert opened.status_code == 201
    number = opened.json()["number"]
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    for kind, body in (("internal_note", "customer is a regular"), ("agent_reply", "Sorry!")):
        added = await client.post(
            f"/api/v1/tickets/{number}/entries", json={"kind": kind, "body": body}, headers=agent
        )
        assert added.status_code == 201
    thread = (await client.get(f"/api/v1/app/tickets/{number}", headers=me)).json()
    assert [(e["kind"], e["body"]) for e in thread["entries"]] == [
        ("customer_message", "Box arrived crushed"),
        ("agent_reply", "Sorry!"),
    ]
    more = await client.post(
        f"/api/v1/app/tickets/{number}/messages", json={"message": "Thanks"}, headers=me
    )
    assert more.json() == {"number": number, "created": False}
    assert [t["number"] for t in (await client.get("/api/v1/app/tickets", headers=me)).json()] == [
        number
    ]
    inbox = (await client.get("/api/v1/app/inbox", headers=me)).json()
    assert any(i["body"] == "Sorry!" for i in inbox)
    # Another customer's ticket does not exist for this token; staff tokens are not app tokens.
    assert (await client.get("/api/v1/app/tickets/AF-999999", headers=me)).status_code == 404
    assert (await client.get("/api/v1/app/me", headers=agent)).status_code == 401


async def test_replies_reach_the_apps_live_stream_from_another_process(
    client: httpx.AsyncClient,
    sms: Sms,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    db_url: str,
    make_token: TokenFactory,
) -> None:
    me = await sign_in(client, sms, database, settings)
    opened = await client.post("/api/v1/app/tickets", json={"message": "Where is it?"}, headers=me)
    number = opened.json()["number"]
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    async with (
        serving(create_app(db_url, settings)) as other,
        httpx.AsyncClient(base_url=other, timeout=10) as http,
        http.stream("GET", "/api/v1/app/stream", headers=me) as stream,
    ):
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        assert await anext(lines) == ": connected"
        reply = {"kind": "agent_reply", "body": "On its way", "channel": "app"}
        posted = await client.post(f"/api/v1/tickets/{number}/entries", json=reply, headers=agent)
        assert posted.status_code == 201

        async def next_reply() -> dict[str, Any]:
            event = None
            async for line in lines:
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "reply":
                    return dict(json.loads(line[6:]))
            raise AssertionError("stream ended")

        got = await asyncio.wait_for(next_reply(), timeout=10)
    assert (got["customer_id"], got["body"]) == (str(customer), "On its way")


async def test_app_input_errors_are_clear_problems(
    client: httpx.AsyncClient, sms: Sms, customer: uuid.UUID, database: Database, settings: Settings
) -> None:
    me = await sign_in(client, sms, database, settings)
    empty = await client.post("/api/v1/app/tickets", json={"message": ""}, headers=me)
    assert empty.status_code == 422
    assert empty.headers["content-type"] == "application/problem+json"
    bad_file = await client.post(
        "/api/v1/app/tickets",
        json={
            "message": "x",
            "attachments": [{"filename": "a", "content_type": "a/b", "data": "%%"}],
        },
        headers=me,
    )
    assert bad_file.status_code in (400, 422)
    assert "base64" in bad_file.json()["detail"]
    anonymous = await client.get("/api/v1/app/tickets")
    assert anonymous.status_code == 401


async def test_files_travel_both_ways_in_the_app_and_sms_names_them(
    client: httpx.AsyncClient,
    sms: Sms,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
    make_token: TokenFactory,
    db_url: str,
) -> None:
    me = await sign_in(client, sms, database, settings)
    photo = {"filename": "box.jpg", "content_type": "image/jpeg", "data": "/9j/4AAQ"}
    opened = await client.post(
        "/api/v1/app/tickets", json={"message": "Crushed", "attachments": [photo]}, headers=me
    )
    number = opened.json()["number"]
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    receipt = {"filename": "refund.pdf", "content_type": "application/pdf", "data": "JVBERi0x"}
    for channel in ("app", "sms"):
        reply = {"kind": "agent_reply", "body": "Refunded.", "channel": channel,
                 "attachments": [receipt]}  # fmt: skip
        posted = await client.post(
            f"/api/v1/tickets/{number}/entries", json=reply, headers=me | agent
        )
        assert posted.status_code == 201
    thread = (await client.get(f"/api/v1/app/tickets/{number}", headers=me)).json()
    files = [(e["kind"], f["filename"]) for e in thread["entries"] for f in e["files"]]
    assert files == [
        ("customer_message", "box.jpg"),
        ("agent_reply", "refund.pdf"),
        ("agent_reply", "refund.pdf"),
    ]
    file_id = thread["entries"][1]["files"][0]["id"]
    download = await client.get(f"/api/v1/app/tickets/{number}/files/{file_id}", headers=me)
    assert (download.status_code, download.content) == (200, b"%PDF-1")
    [(body,)] = rows(
        db_url,
        "SELECT body FROM outbox_messages WHERE channel = 'sms' AND template = 'agent_reply'",
    )
    assert "refund.pdf" in body  # SMS cannot carry the file: it is named


async def test_sms_input_postgresql_cannot_hold_is_cleaned_or_refused_never_a_500(
    client: httpx.AsyncClient, sms: Sms, customer: uuid.UUID, db_url: str
) -> None:
    """Found by fuzzing: a NUL in a form, a lone surrogate in JSON, JSON nested too deep
    and a receipt dated year 1 each answered 500 and kept nothing."""
    form = {"content-type": "application/x-www-form-urlencoded"}
    nul = await client.post(
        sms.url("inbound"), content="sender=919847012345&content=hi%00there", headers=form
    )
    assert nul.status_code == 200, nul.text
    surrogate = await client.post(
        sms.url("inbound"),
        content=b'{"sender": "919847012345", "content": "cold \\ud800 food"}',
        headers={"content-type": "application/json"},
    )
    assert surrogate.status_code == 200, surrogate.text
    bodies = {b for (b,) in rows(db_url, "SELECT body FROM ticket_entries")}
    assert bodies == {"hithere", "cold \ufffd food"}
    deep = await client.post(
        sms.url("inbound"),
        content=b"[" * 5_000 + b"]" * 5_000,
        headers={"content-type": "application/json"},
    )
    assert deep.status_code == 400
    year_one = await client.post(
        sms.url("receipt"),
        content="status=D&customID=x&datetime=0001-01-01+00:00:00",
        headers=form,
    )
    assert year_one.status_code < 500
