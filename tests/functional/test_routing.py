"""Automatic assignment per queue: round robin and least-open among available, on-shift
executives of the ticket's node; manual queues wait for a lead."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from sahaya.persistence import Database, UnitOfWork
from sahaya.tickets import routing
from tests.conftest import TokenFactory, bearer

KOCHI = "kerala/ernakulam/kochi"
ALWAYS = {d: [["00:00", "00:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def team(client: httpx.AsyncClient, admin: str) -> list[str]:
    owner = await client.post(
        "/api/v1/franchisees", json={"name": "Kochi", "nodes": [KOCHI]}, headers=bearer(admin)
    )
    ids = []
    for rank, availability in ((1, "available"), (2, "available"), (3, "away")):
        created = await client.post(
            "/api/v1/executives",
            json={
                "franchisee_id": owner.json()["id"],
                "name": f"Exec {rank}",
                "rank": rank,
                "phone": f"98470000{rank:02d}",
                "services": ["apnafood"],
                "working_hours": ALWAYS,
                "availability": availability,
            },
            headers=bearer(admin),
        )
        assert created.status_code == 201, created.text
        ids.append(str(created.json()["id"]))
    return ids


async def tickets(client: httpx.AsyncClient, token: str, channel: str, count: int) -> list[str]:
    numbers = []
    for i in range(count):
        phone = f"9847{channel[:1].encode().hex()}{i:04d}"[:10]
        await client.post(
            "/api/v1/customers",
            json={"name": f"C{i}", "phone": phone, "home_node": KOCHI},
            headers=bearer(token),
        )
        response = await client.post(
            "/api/v1/tickets",
            json={"phone": phone, "subject": "Late", "message": "late", "channel": channel},
            headers=bearer(token),
        )
        assert response.status_code == 201, response.text
        numbers.append(str(response.json()["number"]))
    return numbers


async def assignees(client: httpx.AsyncClient, token: str, numbers: list[str]) -> list[str | None]:
    return [
        (await client.get(f"/api/v1/tickets/{n}", headers=bearer(token))).json()["assignee_id"]
        for n in numbers
    ]


async def sweep(database: Database) -> int:
    async with UnitOfWork(database) as uow:
        count = await routing.sweep(uow=uow, now=datetime.now(UTC))
        await uow.commit()
        return count


async def test_round_robin_skips_the_away_executive_and_manual_queues_wait(
    client: httpx.AsyncClient, make_token: TokenFactory, database: Database
) -> None:
    admin = await make_token("admin", "kerala")
    first, second, away = await team(client, admin)
    mode = await client.put(
        "/api/v1/queues/voice", json={"mode": "round_robin"}, headers=bearer(admin)
    )
    assert mode.json()["mode"] == "round_robin"
    voice = await tickets(client, admin, "voice", 3)
    email = await tickets(client, admin, "email", 1)

    queues = {
        q["channel"]: q for q in (await client.get("/api/v1/queues", headers=bearer(admin))).json()
    }
    assert (queues["voice"]["waiting"], queues["email"]["waiting"]) == (3, 1)
    assert queues["email"]["mode"] == "manual"

    assert await sweep(database) == 3
    assert await assignees(client, admin, voice) == [first, second, first]
    assert await assignees(client, admin, email) == [None]
    assert away not in await assignees(client, admin, voice)
    history = (
        await client.get(f"/api/v1/tickets/{voice[0]}/history", headers=bearer(admin))
    ).json()
    assert history[-1]["action"] == "auto_assigned"
    assert history[-1]["changes"]["status"] == ["new", "assigned"]
    assert await sweep(database) == 0  # nothing left to hand out


async def test_least_open_balances_the_load(
    client: httpx.AsyncClient, make_token: TokenFactory, database: Database
) -> None:
    admin = await make_token("admin", "kerala")
    first, second, _ = await team(client, admin)
    await client.put("/api/v1/queues/app", json={"mode": "least_open"}, headers=bearer(admin))
    numbers = await tickets(client, admin, "app", 2)
    # The first executive already holds a ticket assigned by a lead.
    lead = await make_token("supervisor", "kerala/ernakulam")
    await client.post(
        f"/api/v1/tickets/{numbers[0]}/assign", json={"executive_id": first}, headers=bearer(lead)
    )
    assert await sweep(database) == 1
    assert await assignees(client, admin, numbers) == [first, second]


async def test_nobody_on_shift_leaves_the_ticket_waiting(
    client: httpx.AsyncClient, make_token: TokenFactory, database: Database
) -> None:
    admin = await make_token("admin", "kerala")
    ids = await team(client, admin)
    for executive in ids[:2]:
        await client.put(
            f"/api/v1/executives/{executive}/availability",
            json={"state": "offline"},
            headers=bearer(admin),
        )
    await client.put("/api/v1/queues/voice", json={"mode": "round_robin"}, headers=bearer(admin))
    numbers = await tickets(client, admin, "voice", 1)
    assert await sweep(database) == 0
    assert await assignees(client, admin, numbers) == [None]
    refused = await client.put(
        "/api/v1/queues/voice", json={"mode": "lottery"}, headers=bearer(admin)
    )
    assert refused.status_code == 422
