"""The franchise network over HTTP: franchisees, executives with ranks and hours,
availability changes, and the escalation chain with its reasons."""

from __future__ import annotations

import httpx

from tests.conftest import TokenFactory, bearer

OFFICE = {d: [["09:00", "21:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
ALWAYS = {d: [["00:00", "00:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def franchisee(client: httpx.AsyncClient, token: str, node: str) -> str:
    response = await client.post(
        "/api/v1/franchisees",
        json={"name": f"{node} franchise", "nodes": [node]},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def executive(
    client: httpx.AsyncClient, token: str, owner: str, rank: int, phone: str, **extra: object
) -> httpx.Response:
    body = {
        "franchisee_id": owner,
        "name": f"Exec {phone[-4:]}",
        "rank": rank,
        "phone": phone,
        "services": ["apnafood"],
        "working_hours": OFFICE,
        **extra,
    }
    return await client.post("/api/v1/executives", json=body, headers=bearer(token))


async def test_chain_rings_sd_then_district_then_state_and_explains_skips(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    admin = await make_token("admin", "kerala")
    kochi = await franchisee(client, admin, "kerala/ernakulam/kochi")
    ekm = await franchisee(client, admin, "kerala/ernakulam")
    state = await franchisee(client, admin, "kerala")
    ids = {}
    for owner, phones, hours in (
        (kochi, ["9847000001", "9847000002"], OFFICE),
        (ekm, ["9847000011", "9847000012", "9847000013"], OFFICE),
        (state, ["9847000021"], ALWAYS),
    ):
        for rank, phone in enumerate(phones, start=1):
            created = await executive(client, admin, owner, rank, phone, working_hours=hours)
            assert created.status_code == 201, created.text
            ids[phone] = created.json()["id"]

    # District #1 goes away: District #3 takes the place.
    away = await client.put(
        f"/api/v1/executives/{ids['9847000011']}/availability",
        json={"state": "away"},
        headers=bearer(admin),
    )
    assert away.json()["availability"] == "away"

    chain = await client.get(
        "/api/v1/escalation-chain",
        params={"node": "kerala/ernakulam/kochi", "at": "2026-11-23T11:00:00+05:30"},
        headers=bearer(admin),
    )
    assert chain.status_code == 200, chain.text
    body = chain.json()
    assert body["dial"] == [
        "+919847000001",
        "+919847000002",
        "+919847000012",
        "+919847000013",
        "+919847000021",
    ]
    skipped = [s for s in body["steps"] if not s["kept"]]
    assert [(s["phone_e164"], s["skip"]) for s in skipped] == [("+919847000011", "away")]

    # At 23:00 only the 24x7 state line is on shift.
    night = await client.get(
        "/api/v1/escalation-chain",
        params={"node": "kerala/ernakulam/kochi", "at": "2026-11-23T23:00:00+05:30"},
        headers=bearer(admin),
    )
    assert night.json()["dial"] == ["+919847000021"]
    assert {s["skip"] for s in night.json()["steps"] if not s["kept"]} == {"off_shift", "away"}


async def test_chain_for_a_taluk_without_franchisee_reports_the_gap(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    admin = await make_token("admin", "kerala")
    state = await franchisee(client, admin, "kerala")
    await executive(client, admin, state, 1, "9847000021", working_hours=ALWAYS)
    chain = await client.get(
        "/api/v1/escalation-chain",
        params={"node": "kerala/idukki/devikulam", "at": "2026-11-23T11:00:00+05:30"},
        headers=bearer(admin),
    )
    body = chain.json()
    assert body["dial"] == ["+919847000021"]
    assert any("Devikulam" in gap for gap in body["gaps"])
    assert any("Idukki" in gap for gap in body["gaps"])


async def test_executive_validation_problems(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    admin = await make_token("admin", "kerala")
    owner = await franchisee(client, admin, "kerala/ernakulam/kochi")
    assert (await executive(client, admin, owner, 1, "9847000001")).status_code == 201

    same_rank = await executive(client, admin, owner, 1, "9847000002")
    assert same_rank.status_code == 409
    assert "rank #1 is already held" in same_rank.json()["detail"]

    same_phone = await executive(client, admin, owner, 2, "+91 98470 00001")
    assert same_phone.status_code == 409

    bad_hours = await executive(
        client, admin, owner, 3, "9847000003", working_hours={"funday": [["09:00", "18:00"]]}
    )
    assert bad_hours.status_code == 422
    assert "funday" in bad_hours.json()["detail"]

    bad_service = await executive(client, admin, owner, 4, "9847000004", services=["pizza"])
    assert bad_service.status_code == 422
    assert "pizza" in bad_service.json()["detail"]

    bad_phone = await executive(client, admin, owner, 5, "555")
    assert bad_phone.status_code == 422
    assert bad_phone.json()["errors"][0]["pointer"] == "#/phone"


async def test_availability_rules_by_role(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    admin = await make_token("admin", "kerala")
    owner = await franchisee(client, admin, "kerala/ernakulam/kochi")
    exec_id = (await executive(client, admin, owner, 1, "9847000001")).json()["id"]
    url = f"/api/v1/executives/{exec_id}/availability"

    agent = await make_token("agent", "kerala/ernakulam/kochi")
    refused = await client.put(url, json={"state": "offline"}, headers=bearer(agent))
    assert refused.status_code == 403

    other_supervisor = await make_token("supervisor", "kerala/kollam")
    hidden = await client.put(url, json={"state": "offline"}, headers=bearer(other_supervisor))
    assert hidden.status_code == 404

    supervisor = await make_token("supervisor", "kerala/ernakulam")
    done = await client.put(url, json={"state": "offline"}, headers=bearer(supervisor))
    assert done.status_code == 200
    assert done.json()["availability"] == "offline"

    invalid = await client.put(url, json={"state": "sleeping"}, headers=bearer(supervisor))
    assert invalid.status_code == 422


async def test_patch_executive_and_list_by_node(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    admin = await make_token("admin", "kerala")
    owner = await franchisee(client, admin, "kerala/ernakulam/kochi")
    exec_id = (await executive(client, admin, owner, 1, "9847000001")).json()["id"]
    franchisees = await client.get("/api/v1/franchisees", headers=bearer(admin))
    assert [(f["id"], f["nodes"]) for f in franchisees.json()] == [
        (owner, ["kerala/ernakulam/kochi"])
    ]
    patched = await client.patch(
        f"/api/v1/executives/{exec_id}",
        json={"rank": 2, "working_hours": ALWAYS},
        headers=bearer(admin),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["rank"] == 2
    assert patched.json()["on_shift"] is True
    listed = await client.get(
        "/api/v1/executives", params={"node": "kerala/ernakulam"}, headers=bearer(admin)
    )
    assert [e["id"] for e in listed.json()] == [exec_id]
    elsewhere = await client.get(
        "/api/v1/executives", params={"node": "kerala/kollam"}, headers=bearer(admin)
    )
    assert elsewhere.json() == []


async def test_services_and_tree(client: httpx.AsyncClient, make_token: TokenFactory) -> None:
    admin = await make_token("admin", "kerala")
    services = (await client.get("/api/v1/services", headers=bearer(admin))).json()
    assert {s["code"]: s["active"] for s in services} == {
        "apnafood": True,
        "apnaride": False,
        "apnacart": False,
        "apnaservices": False,
    }
    activated = await client.patch(
        "/api/v1/services/apnaride", json={"active": True}, headers=bearer(admin)
    )
    assert activated.json()["active"] is True

    tree = (await client.get("/api/v1/nodes", headers=bearer(admin))).json()
    levels = [n["level"] for n in tree]
    assert (levels.count("state"), levels.count("district"), levels.count("sub_district")) == (
        1,
        14,
        78,
    )
    agent = await make_token("agent", "kerala/wayanad")
    wayanad = (await client.get("/api/v1/nodes", headers=bearer(agent))).json()
    assert sorted(n["name"] for n in wayanad) == [
        "Mananthavady",
        "Sulthan Bathery",
        "Vythiri",
        "Wayanad",
    ]
    not_admin = await client.patch(
        "/api/v1/services/apnacart", json={"active": True}, headers=bearer(agent)
    )
    assert not_admin.status_code == 403
