"""Tickets over HTTP: numbers, threads, the duplicate guard, status moves with clear 409s,
assignment by a lead, FIFO queues per channel, subtree scope and the audit history."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TokenFactory, bearer

KOCHI = "kerala/ernakulam/kochi"
OFFICE = {d: [["00:00", "00:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def customer(client: httpx.AsyncClient, token: str, phone: str = "9847012345") -> str:
    response = await client.post(
        "/api/v1/customers",
        json={"name": "Anjali K", "phone": phone, "home_node": KOCHI},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def ticket(client: httpx.AsyncClient, token: str, **fields: object) -> httpx.Response:
    body = {
        "phone": "09847012345",
        "subject": "Order 4512 arrived cold",
        "message": "The biryani was cold.",
        "channel": "voice",
        **fields,
    }
    return await client.post("/api/v1/tickets", json=body, headers=bearer(token))


async def executive(client: httpx.AsyncClient, admin: str, node: str, phone: str) -> str:
    owner = await client.post(
        "/api/v1/franchisees", json={"name": node, "nodes": [node]}, headers=bearer(admin)
    )
    created = await client.post(
        "/api/v1/executives",
        json={
            "franchisee_id": owner.json()["id"],
            "name": f"Exec {node}",
            "rank": 1,
            "phone": phone,
            "services": ["apnafood"],
            "working_hours": OFFICE,
        },
        headers=bearer(admin),
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture
async def agent(make_token: TokenFactory) -> str:
    return await make_token("agent", KOCHI)


async def test_open_ticket_numbers_and_thread(client: httpx.AsyncClient, agent: str) -> None:
    customer_id = await customer(client, agent)
    first = await ticket(client, agent)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["number"] == "AF-000001"
    assert (body["status"], body["channel"], body["severity"]) == ("new", "voice", "minor")
    assert body["node"] == KOCHI
    assert body["customer_id"] == customer_id
    assert first.headers["location"] == "/api/v1/tickets/AF-000001"

    entries = await client.get("/api/v1/tickets/af-000001/entries", headers=bearer(agent))
    assert [(e["kind"], e["body"]) for e in entries.json()] == [
        ("customer_message", "The biryani was cold.")
    ]


async def test_duplicate_guard_threads_into_the_open_ticket(
    client: httpx.AsyncClient, agent: str
) -> None:
    await customer(client, agent)
    first = (await ticket(client, agent)).json()
    again = await ticket(client, agent, channel="whatsapp", message="Any update?")
    assert again.status_code == 200
    assert again.json()["number"] == first["number"]
    assert again.json()["threaded"] is True
    entries = await client.get(f"/api/v1/tickets/{first['number']}/entries", headers=bearer(agent))
    assert [e["body"] for e in entries.json()] == ["The biryani was cold.", "Any update?"]

    # Once resolved, the next message opens a new ticket with the next number.
    await client.post(
        f"/api/v1/tickets/{first['number']}/status",
        json={"status": "resolved"},
        headers=bearer(agent),
    )
    third = await ticket(client, agent, message="New problem")
    assert third.status_code == 201
    assert third.json()["number"] == "AF-000002"


async def test_status_moves_and_clear_conflicts(client: httpx.AsyncClient, agent: str) -> None:
    await customer(client, agent)
    number = (await ticket(client, agent)).json()["number"]
    url = f"/api/v1/tickets/{number}/status"

    bad = await client.post(url, json={"status": "pending_customer"}, headers=bearer(agent))
    assert bad.status_code == 409
    assert bad.headers["content-type"] == "application/problem+json"
    assert "cannot move a ticket from new to pending_customer" in bad.json()["detail"]

    for target in ("open", "pending_customer"):
        moved = await client.post(url, json={"status": target}, headers=bearer(agent))
        assert moved.json()["status"] == target
    # The customer writes back: the ticket resumes.
    resumed = await ticket(client, agent, message="Here is the photo")
    assert resumed.json()["status"] == "open"

    resolved = await client.post(
        url, json={"status": "resolved", "reason": "refunded"}, headers=bearer(agent)
    )
    assert resolved.json()["resolved_at"] is not None
    reopened = await client.post(url, json={"status": "open"}, headers=bearer(agent))
    assert reopened.json()["status"] == "open"
    assert reopened.json()["resolved_at"] is None

    unknown = await client.post(url, json={"status": "archived"}, headers=bearer(agent))
    assert unknown.status_code == 422


async def test_lead_assigns_an_executive_of_the_escalation_path(
    client: httpx.AsyncClient, agent: str, make_token: TokenFactory
) -> None:
    admin = await make_token("admin", "kerala")
    kochi_exec = await executive(client, admin, KOCHI, "9847000001")
    kollam_exec = await executive(client, admin, "kerala/kollam", "9847000002")
    await customer(client, agent)
    number = (await ticket(client, agent)).json()["number"]
    url = f"/api/v1/tickets/{number}/assign"

    refused = await client.post(url, json={"executive_id": kochi_exec}, headers=bearer(agent))
    assert refused.status_code == 403

    lead = await make_token("supervisor", "kerala/ernakulam")
    wrong = await client.post(url, json={"executive_id": kollam_exec}, headers=bearer(lead))
    assert wrong.status_code == 404
    assert "escalation path" in wrong.json()["detail"]

    done = await client.post(url, json={"executive_id": kochi_exec}, headers=bearer(lead))
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["assignee_id"]) == ("assigned", kochi_exec)

    reply = await client.post(
        f"/api/v1/tickets/{number}/entries",
        json={"kind": "agent_reply", "body": "Sorry! Refund on its way."},
        headers=bearer(agent),
    )
    assert reply.status_code == 201
    after = await client.get(f"/api/v1/tickets/{number}", headers=bearer(agent))
    assert after.json()["first_responded_at"] is not None

    history = await client.get(f"/api/v1/tickets/{number}/history", headers=bearer(agent))
    actions = [(e["action"], e["changes"].get("status")) for e in history.json()]
    assert actions == [
        ("created", None),
        ("entitlement_checked", None),
        ("assigned", ["new", "assigned"]),
        ("agent_reply", None),
    ]
    assigned = history.json()[2]
    assert assigned["changes"]["assignee_id"] == [None, kochi_exec]
    assert assigned["actor"].startswith("supervisor:")


async def test_queue_is_fifo_per_channel_and_scoped(
    client: httpx.AsyncClient, agent: str, make_token: TokenFactory
) -> None:
    for i, channel in enumerate(["voice", "email", "voice"]):
        await customer(client, agent, phone=f"98470000{i:02d}")
        response = await ticket(client, agent, phone=f"98470000{i:02d}", channel=channel)
        assert response.status_code == 201
    voice = await client.get("/api/v1/tickets", params={"channel": "voice"}, headers=bearer(agent))
    assert [t["number"] for t in voice.json()["items"]] == ["AF-000001", "AF-000003"]

    paged = await client.get("/api/v1/tickets", params={"limit": 2}, headers=bearer(agent))
    assert [t["number"] for t in paged.json()["items"]] == ["AF-000001", "AF-000002"]
    rest = await client.get(
        "/api/v1/tickets",
        params={"limit": 2, "after": paged.json()["next_after"]},
        headers=bearer(agent),
    )
    assert [t["number"] for t in rest.json()["items"]] == ["AF-000003"]

    elsewhere = await make_token("agent", "kerala/kollam/kollam")
    hidden = await client.get("/api/v1/tickets", headers=bearer(elsewhere))
    assert hidden.json()["items"] == []
    one = await client.get("/api/v1/tickets/AF-000001", headers=bearer(elsewhere))
    assert one.status_code == 404


async def test_ticket_validation(client: httpx.AsyncClient, agent: str) -> None:
    await customer(client, agent)
    both = await ticket(client, agent, customer_id="00000000-0000-0000-0000-000000000000")
    assert both.status_code == 422
    inactive = await ticket(client, agent, service="apnaride")
    assert inactive.status_code == 422
    assert "no active service 'apnaride'" in inactive.json()["detail"]
    stranger = await ticket(client, agent, phone="9000000001")
    assert stranger.status_code == 404


async def test_full_text_search_over_thread_customer_and_number(
    client: httpx.AsyncClient, agent: str, make_token: TokenFactory
) -> None:
    await customer(client, agent)
    await customer(client, agent, phone="9847000099")
    cold = (await ticket(client, agent)).json()["number"]
    late = (
        await ticket(
            client,
            agent,
            phone="9847000099",
            subject="Delivery late",
            message="Rider lost near Edappally",
        )
    ).json()["number"]
    await client.post(
        f"/api/v1/tickets/{cold}/entries",
        json={"kind": "agent_reply", "body": "Refund of ₹240 issued"},
        headers=bearer(agent),
    )

    async def found(q: str, token: str = agent) -> list[str]:
        response = await client.get(
            "/api/v1/tickets/search", params={"q": q}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        return [t["number"] for t in response.json()]

    assert await found("biryani") == [cold]  # customer's message
    assert await found("refund") == [cold]  # agent reply, added later
    assert await found("edappally") == [late]
    assert await found("9847000099") == [late]  # phone, national form
    assert await found(late) == [late]  # ticket number
    assert sorted(await found("anjali")) == sorted([cold, late])  # customer name
    assert await found('"arrived cold" -late') == [cold]
    elsewhere = await make_token("agent", "kerala/kollam/kollam")
    assert await found("biryani", elsewhere) == []


async def test_a_long_thread_of_large_messages_keeps_taking_replies(
    client: httpx.AsyncClient, agent: str
) -> None:
    """PostgreSQL refuses a search vector over 1 MB. Each message adds at most its first
    50,000 characters to the ticket's search words, and once the ticket's words are near
    the limit a reply adds none: a pasted log or a long dispute never makes a reply fail."""
    import secrets

    await customer(client, agent)
    log = " ".join(secrets.token_hex(5) for _ in range(9_000))  # ~99,000 characters
    number = (await ticket(client, agent, message=log)).json()["number"]
    for n in range(12):
        words = " ".join(secrets.token_hex(5) for _ in range(9_000))
        reply = await client.post(
            f"/api/v1/tickets/{number}/entries",
            json={"kind": "internal_note", "body": f"marker{n} {words}"},
            headers=bearer(agent),
        )
        assert reply.status_code == 201, reply.text
    entries = await client.get(f"/api/v1/tickets/{number}/entries", headers=bearer(agent))
    assert len(entries.json()) == 13
    found = await client.get(
        "/api/v1/tickets/search", params={"q": "marker0"}, headers=bearer(agent)
    )
    assert [t["number"] for t in found.json()] == [number]  # the early words stay


async def test_attachments_on_new_tickets_and_replies(
    client: httpx.AsyncClient, agent: str
) -> None:
    import base64

    await customer(client, agent)
    photo = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 100).decode()
    created = await ticket(
        client,
        agent,
        attachments=[{"filename": "food.png", "content_type": "image/png", "data": photo}],
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    reply = await client.post(
        f"/api/v1/tickets/{number}/entries",
        json={
            "kind": "agent_reply",
            "body": "Refund receipt attached",
            "attachments": [
                {
                    "filename": "receipt.pdf",
                    "content_type": "application/pdf",
                    "data": base64.b64encode(b"%PDF-1.4 receipt").decode(),
                }
            ],
        },
        headers=bearer(agent),
    )
    assert reply.status_code == 201, reply.text
    files = (
        await client.get(f"/api/v1/tickets/{number}/attachments", headers=bearer(agent))
    ).json()
    assert [(f["filename"], f["size"]) for f in files] == [("food.png", 108), ("receipt.pdf", 16)]
    assert files[1]["entry_id"] == reply.json()["id"]

    for bad, message in (
        (
            {"filename": "x.exe", "content_type": "application/x-msdownload", "data": photo},
            "not accepted",
        ),
        ({"filename": "x.png", "content_type": "image/png", "data": "@@@"}, "not valid base64"),
        ({"filename": "../x.png", "content_type": "image/png", "data": photo}, "plain file name"),
    ):
        refused = await client.post(
            f"/api/v1/tickets/{number}/entries",
            json={"kind": "internal_note", "body": "x", "attachments": [bad]},
            headers=bearer(agent),
        )
        assert refused.status_code == 422, refused.text
        assert message in refused.json()["detail"]


async def test_concurrent_intake_never_repeats_a_number(
    client: httpx.AsyncClient, agent: str
) -> None:
    import asyncio

    for i in range(12):
        await customer(client, agent, phone=f"98471000{i:02d}")
    responses = await asyncio.gather(
        *(ticket(client, agent, phone=f"98471000{i:02d}") for i in range(12))
    )
    assert [r.status_code for r in responses] == [201] * 12
    numbers = sorted(r.json()["number"] for r in responses)
    assert numbers == [f"AF-{n:06d}" for n in range(1, 13)]
