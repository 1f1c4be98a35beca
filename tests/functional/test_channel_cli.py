"""`sahaya channel …` sets up messaging accounts whose printed URLs and secrets work: the
WhatsApp handshake answers with the printed verify token, Telegram accepts updates with
the printed secret, and SMS receipts are taken at the printed URL."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from sahaya.channels.whatsapp_cloud.fake import Media
from sahaya.cli import app as cli
from sahaya.persistence import Database
from sahaya.settings import Settings, get_settings
from tests.functional.channel_support import PROVIDERS, WhatsApp, retry


@pytest.fixture
def cli_env(db_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SAHAYA_DATABASE_URL", db_url)
    monkeypatch.setenv("SAHAYA_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("SAHAYA_SECRET_KEY", settings.secret_key.get_secret_value())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def sahaya(*args: str) -> str:
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


async def test_a_whatsapp_number_added_by_the_cli_passes_metas_handshake(
    cli_env: None, client: httpx.AsyncClient
) -> None:
    out = await sahaya(
        "channel", "whatsapp", "--phone-number-id", "1065403522",
        "--access-token", "t", "--app-secret", "s",
    )  # fmt: skip
    url = re.search(r"callback URL: \S+(/webhooks/whatsapp/\S+)", out)
    token = re.search(r"verify token: (\S+)", out)
    assert url is not None
    assert token is not None
    query = {"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": token.group(1)}
    answer = await client.get(url.group(1), params=query)
    assert (answer.status_code, answer.text) == (200, "42")


async def test_a_telegram_bot_added_by_the_cli_takes_updates_with_its_secret(
    cli_env: None, client: httpx.AsyncClient
) -> None:
    out = await sahaya("channel", "telegram", "--bot-username", "@apna_bot", "--bot-token", "1:x")
    url = re.search(r"webhook URL: \S+(/webhooks/telegram/\S+)", out)
    secret = re.search(r"secret_token=(\S+)", out)
    assert url is not None
    assert secret is not None
    update = {"update_id": 1, "message": {"message_id": 1, "date": 1741614131,
              "chat": {"id": 5, "type": "private"}, "from": {"id": 5}, "text": "hi"}}  # fmt: skip
    headers = {"x-telegram-bot-api-secret-token": secret.group(1)}
    assert (await client.post(url.group(1), json=update, headers=headers)).status_code == 200
    assert (await client.post(url.group(1), json=update)).status_code == 403


async def test_an_sms_account_added_by_the_cli_takes_receipts_at_the_printed_url(
    cli_env: None, client: httpx.AsyncClient, db_url: str
) -> None:
    out = await sahaya(
        "channel", "sms", "--provider", "textlocal", "--sender", "APNAFD", "--api-key", "k"
    )
    receipts = re.search(r"delivery receipts: \S+(/webhooks/sms/\S+)", out)
    assert receipts is not None
    assert "inbound SMS" in out
    with psycopg.connect(db_url) as conn:
        [(settings,)] = conn.execute("SELECT settings FROM channel_accounts").fetchall()
    assert settings["receipt_url"].endswith(receipts.group(1))
    form = {"number": "919847012345", "status": "D", "customID": "x", "datetime": ""}
    answer = await client.post(receipts.group(1), data=form)
    assert answer.status_code == 200
    wrong = receipts.group(1).replace("key=", "key=x")
    assert (await client.post(wrong, data=form)).status_code == 403


async def test_sahaya_events_shows_what_keeps_failing_and_retries_it_now(
    cli_env: None,
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    database: Database,
    settings: Settings,
) -> None:
    """A document the Graph API does not have yet: the operator sees the event and why it
    failed, the file turns up, and `retry` makes it due at once instead of along the
    backoff (the sweep at this very moment takes it)."""
    assert (await whatsapp.replay(client, "document.json")).json()["deferred"] == 1
    listed = await sahaya("events", "pending", "--failing")
    assert "tries 1" in listed
    assert "last error: PermanentSendError: HTTP 400, code 100" in listed
    document = json.loads((PROVIDERS / "whatsapp" / "document.json").read_bytes())
    media_id = document["entry"][0]["changes"][0]["value"]["messages"][0]["document"]["id"]
    whatsapp.fake.media[media_id] = Media(b"%PDF-1.7 invoice", "application/pdf")
    now = datetime.now(UTC)
    assert await retry(database, settings, now) == 0  # not due yet: 30 s of backoff
    assert "1 event(s) due now" in await sahaya("events", "retry", "--all-failing")
    assert await retry(database, settings, datetime.now(UTC)) == 1
    assert await sahaya("events", "pending") == "no unprocessed events\n"
    refused = await asyncio.to_thread(CliRunner().invoke, cli, ["events", "retry"])
    assert refused.exit_code != 0
    assert "--all-failing" in refused.output
