"""Screen-pops: when an executive's phone is offered a call, a server-sent event with the
caller's card and open tickets reaches that executive's stream — published through
PostgreSQL NOTIFY by the process that planned the dial, delivered by another."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from sahaya.access import Principal
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings
from sahaya.tickets import domain as ticket_domain
from sahaya.tickets import intake as ticket_intake
from sahaya.web.app import create_app
from tests.conftest import TokenFactory, bearer, rows, serving
from tests.functional.voice_support import PHONES, dial, gate, params


@pytest.fixture
async def other_process(db_url: str, settings: Settings) -> AsyncIterator[str]:
    """A second Sahaya server (its own app, pool and listener) on a real port."""
    async with serving(create_app(db_url, settings)) as base:
        yield base


async def next_pop(lines: AsyncIterator[str]) -> dict[str, Any]:
    event = None
    async for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "screen-pop":
            return dict(json.loads(line[6:]))
    raise AssertionError("stream ended")


async def test_the_offered_executive_gets_the_callers_card_and_open_tickets(
    client: httpx.AsyncClient,
    other_process: str,
    key: str,
    customer: uuid.UUID,
    admin: Principal,
    database: Database,
    db_url: str,
    make_token: TokenFactory,
    now: datetime,
) -> None:
    async with UnitOfWork(database) as uow:
        opened = await ticket_intake.open_ticket(
            uow=uow,
            actor=admin,
            intake=ticket_intake.Intake(
                customer_id=customer,
                service_code="apnafood",
                channel=ticket_domain.Channel.APP,
                subject="Biryani was cold",
                message="cold",
            ),
            now=now,
            thread_window=timedelta(0),
        )
        await uow.commit()
    ((kochi1,),) = rows(db_url, "SELECT id FROM executives WHERE phone_e164 = %s", PHONES["kochi1"])
    lead = await make_token("supervisor", "kerala/ernakulam")
    async with (
        httpx.AsyncClient(base_url=other_process, timeout=10) as http,
        http.stream(
            "GET", f"/api/v1/executives/{kochi1}/screen-pops", headers=bearer(lead)
        ) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        assert await anext(lines) == ": connected"
        sid = uuid.uuid4().hex
        await gate(client, key, params(sid))
        assert (await dial(client, key, params(sid)))[0] == PHONES["kochi1"]
        pop = await asyncio.wait_for(next_pop(lines), timeout=5)
    assert pop["executive_id"] == str(kochi1)
    assert (pop["call_sid"], pop["position"]) == (sid, 1)
    card = pop["customer"]
    assert (card["name"], card["phone"], card["node"]) == (
        "Anjali K",
        "+919847012345",
        "kerala/ernakulam/kochi",
    )
    assert [t["number"] for t in card["open_tickets"]] == [opened.ticket.number]


async def test_an_agent_may_watch_only_their_own_screen_pops(
    client: httpx.AsyncClient, key: str, db_url: str, make_token: TokenFactory
) -> None:
    ((kochi1,),) = rows(db_url, "SELECT id FROM executives WHERE phone_e164 = %s", PHONES["kochi1"])
    agent = await make_token("agent", "kerala/ernakulam/kochi")
    response = await client.get(f"/api/v1/executives/{kochi1}/screen-pops", headers=bearer(agent))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
