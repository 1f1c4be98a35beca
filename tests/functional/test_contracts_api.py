"""Maintenance contracts over HTTP (seed 004): contracts per customer, the entitlement shown
on new tickets, and the sales/management exception step that gates assignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sahaya.contracts.domain import local_day
from tests.conftest import TokenFactory, bearer
from tests.functional.test_tickets_api import customer, executive, ticket

# The API reads the real clock, so contract dates are relative to today in Kerala.
TODAY = local_day(datetime.now(UTC))


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


@pytest.fixture
async def admin(make_token: TokenFactory) -> str:
    return await make_token("admin", "kerala")


@pytest.fixture
async def agent(make_token: TokenFactory) -> str:
    return await make_token("agent", "kerala/ernakulam/kochi")


async def contract(
    client: httpx.AsyncClient, token: str, customer_id: str, **fields: object
) -> httpx.Response:
    body = {
        "reference": "GOLD-1",
        "plan": "gold",
        "services": ["apnafood"],
        "starts_on": days(-200),
        "ends_on": days(165),
        **fields,
    }
    return await client.post(
        f"/api/v1/customers/{customer_id}/contracts", json=body, headers=bearer(token)
    )


async def require_contract(client: httpx.AsyncClient, admin: str, required: bool = True) -> None:
    response = await client.put(
        "/api/v1/services/apnafood/contract-requirement",
        json={"required": required},
        headers=bearer(admin),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"service": "apnafood", "required": required}


async def test_covered_customer_is_shown_and_assigned(
    client: httpx.AsyncClient, admin: str, agent: str
) -> None:
    await require_contract(client, admin)
    customer_id = await customer(client, agent)
    made = await contract(client, admin, customer_id, reference="gold-2026")
    assert made.status_code == 201, made.text
    assert (made.json()["reference"], made.json()["state"]) == ("GOLD-2026", "active")
    listed = await client.get(f"/api/v1/customers/{customer_id}/contracts", headers=bearer(agent))
    assert [c["reference"] for c in listed.json()] == ["GOLD-2026"]

    opened = (await ticket(client, agent)).json()
    assert opened["entitlement"] == "covered"
    assert opened["entitlement_note"] == f"AMC GOLD-2026 covers apnafood until {days(165)}"
    assert (opened["approval"], opened["approval_reason"]) == ("not_needed", None)

    kochi_exec = await executive(client, admin, "kerala/ernakulam/kochi", "9847000001")
    assigned = await client.post(
        f"/api/v1/tickets/{opened['number']}/assign",
        json={"executive_id": kochi_exec},
        headers=bearer(admin),
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["status"] == "assigned"


async def test_expired_contract_waits_for_management_approval(
    client: httpx.AsyncClient, admin: str, agent: str, make_token: TokenFactory
) -> None:
    await require_contract(client, admin)
    customer_id = await customer(client, agent)
    await contract(client, admin, customer_id, starts_on=days(-400), ends_on=days(-1))
    kochi_exec = await executive(client, admin, "kerala/ernakulam/kochi", "9847000001")

    opened = (await ticket(client, agent)).json()
    number = opened["number"]
    assert (opened["entitlement"], opened["approval"]) == ("expired", "pending")
    assert opened["entitlement_note"] == f"AMC GOLD-1 expired on {days(-1)}"
    entries = await client.get(f"/api/v1/tickets/{number}/entries", headers=bearer(agent))
    assert entries.json()[-1]["kind"] == "system_event"
    assert "Waiting for a contract exception decision" in entries.json()[-1]["body"]

    assign_url = f"/api/v1/tickets/{number}/assign"
    blocked = await client.post(
        assign_url, json={"executive_id": kochi_exec}, headers=bearer(admin)
    )
    assert blocked.status_code == 409
    assert blocked.headers["content-type"] == "application/problem+json"
    assert "waiting for a contract exception decision" in blocked.json()["detail"]

    url = f"/api/v1/tickets/{number}/approval"
    decision = {"approve": True, "reason": "Renewal PO signed, invoice follows"}
    district_lead = await make_token("supervisor", "kerala/ernakulam")
    for token in (agent, district_lead):
        refused = await client.post(url, json=decision, headers=bearer(token))
        assert refused.status_code == 403, refused.text
    blank = await client.post(url, json={"approve": True, "reason": "   "}, headers=bearer(admin))
    assert blank.status_code == 422

    approved = await client.post(url, json=decision, headers=bearer(admin))
    assert approved.status_code == 200, approved.text
    assert (approved.json()["approval"], approved.json()["approval_reason"]) == (
        "approved",
        "Renewal PO signed, invoice follows",
    )
    again = await client.post(url, json=decision, headers=bearer(admin))
    assert again.status_code == 409

    done = await client.post(assign_url, json={"executive_id": kochi_exec}, headers=bearer(admin))
    assert done.status_code == 200, done.text
    history = await client.get(f"/api/v1/tickets/{number}/history", headers=bearer(agent))
    assert [e["action"] for e in history.json()] == [
        "created",
        "entitlement_checked",
        "exception_approved",
        "assigned",
    ]
    checked = history.json()[1]["changes"]
    assert (checked["entitlement"], checked["approval"], checked["contract"]) == (
        "expired",
        "pending",
        "GOLD-1",
    )


async def test_state_lead_declines_and_the_ticket_is_resolved(
    client: httpx.AsyncClient, admin: str, agent: str, make_token: TokenFactory
) -> None:
    await require_contract(client, admin)
    await customer(client, agent)  # no contract at all
    opened = (await ticket(client, agent)).json()
    number = opened["number"]
    assert (opened["entitlement"], opened["approval"]) == ("missing", "pending")
    assert opened["entitlement_note"] == "no AMC covers apnafood"

    state_lead = await make_token("supervisor", "kerala")
    declined = await client.post(
        f"/api/v1/tickets/{number}/approval",
        json={"approve": False, "reason": "AMC lapsed two years ago"},
        headers=bearer(state_lead),
    )
    assert declined.status_code == 200, declined.text
    body = declined.json()
    assert (body["approval"], body["status"]) == ("declined", "resolved")
    assert body["resolved_at"] is not None

    entries = await client.get(f"/api/v1/tickets/{number}/entries", headers=bearer(agent))
    assert entries.json()[-1] == {
        **entries.json()[-1],
        "kind": "system_event",
        "body": "Declined: no active maintenance contract — AMC lapsed two years ago",
    }
    history = await client.get(f"/api/v1/tickets/{number}/history", headers=bearer(agent))
    events = {e["action"]: e for e in history.json()}
    assert events["exception_declined"]["changes"]["status"] == ["new", "resolved"]
    assert events["exception_declined"]["actor"].startswith("supervisor:")
    assert events["customer_notice_pending"]["changes"]["notice"] == "contract_exception_declined"
    assert events["customer_notice_pending"]["changes"]["phone"] == "+919847012345"

    # Reopened, it still may not be assigned.
    await client.post(
        f"/api/v1/tickets/{number}/status", json={"status": "open"}, headers=bearer(agent)
    )
    kochi_exec = await executive(client, admin, "kerala/ernakulam/kochi", "9847000001")
    blocked = await client.post(
        f"/api/v1/tickets/{number}/assign",
        json={"executive_id": kochi_exec},
        headers=bearer(admin),
    )
    assert blocked.status_code == 409
    assert "the exception was declined" in blocked.json()["detail"]


async def test_service_without_the_requirement_needs_no_approval(
    client: httpx.AsyncClient, admin: str, agent: str
) -> None:
    customer_id = await customer(client, agent)
    await contract(client, admin, customer_id, starts_on=days(-400), ends_on=days(-10))
    opened = (await ticket(client, agent)).json()
    assert (opened["entitlement"], opened["approval"]) == ("not_required", "not_needed")
    assert opened["entitlement_note"] == (
        f"apnafood does not require an AMC (AMC GOLD-1 expired on {days(-10)})"
    )
    check = await client.get(f"/api/v1/customers/{customer_id}/entitlement", headers=bearer(agent))
    assert (check.json()["entitlement"], check.json()["needs_approval"]) == (
        "not_required",
        False,
    )
    no_decision = await client.post(
        f"/api/v1/tickets/{opened['number']}/approval",
        json={"approve": True, "reason": "why not"},
        headers=bearer(admin),
    )
    assert no_decision.status_code == 409

    # Turning the requirement on changes what the next check says.
    await require_contract(client, admin)
    later = await client.get(
        f"/api/v1/customers/{customer_id}/entitlement",
        params={"service": "apnafood"},
        headers=bearer(agent),
    )
    assert (later.json()["entitlement"], later.json()["needs_approval"]) == ("expired", True)
    assert (
        await client.get("/api/v1/services/apnafood/contract-requirement", headers=bearer(agent))
    ).json() == {"service": "apnafood", "required": True}


async def test_contract_validation_and_scope(
    client: httpx.AsyncClient, admin: str, agent: str, make_token: TokenFactory
) -> None:
    customer_id = await customer(client, agent)
    backwards = await contract(client, admin, customer_id, starts_on=days(10), ends_on=days(9))
    assert backwards.status_code == 422
    assert backwards.json()["detail"].startswith("ends_on:")
    unknown = await contract(client, admin, customer_id, services=["apnafood", "apnaflight"])
    assert unknown.status_code == 422
    assert "no service 'apnaflight'" in unknown.json()["detail"]
    assert (await contract(client, admin, customer_id)).status_code == 201
    duplicate = await contract(client, admin, customer_id, reference="gold-1")
    assert duplicate.status_code == 409
    assert duplicate.json()["detail"] == "contract GOLD-1 is already recorded"
    renewal = await contract(
        client, admin, customer_id, reference="GOLD-2", starts_on=days(166), ends_on=days(530)
    )
    assert (renewal.status_code, renewal.json()["state"]) == (201, "upcoming")
    listed = await client.get(f"/api/v1/customers/{customer_id}/contracts", headers=bearer(agent))
    assert [(c["reference"], c["state"]) for c in listed.json()] == [
        ("GOLD-2", "upcoming"),
        ("GOLD-1", "active"),
    ]

    assert (await contract(client, agent, customer_id, reference="X-1")).status_code == 403
    elsewhere = await make_token("supervisor", "kerala/kollam")
    hidden = await client.get(
        f"/api/v1/customers/{customer_id}/contracts", headers=bearer(elsewhere)
    )
    assert hidden.status_code == 404
    assert (await contract(client, elsewhere, customer_id, reference="X-2")).status_code == 404

    rule_url = "/api/v1/services/apnaflight/contract-requirement"
    assert (
        await client.put(rule_url, json={"required": True}, headers=bearer(admin))
    ).status_code == 422
    lead = await make_token("supervisor", "kerala")
    refused = await client.put(
        "/api/v1/services/apnafood/contract-requirement",
        json={"required": True},
        headers=bearer(lead),
    )
    assert refused.status_code == 403
