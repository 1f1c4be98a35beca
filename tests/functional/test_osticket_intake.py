"""`POST /api/tickets.json` answers as osTicket does, replaying its documented examples."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import TokenFactory, bearer

FIXTURES = Path(__file__).parent.parent / "fixtures" / "providers" / "osticket"
KOCHI = "kerala/ernakulam/kochi"


@pytest.fixture
async def api_key(client: httpx.AsyncClient, make_token: TokenFactory) -> str:
    """An integration key for the scripts, and two registered customers."""
    admin = await make_token("admin", "kerala")
    for name, phone, email in (
        ("Angry User", "9847000123", "api@osticket.com"),
        ("Anjali K", "09847012345", None),
    ):
        created = await client.post(
            "/api/v1/customers",
            json={"name": name, "phone": phone, "email": email, "home_node": KOCHI},
            headers=bearer(admin),
        )
        assert created.status_code == 201, created.text
    return await make_token("agent", "kerala")


async def post(
    client: httpx.AsyncClient, key: str | None, body: bytes, path: str = "/api/tickets.json"
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-API-Key"] = key
    return await client.post(path, content=body, headers=headers)


async def test_documented_example_is_rejected_like_osticket_does(
    client: httpx.AsyncClient, api_key: str
) -> None:
    # osTicket's own example has a trailing comma: PHP's json_decode refuses it too.
    response = await post(client, api_key, (FIXTURES / "doc-example.json").read_bytes())
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert "Invalid JSON" in response.text


async def test_documented_example_made_valid_creates_a_ticket(
    client: httpx.AsyncClient, api_key: str
) -> None:
    response = await post(client, api_key, (FIXTURES / "doc-example-fixed.json").read_bytes())
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("text/plain")
    number = response.text
    assert number == "AF-000001"

    ticket = (await client.get(f"/api/v1/tickets/{number}", headers=bearer(api_key))).json()
    assert (ticket["subject"], ticket["channel"], ticket["node"]) == ("Testing API", "api", KOCHI)
    files = await client.get(f"/api/v1/tickets/{number}/attachments", headers=bearer(api_key))
    assert [(f["filename"], f["content_type"], f["size"]) for f in files.json()] == [
        ("file.txt", "text/plain", 7),
        ("image.gif", "image/gif", 273),
    ]
    gif = await client.get(
        f"/api/v1/tickets/{number}/attachments/{files.json()[1]['id']}", headers=bearer(api_key)
    )
    assert gif.content.startswith(b"GIF87a")
    assert gif.headers["content-type"] == "image/gif"


async def test_reference_example_maps_source_topic_and_custom_fields(
    client: httpx.AsyncClient, api_key: str, db_url: str
) -> None:
    body = (FIXTURES / "providers-example.json").read_bytes()
    response = await post(client, api_key, body)
    assert response.status_code == 201, response.text
    ticket = (await client.get(f"/api/v1/tickets/{response.text}", headers=bearer(api_key))).json()
    assert ticket["channel"] == "voice"  # source "Phone"
    assert ticket["tags"] == ["topic:12"]
    entries = await client.get(f"/api/v1/tickets/{response.text}/entries", headers=bearer(api_key))
    assert entries.json()[0]["body"] == "Caller reports cold food. CallSid b6cfaf0e"

    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT custom_fields FROM tickets").fetchone()
    assert row is not None
    assert row[0] == {"order_id": "4512", "outlet_code": "KOCHI-EDAPALLY"}


async def test_keys_formats_and_customers(client: httpx.AsyncClient, api_key: str) -> None:
    valid = (FIXTURES / "doc-example-fixed.json").read_bytes()
    missing = await post(client, None, valid)
    assert (missing.status_code, missing.text) == (401, "Valid API key required")
    wrong = await post(client, "sah_not-a-key", valid)
    assert wrong.status_code == 401
    assert wrong.text == "API key not found/active or source IP not authorized"
    xml = await post(client, api_key, b"<ticket/>", path="/api/tickets.xml")
    assert xml.status_code == 415

    stranger = json.loads(valid)
    stranger.update(email="someone@example.com", phone="9000000001")
    denied = await post(client, api_key, json.dumps(stranger).encode())
    assert denied.status_code == 403
    assert denied.text.startswith("Ticket denied")

    # Script-style URL without rewriting works too.
    alias = await post(client, api_key, valid, path="/api/http.php/tickets.json")
    assert alias.status_code == 201


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"subject": None}, 400, "subject: This field is required"),
        ({"message": ""}, 400, "message: This field is required"),
        ({"priorityId": 9}, 400, "priorityId: Invalid priority 9"),
        ({"source": "Pigeon"}, 400, "source: Unknown source 'Pigeon'"),
        ({"attachments": [{"x.png": "data:image/png;base64,@@@"}]}, 400, "bad base64"),
        (
            {"attachments": [{"x.exe": "data:application/x-msdownload;base64,TVo="}]},
            400,
            "not accepted",
        ),
        ({"attachments": "nope"}, 400, "attachments: Expected a list"),
    ],
)
async def test_bad_input_gets_osticket_style_errors(
    client: httpx.AsyncClient, api_key: str, change: dict[str, object], status: int, message: str
) -> None:
    body = json.loads((FIXTURES / "doc-example-fixed.json").read_bytes())
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    response = await post(client, api_key, json.dumps(body).encode())
    assert response.status_code == status
    assert message in response.text


async def test_priority_and_html_message(client: httpx.AsyncClient, api_key: str) -> None:
    html = "data:text/html," + "<p>Order <b>4512</b> missing</p>"
    body = {
        "name": "Anjali K",
        "email": "x@example.com",
        "phone": "+91 98470 12345",
        "subject": "Missing order",
        "message": html,
        "priorityId": 4,
    }
    response = await post(client, api_key, json.dumps(body).encode())
    assert response.status_code == 201, response.text
    ticket = (await client.get(f"/api/v1/tickets/{response.text}", headers=bearer(api_key))).json()
    assert ticket["severity"] == "critical"
    entries = await client.get(f"/api/v1/tickets/{response.text}/entries", headers=bearer(api_key))
    assert entries.json()[0]["body"] == "<p>Order <b>4512</b> missing</p>"


async def test_new_tickets_and_the_cases_that_need_the_full_unit_of_work(
    client: httpx.AsyncClient, api_key: str, db_url: str
) -> None:
    """A new ticket for a caller found by phone is written by a lean unit of work; a repeat
    (the duplicate guard threads it) and a match by email need the ORM and run again in a
    full one — each still gives one ticket, with every message, and one acknowledgement."""
    first = {"name": "Angry User", "email": "api@osticket.com", "phone": "9847000123"}
    opened = await post(
        client, api_key, json.dumps(first | {"subject": "Cold food", "message": "one"}).encode()
    )
    assert opened.status_code == 201, opened.text
    again = await post(
        client, api_key, json.dumps(first | {"subject": "Still cold", "message": "two"}).encode()
    )
    assert (again.status_code, again.text) == (201, opened.text)
    by_email = dict(first, phone="not a phone", subject="Third time", message="three")
    third = await post(client, api_key, json.dumps(by_email).encode())
    assert (third.status_code, third.text) == (201, opened.text)

    with psycopg.connect(db_url) as conn:
        tickets = conn.execute("SELECT number FROM tickets").fetchall()
        bodies = conn.execute(
            "SELECT body FROM ticket_entries WHERE kind = 'customer_message' ORDER BY seq"
        ).fetchall()
        acks = conn.execute("SELECT count(*) FROM outbox_messages").fetchone()
        clocks = conn.execute("SELECT count(*) FROM sla_ticket_clocks").fetchone()
    assert tickets == [(opened.text,)]
    assert bodies == [("one",), ("two",), ("three",)]
    assert acks == (1,)
    assert clocks == (1,)
