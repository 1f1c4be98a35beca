"""Business calendars attached to nodes (inherited down the tree) drive ticket clocks;
a lead re-triages severity with a reason and the resolution target follows."""

from __future__ import annotations

from datetime import datetime

import httpx
import psycopg

from tests.conftest import TokenFactory, bearer

KOCHI = "kerala/ernakulam/kochi"


async def node_id(client: httpx.AsyncClient, token: str, path: str) -> str:
    nodes = (await client.get("/api/v1/nodes", headers=bearer(token))).json()
    return str(next(n["id"] for n in nodes if n["path"] == path))


async def open_ticket(client: httpx.AsyncClient, token: str, severity: str = "major") -> str:
    await client.post(
        "/api/v1/customers",
        json={"name": "Anjali K", "phone": "9847012345", "home_node": KOCHI},
        headers=bearer(token),
    )
    response = await client.post(
        "/api/v1/tickets",
        json={
            "phone": "9847012345",
            "subject": "Cold food",
            "message": "cold",
            "severity": severity,
        },
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["number"])


def clock(db_url: str, number: str) -> tuple[datetime, datetime, str]:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            """SELECT c.started_at, c.res_due_at, c.severity FROM sla_ticket_clocks c
               JOIN tickets t ON t.id = c.ticket_id WHERE t.number = %s""",
            (number,),
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


async def test_calendar_presets_custom_hours_and_inheritance(
    client: httpx.AsyncClient, make_token: TokenFactory, db_url: str
) -> None:
    admin = await make_token("admin", "kerala")
    always = await client.post(
        "/api/v1/calendars",
        json={"name": "Round the clock", "preset": "24x7", "holiday_region": None},
        headers=bearer(admin),
    )
    assert always.status_code == 201, always.text
    ernakulam = await node_id(client, admin, "kerala/ernakulam")
    kochi = await node_id(client, admin, KOCHI)
    attached = await client.put(
        f"/api/v1/nodes/{ernakulam}/calendar",
        json={"calendar_id": always.json()["id"]},
        headers=bearer(admin),
    )
    assert attached.json()["inherited_from"] == "kerala/ernakulam"
    inherited = await client.get(f"/api/v1/nodes/{kochi}/calendar", headers=bearer(admin))
    assert inherited.json()["inherited_from"] == "kerala/ernakulam"
    assert inherited.json()["calendar"]["name"] == "Round the clock"

    # A major ticket in Kochi now runs on 24x7 without holidays: due exactly 48 h later
    # (on the default 24x5 with Kerala holidays it would not be).
    number = await open_ticket(client, admin)
    started, due, _ = clock(db_url, number)
    assert (due - started).total_seconds() == 48 * 3600

    elsewhere = await node_id(client, admin, "kerala/kollam")
    default = await client.get(f"/api/v1/nodes/{elsewhere}/calendar", headers=bearer(admin))
    assert default.json() == {"node": "kerala/kollam", "inherited_from": None, "calendar": None}


async def test_calendar_validation(client: httpx.AsyncClient, make_token: TokenFactory) -> None:
    admin = await make_token("admin", "kerala")
    cases = [
        ({"name": "x"}, "exactly one of hours or preset"),
        ({"name": "x", "preset": "24x6"}, "preset: one of"),
        ({"name": "x", "hours": {"funday": [["09:00", "18:00"]]}}, "funday"),
        ({"name": "x", "preset": "24x7", "tz": "Mars/Olympus"}, "Mars/Olympus"),
        ({"name": "x", "preset": "24x7", "holiday_region": "XX-YY"}, "XX-YY"),
    ]
    for body, message in cases:
        response = await client.post("/api/v1/calendars", json=body, headers=bearer(admin))
        assert response.status_code == 422, (body, response.text)
        assert message in response.json()["detail"], (body, response.json())
    agent = await make_token("agent", KOCHI)
    refused = await client.post(
        "/api/v1/calendars", json={"name": "x", "preset": "24x7"}, headers=bearer(agent)
    )
    assert refused.status_code == 403


async def test_lead_sets_severity_with_a_reason_and_the_target_follows(
    client: httpx.AsyncClient, make_token: TokenFactory, db_url: str
) -> None:
    admin = await make_token("admin", "kerala")
    number = await open_ticket(client, admin, severity="minor")
    url = f"/api/v1/tickets/{number}/severity"
    agent = await make_token("agent", KOCHI)
    refused = await client.post(
        url, json={"severity": "critical", "reason": "x"}, headers=bearer(agent)
    )
    assert refused.status_code == 403
    no_reason = await client.post(
        url, json={"severity": "critical", "reason": ""}, headers=bearer(admin)
    )
    assert no_reason.status_code == 422

    lead = await make_token("supervisor", "kerala/ernakulam")
    by_impact = await client.post(
        url,
        json={"impact_share": 0.25, "reason": "25 of 100 outlets cannot take orders"},
        headers=bearer(lead),
    )
    assert by_impact.status_code == 200, by_impact.text
    assert by_impact.json()["severity"] == "critical"
    _, _, severity = clock(db_url, number)
    assert severity == "critical"

    history = (await client.get(f"/api/v1/tickets/{number}/history", headers=bearer(lead))).json()
    assert history[-1]["action"] == "severity"
    assert history[-1]["changes"]["severity"] == ["minor", "critical"]
    assert history[-1]["changes"]["reason"] == "25 of 100 outlets cannot take orders"

    major = await client.post(
        url, json={"impact_share": 0.05, "reason": "5 %"}, headers=bearer(lead)
    )
    assert major.json()["severity"] == "major"
    both = await client.post(
        url, json={"severity": "minor", "impact_share": 0.5, "reason": "x"}, headers=bearer(lead)
    )
    assert both.status_code == 422


async def test_category_rules_set_the_starting_severity(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    admin = await make_token("admin", "kerala")
    for tag, severity in (("payment", "major"), ("outage", "critical")):
        put = await client.put(
            f"/api/v1/severity-rules/{tag}", json={"severity": severity}, headers=bearer(admin)
        )
        assert put.status_code == 200, put.text
    await client.post(
        "/api/v1/customers",
        json={"name": "Anjali K", "phone": "9847012345", "home_node": KOCHI},
        headers=bearer(admin),
    )

    async def opened(tags: list[str], **extra: object) -> str:
        response = await client.post(
            "/api/v1/tickets",
            json={"phone": "9847012345", "subject": "x", "message": "y", "tags": tags, **extra},
            headers=bearer(admin),
        )
        assert response.status_code == 201, response.text
        number = response.json()["number"]
        await client.post(
            f"/api/v1/tickets/{number}/status", json={"status": "resolved"}, headers=bearer(admin)
        )  # so the next one is not threaded into it
        return str(response.json()["severity"])

    assert await opened(["payment"]) == "major"
    assert await opened(["payment", "outage"]) == "critical"  # the highest wins
    assert await opened(["refund"]) == "minor"
    assert await opened(["outage"], severity="minor") == "minor"  # explicit beats the rule
    agent = await make_token("agent", KOCHI)
    refused = await client.put(
        "/api/v1/severity-rules/x", json={"severity": "major"}, headers=bearer(agent)
    )
    assert refused.status_code == 403
    removed = await client.delete("/api/v1/severity-rules/payment", headers=bearer(admin))
    assert removed.status_code == 204
    rules = (await client.get("/api/v1/severity-rules", headers=bearer(admin))).json()
    assert rules == [{"tag": "outage", "severity": "critical"}]
