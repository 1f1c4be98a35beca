"""The customer registry over HTTP: registration, lookup in any phone format, precise
problem+json errors, and the subtree rule (an agent of one taluk cannot read another's)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TokenFactory, bearer

KOCHI = "kerala/ernakulam/kochi"
ALUVA = "kerala/ernakulam/aluva"
VARKALA = "kerala/thiruvananthapuram/varkala"


async def register(client: httpx.AsyncClient, token: str, **fields: object) -> httpx.Response:
    body = {"name": "Anjali K", "phone": "09847012345", "home_node": KOCHI, **fields}
    return await client.post("/api/v1/customers", json=body, headers=bearer(token))


async def test_register_then_lookup_in_every_format(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("agent", KOCHI)
    created = await register(client, token, email="Anjali@Example.com", language="ml")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["phone_e164"] == "+919847012345"
    assert body["email"] == "anjali@example.com"
    assert body["home_node"] == KOCHI
    assert body["verification"] == "unverified"
    assert created.headers["location"] == f"/api/v1/customers/{body['id']}"

    for raw in ("09847012345", "9847012345", "+91 98470 12345", "919847012345"):
        found = await client.get(
            "/api/v1/customers/lookup", params={"phone": raw}, headers=bearer(token)
        )
        assert found.status_code == 200, (raw, found.text)
        assert found.json()["id"] == body["id"]


async def test_bad_phone_is_a_precise_problem(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("agent", KOCHI)
    response = await register(client, token, phone="12345")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/invalid-customer"
    assert problem["status"] == 422
    assert "'12345' is not a valid phone number" in problem["detail"]
    assert problem["errors"] == [{"pointer": "#/phone", "detail": problem["detail"]}]


async def test_unknown_node_and_non_taluk_home_are_refused(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("admin", "kerala")
    unknown = await register(client, token, home_node="kerala/ernakulam/atlantis")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["pointer"] == "#/home_node"
    assert "atlantis" in unknown.json()["detail"]

    district = await register(client, token, home_node="kerala/ernakulam")
    assert district.status_code == 422
    assert "is a district; a customer's home is a sub-district" in district.json()["detail"]


async def test_duplicate_phone_in_another_format_conflicts(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("supervisor", "kerala/ernakulam")
    assert (await register(client, token)).status_code == 201
    again = await register(
        client, token, name="Someone Else", phone="+91 98470 12345", home_node=ALUVA
    )
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/duplicate-phone"
    assert "+919847012345 is already registered" in again.json()["detail"]


async def test_missing_fields_list_every_pointer(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("agent", KOCHI)
    response = await client.post(
        "/api/v1/customers", json={"email": "x@example.com", "colour": "red"}, headers=bearer(token)
    )
    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert {"#/name", "#/phone", "#/home_node", "#/colour"} <= pointers


async def test_agent_of_one_taluk_cannot_read_another_taluks_customer(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    kochi_agent = await make_token("agent", KOCHI)
    varkala_agent = await make_token("agent", VARKALA)
    customer = (await register(client, kochi_agent)).json()

    by_id = await client.get(f"/api/v1/customers/{customer['id']}", headers=bearer(varkala_agent))
    assert by_id.status_code == 404
    by_phone = await client.get(
        "/api/v1/customers/lookup", params={"phone": "9847012345"}, headers=bearer(varkala_agent)
    )
    assert by_phone.status_code == 404
    listing = await client.get("/api/v1/customers", headers=bearer(varkala_agent))
    assert listing.json()["items"] == []
    patch = await client.patch(
        f"/api/v1/customers/{customer['id']}",
        json={"name": "Hijacked"},
        headers=bearer(varkala_agent),
    )
    assert patch.status_code == 404

    # …while their own agent, their district supervisor and the state admin can.
    for token in (
        kochi_agent,
        await make_token("supervisor", "kerala/ernakulam"),
        await make_token("admin", "kerala"),
    ):
        seen = await client.get(f"/api/v1/customers/{customer['id']}", headers=bearer(token))
        assert seen.status_code == 200


async def test_agent_cannot_register_customers_outside_their_taluk(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("agent", VARKALA)
    response = await register(client, token)  # home: Kochi
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/invalid-home-node"


async def test_list_searches_names_and_pages(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("agent", KOCHI)
    for i, name in enumerate(["Meera Nair", "Meera Menon", "Thomas Kurian"]):
        await register(client, token, name=name, phone=f"+9198470000{i:02d}")
    found = await client.get("/api/v1/customers", params={"q": "meera"}, headers=bearer(token))
    assert sorted(c["name"] for c in found.json()["items"]) == ["Meera Menon", "Meera Nair"]

    first = await client.get("/api/v1/customers", params={"limit": 2}, headers=bearer(token))
    page = first.json()
    assert len(page["items"]) == 2
    assert page["next_after"] is not None
    rest = await client.get(
        "/api/v1/customers", params={"limit": 2, "after": page["next_after"]}, headers=bearer(token)
    )
    assert len(rest.json()["items"]) == 1
    assert rest.json()["next_after"] is None


async def test_update_phone_resets_verification_and_moves_home(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("supervisor", "kerala/ernakulam")
    customer = (await register(client, token)).json()
    response = await client.patch(
        f"/api/v1/customers/{customer['id']}",
        json={"phone": "+91 99470 12345", "home_node": ALUVA, "language": "en"},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    assert response.json()["phone_e164"] == "+919947012345"
    assert response.json()["home_node"] == ALUVA
    old = await client.get(
        "/api/v1/customers/lookup", params={"phone": "09847012345"}, headers=bearer(token)
    )
    assert old.status_code == 404


@pytest.mark.parametrize(
    ("channel", "external_id"),
    [
        ("whatsapp", "919847012345"),
        ("whatsapp", "IN.1234567890abc"),
        ("telegram", "52123456"),
        ("app", "user-42"),
    ],
)
async def test_channel_identities_link_once(
    client: httpx.AsyncClient, make_token: TokenFactory, channel: str, external_id: str
) -> None:
    token = await make_token("agent", KOCHI)
    first = (await register(client, token)).json()
    second = (await register(client, token, name="Other", phone="9847099999")).json()
    url = f"/api/v1/customers/{first['id']}/identities"
    body = {"channel": channel, "external_id": external_id}
    assert (await client.post(url, json=body, headers=bearer(token))).status_code == 201
    assert (
        await client.post(url, json=body, headers=bearer(token))
    ).status_code == 201  # same owner
    stolen = await client.post(
        f"/api/v1/customers/{second['id']}/identities", json=body, headers=bearer(token)
    )
    assert stolen.status_code == 409
    detail = (await client.get(f"/api/v1/customers/{first['id']}", headers=bearer(token))).json()
    assert detail["identities"][0]["external_id"] == external_id
    removed = await client.delete(f"{url}/{channel}/{external_id}", headers=bearer(token))
    assert removed.status_code == 204


async def test_malformed_identity_is_refused(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = await make_token("agent", KOCHI)
    customer = (await register(client, token)).json()
    response = await client.post(
        f"/api/v1/customers/{customer['id']}/identities",
        json={"channel": "telegram", "external_id": "not-a-chat-id"},
        headers=bearer(token),
    )
    assert response.status_code == 422
    assert "not a valid telegram id" in response.json()["detail"]


async def test_requests_without_a_valid_token_are_401(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/customers")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await client.get("/api/v1/customers", headers=bearer("sah_nope"))
    assert wrong.status_code == 401
    assert wrong.json()["type"] == "/problems/bad-token"
