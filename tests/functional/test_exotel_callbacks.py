"""Callbacks end to end: a busy caller's request, seen per node, placed through Exotel's
`Calls/connect` (a local fake of that API on a real port), retried when nobody picks up,
closed by a completed conversation — with the provider's status callbacks posted back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from sahaya.channels.exotel.api import ExotelCalls
from sahaya.channels.exotel.sandbox import Behaviour, Phone
from sahaya.channels.exotel.sandbox_api import FakeExotelApi
from sahaya.persistence import Database, UnitOfWork
from sahaya.persistence.sealed import seal
from sahaya.settings import Settings
from sahaya.voice import callbacks, domain
from sahaya.voice import services as voice
from sahaya.voice.config import voice_config
from sahaya.voice.ports import CallPlacer, CallRequest, PlacerAccount
from sahaya.voice.repository import VoiceRepository
from sahaya.web.app import create_app
from sahaya.web.webhooks import exotel as exotel_webhooks
from tests.conftest import TokenFactory, bearer, rows, serving
from tests.functional.test_screen_pops import next_pop
from tests.functional.voice_support import CHAIN, CUSTOMER, PHONES, call, dial, end, gate, params

SID, API_KEY, API_TOKEN = "apna-sandbox", "api-key-1", "api-token-1"
POLICY = domain.CallbackPolicy(tries=3, spacing=timedelta(minutes=15))
OPEN_LEGS = "SELECT phone_e164 FROM call_legs WHERE outcome IS NULL ORDER BY 1"


@pytest.fixture
async def exotel(
    client: httpx.AsyncClient, db_url: str, key: str, settings: Settings
) -> AsyncIterator[FakeExotelApi]:
    """The fake Exotel API on a real port; the account points at it; status callbacks go
    to the app under test."""
    fake = FakeExotelApi(SID, API_KEY, API_TOKEN, status_client=client)
    async with serving(fake.app) as base:
        with psycopg.connect(db_url) as conn:
            conn.execute(
                "UPDATE voice_accounts SET api_base_url = %s, account_sid = %s, api_key = %s,"
                " api_token = %s",
                (base, SID, API_KEY, seal(API_TOKEN, settings.secret_key.get_secret_value())),
            )
        yield fake


async def sweep(
    database: Database, settings: Settings, now: datetime, placer: CallPlacer | None = None
) -> callbacks.Sweep:
    """One pass of the callback sweep, through Exotel's API client unless `placer`."""
    exotel = ExotelCalls()
    placer = placer or exotel
    try:
        async with UnitOfWork(database) as uow:
            result = await callbacks.place_due(
                uow=uow,
                placer=placer,
                now=now,
                config=voice_config(settings),
                policy=POLICY,
                public_url="http://sahaya.test",
                secret=settings.secret_key.get_secret_value(),
            )
            await uow.commit()
            return result
    finally:
        await exotel.close()


async def busy_caller(client: httpx.AsyncClient, key: str) -> None:
    for _ in range(3):
        await call(client, key)


async def automatic_callback_due(client: httpx.AsyncClient, key: str, db_url: str) -> None:
    """A busy caller's callback request, made automatic, with the executives (away after
    missing those three calls) back."""
    await busy_caller(client, key)
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE callback_requests SET auto = true")
        conn.execute("UPDATE executives SET availability = 'available'")


async def test_callbacks_are_listed_per_node_oldest_first(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, make_token: TokenFactory
) -> None:
    await busy_caller(client, key)
    kochi = await make_token("agent", "kerala/ernakulam/kochi")
    tvm = await make_token("agent", "kerala/thiruvananthapuram/thiruvananthapuram")
    mine = (await client.get("/api/v1/callbacks", headers=bearer(kochi))).json()
    assert [(c["phone"], c["status"], c["attempts"]) for c in mine] == [
        ("+919847012345", "pending", 0)
    ]
    assert (await client.get("/api/v1/callbacks", headers=bearer(tvm))).json() == []
    other = await client.post(f"/api/v1/callbacks/{mine[0]['id']}/call", headers=bearer(tvm))
    assert other.status_code == 404  # another taluk's request does not exist for them


async def test_a_manual_callback_is_placed_retried_and_completed(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    make_token: TokenFactory,
    db_url: str,
) -> None:
    await busy_caller(client, key)
    # Everyone in the chain missed three calls in a row and is away now: bring Kochi back.
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE executives SET availability = 'available'")
    assert await sweep(database, settings, datetime.now(UTC)) == callbacks.Sweep()  # manual
    agent = await make_token("agent", "kerala/ernakulam/kochi")
    (request,) = (await client.get("/api/v1/callbacks", headers=bearer(agent))).json()
    asked = await client.post(f"/api/v1/callbacks/{request['id']}/call", headers=bearer(agent))
    assert asked.status_code == 202
    now = datetime.now(UTC)

    # Try 1: Kochi #1 does not pick up.
    assert (await sweep(database, settings, now)).placed == 1
    await exotel.flush()
    (first,) = exotel.placed
    assert first.form["From"] == PHONES["kochi1"]  # the executive is rung first
    assert first.form["To"] == "+919847012345"
    assert first.form["CallerId"] == "04842000000"
    assert first.form["StatusCallbackContentType"] == "application/json"
    assert first.form["CustomField"] == f"callback:{request['id']}"
    assert "token=" in first.form["StatusCallback"]
    state = rows(db_url, "SELECT status, attempts, next_attempt_at FROM callback_requests")
    status, attempts, next_at = state[0]
    assert (status, attempts) == ("pending", 1)
    assert next_at is not None
    assert abs((next_at - now) - timedelta(minutes=15)) < timedelta(seconds=5)
    assert await sweep(database, settings, now + timedelta(minutes=5)) == callbacks.Sweep()

    # Try 2, 15 minutes later: Kochi #1 answers, then the customer.
    exotel.phones = {PHONES["kochi1"]: Phone(Behaviour.ANSWER, talk_seconds=75)}
    later = now + timedelta(minutes=15, seconds=5)  # the report came a moment after `now`
    assert (await sweep(database, settings, later)).placed == 1
    await exotel.flush()
    assert rows(db_url, "SELECT status, attempts FROM callback_requests") == [("completed", 2)]
    assert [p.answered for p in exotel.placed] == [200, 200]  # both reports accepted
    notes = rows(
        db_url, "SELECT body FROM ticket_entries WHERE author = 'system:callback' ORDER BY 1"
    )
    assert [n[0][:24] for n in notes] == ["Callback try 1: no-answe", "Called back: conversatio"]
    outbound = rows(
        db_url, "SELECT outcome, duration_seconds FROM calls WHERE direction = 'outbound'"
    )
    assert sorted(outbound, key=str) == [("answered", 75), ("no_answer", 0)]

    # Exotel retries its report: nothing changes.
    replay = await client.post(
        exotel.placed[-1].form["StatusCallback"], json=exotel.placed[-1].report
    )
    assert replay.status_code == 200
    assert rows(db_url, "SELECT status, attempts FROM callback_requests") == [("completed", 2)]


async def test_an_automatic_callback_gives_up_after_three_tries(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    await automatic_callback_due(client, key, db_url)
    now = datetime.now(UTC)
    for attempt in range(3):
        at = now + attempt * (POLICY.spacing + timedelta(seconds=5))
        assert (await sweep(database, settings, at)).placed == 1
        await exotel.flush()
    assert rows(db_url, "SELECT status, attempts, next_attempt_at FROM callback_requests") == [
        ("failed", 3, None)
    ]
    assert await sweep(database, settings, now + timedelta(hours=2)) == callbacks.Sweep()


async def test_provider_errors_are_retried_and_a_lost_report_counts_as_a_try(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    await automatic_callback_due(client, key, db_url)
    now = datetime.now(UTC)
    exotel.fail_next = [503]
    assert (await sweep(database, settings, now)).waiting == 1
    (state,) = rows(db_url, "SELECT status, attempts, last_error FROM callback_requests")
    assert state[:2] == ("pending", 0)
    assert "503" in str(state[2])
    assert rows(db_url, OPEN_LEGS) == []  # the refused call holds nobody
    assert rows(db_url, "SELECT count(*) FROM calls WHERE direction = 'outbound'") == [(0,)]
    # Placed, but Exotel's report never arrives (the fake posts nowhere).
    exotel.status_client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    assert (await sweep(database, settings, now + timedelta(minutes=1))).placed == 1
    await exotel.flush()
    assert rows(db_url, "SELECT status FROM callback_requests") == [("dialling",)]
    overdue = now + timedelta(minutes=1) + POLICY.report_timeout
    assert rows(db_url, OPEN_LEGS) == [(PHONES["kochi1"],)]
    assert (await sweep(database, settings, overdue)).retried == 1
    assert rows(db_url, "SELECT status, attempts FROM callback_requests") == [("pending", 1)]
    assert rows(db_url, OPEN_LEGS) == []  # the lost try no longer holds Kochi #1


async def test_status_callbacks_need_the_signed_account(
    client: httpx.AsyncClient, key: str, exotel: FakeExotelApi, db_url: str
) -> None:
    (account,) = rows(db_url, "SELECT id FROM voice_accounts")
    forged = await client.post(
        f"/webhooks/exotel/status?account={account[0]}&token=00ff",
        json={"CallSid": "x", "Status": "completed"},
    )
    assert forged.status_code == 403
    assert CUSTOMER


async def test_a_changed_secret_key_stops_callbacks_with_a_clear_reason(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    await automatic_callback_due(client, key, db_url)
    rotated = settings.model_copy(update={"secret_key": SecretStr("another secret")})
    assert (await sweep(database, rotated, datetime.now(UTC))).waiting == 1
    (state,) = rows(db_url, "SELECT status, attempts, last_error FROM callback_requests")
    assert state[:2] == ("pending", 0)  # not counted as a try
    assert "SAHAYA_SECRET_KEY" in str(state[2])
    assert exotel.placed == []


async def test_a_callback_goes_out_on_the_account_the_customer_called_in_on(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
    tenant_id: uuid.UUID,
) -> None:
    """A tenant with two Exotel numbers: the customer who rang the second one is called
    back from it (the number they know), not from the tenant's first account."""
    async with UnitOfWork(database) as uow:
        _, second = await voice.create_account(
            uow=uow, tenant_id=tenant_id, name="second", caller_id="04712000000"
        )
        await uow.commit()
    with psycopg.connect(db_url) as conn:  # the same (fake) Exotel API as the first account
        conn.execute(
            "UPDATE voice_accounts a SET api_base_url = b.api_base_url,"
            " account_sid = b.account_sid, api_key = b.api_key, api_token = b.api_token"
            " FROM voice_accounts b WHERE a.name = 'second' AND b.name <> 'second'"
        )
    await automatic_callback_due(client, second, db_url)
    assert (await sweep(database, settings, datetime.now(UTC))).placed == 1
    await exotel.flush()
    (placed,) = exotel.placed
    assert placed.form["CallerId"] == "04712000000"
    assert placed.form["To"] == "+919847012345"


async def test_a_callback_never_takes_an_executive_another_call_holds(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep's read of who is on a call is already stale: an inbound call was offered
    to the whole chain since. The claim refuses each of them, so nobody is rung twice and
    the request waits; once that call ends, the callback goes out."""
    await automatic_callback_due(client, key, db_url)
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    ringing = await dial(client, key, params(sid))
    assert ringing == CHAIN

    async def nobody_on_a_call(*_: object) -> frozenset[uuid.UUID]:
        return frozenset()

    with monkeypatch.context() as patched:
        patched.setattr(VoiceRepository, "executives_on_calls", nobody_on_a_call)
        stale = await sweep(database, settings, datetime.now(UTC))
    assert stale == callbacks.Sweep(waiting=1)
    assert exotel.placed == []
    assert rows(db_url, "SELECT count(*) FROM calls WHERE direction = 'outbound'") == [(0,)]
    # The caller gives up while it rings (had an executive answered, the callback would be
    # cancelled: they got through).
    await end(client, key, sid, "canceled", None, CallType="client-hangup")
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert (await sweep(database, settings, later)).placed == 1
    assert exotel.placed[0].form["From"] == PHONES["kochi1"]


class _CrashingPlacer:
    """The worker dies while asking the provider (after the executive was claimed)."""

    async def connect(self, account: PlacerAccount, request: CallRequest) -> str:
        raise RuntimeError("worker killed")


async def test_a_try_that_died_before_placing_its_call_is_resumed_without_a_stuck_executive(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    await automatic_callback_due(client, key, db_url)
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError):
        await sweep(database, settings, now, placer=_CrashingPlacer())
    # The claim had committed: Kochi #1 is held by the provisional call, the request is
    # still due as if the try never started.
    assert rows(db_url, OPEN_LEGS) == [(PHONES["kochi1"],)]
    assert rows(db_url, "SELECT status, attempts FROM callback_requests") == [("pending", 0)]
    assert (await sweep(database, settings, now + timedelta(seconds=5))).placed == 1
    await exotel.flush()
    assert exotel.placed[0].form["From"] == PHONES["kochi1"]
    # The dead try's provisional call is gone; the placed one carries Exotel's CallSid.
    outbound = rows(db_url, "SELECT call_sid, outcome FROM calls WHERE direction = 'outbound'")
    assert [(sid.startswith("pending:"), outcome) for sid, outcome in outbound] == [
        (False, "no_answer")
    ]
    assert rows(db_url, OPEN_LEGS) == []


class _Clock:
    """The webhooks' clock, moved by the test (sweeps are passed the same times)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    async def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fixed = _Clock(datetime.now(UTC))
    monkeypatch.setattr(exotel_webhooks, "clock", fixed)
    return fixed


async def test_a_completed_callback_ends_the_customers_run_of_unanswered_calls(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    """Called back and spoken to, the customer starts afresh: their next missed call is
    logged, not ticketed again."""
    await automatic_callback_due(client, key, db_url)
    exotel.phones = {PHONES["kochi1"]: Phone(Behaviour.ANSWER, talk_seconds=60)}
    assert (await sweep(database, settings, datetime.now(UTC))).placed == 1
    await exotel.flush()
    assert rows(db_url, "SELECT status FROM callback_requests") == [("completed",)]
    ((kochi1,),) = rows(db_url, "SELECT id FROM executives WHERE phone_e164 = %s", PHONES["kochi1"])
    assert rows(db_url, "SELECT answered_by FROM calls WHERE direction = 'outbound'") == [(kochi1,)]
    await call(client, key)  # one more missed call
    assert rows(db_url, "SELECT status FROM callback_requests") == [("completed",)]
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]


async def test_unanswered_callback_tries_are_not_the_customers_unanswered_calls(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
    clock: _Clock,
) -> None:
    """Three tries nobody picked up fail the request; a single missed call the customer
    makes afterwards is logged, not ticketed: only the customer's own calls count."""
    start = clock.now
    await automatic_callback_due(client, key, db_url)
    for attempt in range(3):
        clock.now = start + attempt * (POLICY.spacing + timedelta(seconds=5))
        assert (await sweep(database, settings, clock.now)).placed == 1
        await exotel.flush()
    assert rows(db_url, "SELECT status FROM callback_requests") == [("failed",)]
    clock.now = start + timedelta(minutes=31)  # the first three calls left the window
    await call(client, key)
    assert rows(db_url, "SELECT status FROM callback_requests") == [("failed",)]
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]


@pytest.mark.parametrize("report_as", ["application/x-www-form-urlencoded", "multipart/form-data"])
async def test_a_callback_reported_as_a_form_is_closed_by_its_conversation(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
    report_as: str,
) -> None:
    """Exotel's default report is a form, which carries no `Legs`: the conversation's
    duration says the customer was reached, and the request is done."""
    await automatic_callback_due(client, key, db_url)
    exotel.report_as = report_as
    exotel.phones = {PHONES["kochi1"]: Phone(Behaviour.ANSWER, talk_seconds=42)}
    assert (await sweep(database, settings, datetime.now(UTC))).placed == 1
    await exotel.flush()
    assert [p.answered for p in exotel.placed] == [200]
    assert rows(db_url, "SELECT status, attempts FROM callback_requests") == [("completed", 1)]
    outbound = "SELECT outcome, duration_seconds FROM calls WHERE direction = 'outbound'"
    assert rows(db_url, outbound) == [("answered", 42)]


async def test_a_callback_the_executive_missed_reported_as_a_form_is_tried_again(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    await automatic_callback_due(client, key, db_url)
    exotel.report_as = "multipart/form-data"
    assert (await sweep(database, settings, datetime.now(UTC))).placed == 1
    await exotel.flush()
    assert rows(db_url, "SELECT status, attempts FROM callback_requests") == [("pending", 1)]
    outbound = "SELECT outcome FROM calls WHERE direction = 'outbound'"
    assert rows(db_url, outbound) == [("no_answer",)]


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("multipart/form-data", b"CallSid=x&Status=completed", "multipart"),
        ("multipart/form-data; boundary=zz", b"--zz\r\nnot a part\r\n--zz--", "CallSid"),
        (
            "multipart/form-data; boundary=zz",
            b'--zz\r\nContent-Disposition: form-data; name="CallSid"\r\n\r\n\xff\xfe\r\n--zz--',
            "UTF-8",
        ),
        ("application/x-www-form-urlencoded", b"CallSid=\xff", "UTF-8"),
    ],
)
async def test_malformed_status_forms_are_refused_with_a_reason(
    client: httpx.AsyncClient, key: str, content_type: str, body: bytes, reason: str
) -> None:
    response = await client.post(
        f"/webhooks/exotel/status?key={key}", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    assert reason in response.text


async def test_a_callback_exotel_refuses_counts_each_refusal_and_fails_with_the_reason(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
    make_token: TokenFactory,
) -> None:
    """A refusal that waiting will not cure (Exotel's 400) is a try like an unanswered
    one: the reason shows on the request, and after the last try the request fails
    instead of being placed again forever."""
    await automatic_callback_due(client, key, db_url)
    now = datetime.now(UTC)
    exotel.fail_next = [400, 400, 400, 400]
    for attempt in range(3):
        at = now + attempt * (POLICY.spacing + timedelta(seconds=5))
        assert await sweep(database, settings, at) == callbacks.Sweep(failed=int(attempt == 2))
        (state,) = rows(db_url, "SELECT status, attempts FROM callback_requests")
        assert state == ("failed" if attempt == 2 else "pending", attempt + 1)
    assert await sweep(database, settings, now + timedelta(hours=2)) == callbacks.Sweep()
    assert exotel.fail_next == [400]  # asked three times, not a fourth
    assert rows(db_url, OPEN_LEGS) == []  # nobody is held by the refused calls
    agent = await make_token("agent", "kerala/ernakulam/kochi")
    listed = await client.get("/api/v1/callbacks?status=failed", headers=bearer(agent))
    (request,) = listed.json()
    assert request["last_error"] == "try 3 not placed: Exotel answered 400: Injected failure"
    notes = rows(
        db_url, "SELECT body FROM ticket_entries WHERE author = 'system:callback' ORDER BY 1"
    )
    assert [n[0] for n in notes][-1] == (
        "Callback try 3 not placed: Exotel answered 400: Injected failure. No tries left."
    )


async def test_a_callback_without_an_exotel_account_fails_after_its_tries(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
) -> None:
    await automatic_callback_due(client, key, db_url)
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM voice_accounts")
    now = datetime.now(UTC)
    for attempt in range(3):
        at = now + attempt * (POLICY.spacing + timedelta(seconds=5))
        await sweep(database, settings, at)
    assert rows(db_url, "SELECT status, attempts, last_error FROM callback_requests") == [
        ("failed", 3, "try 3 not placed: no Exotel account")
    ]
    assert exotel.placed == []


async def test_the_executive_a_callback_rings_gets_the_customers_screen_pop(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    exotel: FakeExotelApi,
    database: Database,
    settings: Settings,
    db_url: str,
    make_token: TokenFactory,
) -> None:
    """As for a call the customer makes: the card and open tickets, on the stream of the
    executive Exotel rings first, under the CallSid its report will carry."""
    await automatic_callback_due(client, key, db_url)
    ((kochi1,),) = rows(db_url, "SELECT id FROM executives WHERE phone_e164 = %s", PHONES["kochi1"])
    ((ticket,),) = rows(db_url, "SELECT number FROM tickets")
    lead = await make_token("supervisor", "kerala/ernakulam")
    async with (
        serving(create_app(db_url, settings)) as other_process,
        httpx.AsyncClient(base_url=other_process, timeout=10) as http,
        http.stream(
            "GET", f"/api/v1/executives/{kochi1}/screen-pops", headers=bearer(lead)
        ) as stream,
    ):
        lines = stream.aiter_lines()
        assert await anext(lines) == ": connected"
        assert (await sweep(database, settings, datetime.now(UTC))).placed == 1
        pop = await asyncio.wait_for(next_pop(lines), timeout=5)
    await exotel.flush()
    (placed,) = exotel.placed
    assert (pop["executive_id"], pop["call_sid"], pop["position"]) == (
        str(kochi1),
        placed.call_sid,
        1,
    )
    card = pop["customer"]
    assert (card["name"], card["phone"], card["node"]) == (
        "Anjali K",
        "+919847012345",
        "kerala/ernakulam/kochi",
    )
    assert [t["number"] for t in card["open_tickets"]] == [ticket]
