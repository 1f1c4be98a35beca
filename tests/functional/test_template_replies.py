"""An agent re-engages a customer with an approved template once WhatsApp's 24-hour window
has closed: through the ticket's reply endpoint, the outbox and the local Graph API fake;
a plain reply after the window is refused with what to do instead, and a template on a
channel without templates is refused as well."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from sahaya.messaging.domain import Channel
from sahaya.persistence import Database
from sahaya.settings import Settings
from tests.conftest import TokenFactory, bearer, rows
from tests.functional.channel_support import WhatsApp, deliver

WA_ID = "919847012345"  # the `customer` fixture's number as WhatsApp writes it
TEMPLATE = {"name": "order_issue_followup", "language": "en", "parameters": ["4512"]}


async def _ticket_after_the_window(
    client: httpx.AsyncClient, whatsapp: WhatsApp, db_url: str
) -> str:
    """The customer wrote 25 hours ago; the outbox is empty (their acknowledgement went)."""
    response = await whatsapp.text(client, WA_ID, "Is my refund done?")
    assert response.json()["new"] == 1
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM outbox_messages")
        conn.execute("UPDATE conversations SET last_inbound_at = now() - interval '25 hours'")
    [(number,)] = rows(db_url, "SELECT number FROM tickets")
    return str(number)


def _replies(db_url: str) -> list[tuple[Any, ...]]:
    return rows(db_url, "SELECT body FROM ticket_entries WHERE kind = 'agent_reply'")


async def test_after_the_window_an_agent_sends_a_template_and_a_plain_reply_says_so(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    make_token: TokenFactory,
) -> None:
    number = await _ticket_after_the_window(client, whatsapp, db_url)
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    url = f"/api/v1/tickets/{number}/entries"

    plain = await client.post(url, json={"kind": "agent_reply", "body": "Done!"}, headers=agent)
    assert plain.status_code == 409
    assert plain.headers["content-type"] == "application/problem+json"
    assert plain.json()["type"].endswith("/reply-window-closed")
    assert "24-hour window" in plain.json()["detail"]
    assert "send an approved template" in plain.json()["detail"]
    assert _replies(db_url) == []  # refused while the agent waits, not queued to fail

    sent = await client.post(url, json={"kind": "agent_reply", "template": TEMPLATE}, headers=agent)
    assert sent.status_code == 201, sent.text
    assert sent.json()["body"] == "[template order_issue_followup (en): 4512]"
    thread = (await client.get(url, headers=agent)).json()
    assert thread[-1]["body"] == "[template order_issue_followup (en): 4512]"
    history = (await client.get(f"/api/v1/tickets/{number}/history", headers=agent)).json()
    [event] = [e for e in history if e["action"] == "agent_reply"]
    assert (event["changes"]["sent_via"], event["changes"]["template"]) == (
        "whatsapp",
        "order_issue_followup",
    )

    run = await deliver(database, settings, Channel.WHATSAPP, datetime.now(UTC))
    assert (run.sent, run.failed) == (1, 0)
    [wire] = whatsapp.fake.sent
    assert (wire.body["to"], wire.body["type"]) == (WA_ID, "template")
    assert wire.body["template"] == {
        "name": "order_issue_followup",
        "language": {"code": "en", "policy": "deterministic"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "4512"}]}],
    }
    outbox = (await client.get(f"/api/v1/tickets/{number}/outbox", headers=agent)).json()
    assert [(m["channel"], m["state"]) for m in outbox] == [("whatsapp", "sent")]


@pytest.mark.parametrize(
    ("extra", "status", "says"),
    [
        ({"channel": "email"}, 422, "email, which has no message templates"),
        ({"channel": "app"}, 422, "app, which has no message templates"),
        ({"body": "and some words"}, 422, "body: a template is its own text"),
        ({"kind": "internal_note"}, 422, "template: only a reply goes to the customer"),
        ({"template": TEMPLATE | {"name": "Order Followup"}}, 422, "#/template/name"),
        ({"template": TEMPLATE | {"parameters": ["4512\nsorry"]}}, 422, "line break"),
        ({"template": {"name": "order_issue_followup"}}, 422, "#/template/language"),
    ],
)
async def test_a_template_that_cannot_go_is_refused_with_the_reason(
    client: httpx.AsyncClient,
    whatsapp: WhatsApp,
    customer: uuid.UUID,
    db_url: str,
    make_token: TokenFactory,
    extra: dict[str, Any],
    status: int,
    says: str,
) -> None:
    number = await _ticket_after_the_window(client, whatsapp, db_url)
    agent = bearer(await make_token("agent", "kerala/ernakulam/kochi"))
    reply = {"kind": "agent_reply", "template": TEMPLATE} | extra
    response = await client.post(f"/api/v1/tickets/{number}/entries", json=reply, headers=agent)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert says in f"{problem['detail']} {problem.get('errors', '')}"
    assert _replies(db_url) == []
    assert rows(db_url, "SELECT count(*) FROM outbox_messages") == [(0,)]
