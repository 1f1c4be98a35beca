"""What the voice tests share: the staffed tree's phone numbers, and helpers that speak
Exotel's requests (gate, dial, outcome, a whole call) against the app."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from sahaya.network import domain as network_domain

FIXTURES = Path(__file__).parent.parent / "fixtures" / "providers" / "exotel"
KOCHI = "kerala/ernakulam/kochi"
ALWAYS = network_domain.WeeklyHours.always().to_mapping()

# Dial order of the seed: Kochi #1, Kochi #2, Ernakulam #1, Ernakulam #2, Kerala #1.
PHONES = {
    "kochi1": "+919400000001",
    "kochi2": "+919400000002",
    "kochi3": "+919400000003",
    "ekm1": "+919400000011",
    "ekm2": "+919400000012",
    "kerala1": "+919400000021",
}
CHAIN = [PHONES[k] for k in ("kochi1", "kochi2", "ekm1", "ekm2", "kerala1")]
CUSTOMER = "09847012345"


def params(sid: str, caller: str = CUSTOMER, **extra: str) -> dict[str, str]:
    base = {
        "CallSid": sid,
        "CallFrom": caller,
        "CallTo": "04842000000",
        "Direction": "incoming",
        "CallType": "call-attempt",
        "DialCallDuration": "0",
    }
    return base | extra


async def gate(client: httpx.AsyncClient, key: str, query: dict[str, str]) -> httpx.Response:
    return await client.get("/webhooks/exotel/gate", params={"key": key} | query)


async def dial(client: httpx.AsyncClient, key: str, query: dict[str, str]) -> list[str]:
    response = await client.get("/webhooks/exotel/dial", params={"key": key} | query)
    assert response.status_code == 200, response.text
    body = response.json()
    return list(body["destination"]["numbers"])


async def end(
    client: httpx.AsyncClient, key: str, sid: str, status: str, whom: str | None, **extra: str
) -> httpx.Response:
    query = params(sid, DialCallStatus=status, CallType=extra.pop("CallType", "incomplete"))
    if whom:
        query["DialWhomNumber"] = "0" + whom.removeprefix("+91")  # as Exotel writes it
    return await client.get("/webhooks/exotel/outcome", params={"key": key} | query | extra)


async def call(
    client: httpx.AsyncClient, key: str, status: str = "no-answer", caller: str = CUSTOMER
) -> tuple[str, list[str]]:
    """A whole inbound call nobody (or the last number) answered; returns sid and list."""
    sid = uuid.uuid4().hex
    assert (await gate(client, key, params(sid, caller))).status_code == 200
    numbers = await dial(client, key, params(sid, caller))
    response = await end(client, key, sid, status, numbers[-1] if numbers else None)
    assert response.status_code == 200, response.text
    return sid, numbers
