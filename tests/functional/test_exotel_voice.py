"""Exotel's call flow against the real app: the gate on the registered-customer table, the dial
list along the franchise tree, outcomes per executive, the busy-caller rule, auto-away after
missed calls, status callbacks, retries and malformed requests — with the documented payloads."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import psycopg
import pytest

from sahaya.access import Principal
from sahaya.customers import services as customers
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings
from sahaya.voice import dialling, outcomes
from sahaya.voice import services as voice
from sahaya.voice.config import voice_config
from sahaya.voice.repository import record_gates
from tests.conftest import TokenFactory, bearer, rows
from tests.functional.voice_support import (
    CHAIN,
    CUSTOMER,
    FIXTURES,
    KOCHI,
    PHONES,
    call,
    dial,
    end,
    gate,
    params,
)

# ------------------------------------------------------------------------------- gate


async def test_registered_caller_passes_unknown_caller_is_hung_up(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    documented = dict(parse_qsl((FIXTURES / "passthru-gate.query").read_text().strip()))
    response = await gate(client, key, documented)  # CallFrom=09847012345 (leading 0)
    assert response.status_code == 200
    unknown = dict(parse_qsl((FIXTURES / "passthru-captured.query").read_text().strip()))
    response = await gate(client, key, unknown)
    assert response.status_code == 302
    recorded = rows(
        db_url, "SELECT call_sid, from_e164, decision, reason FROM calls ORDER BY started_at"
    )
    assert [(r[1], r[2]) for r in recorded] == [
        ("+919847012345", "allow"),
        ("+917799828555", "deny"),
    ]
    assert "not a registered customer" in str(recorded[1][3])


async def test_a_repeated_gate_request_gives_the_first_answer_and_one_call_row(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    sid = uuid.uuid4().hex
    answers = await asyncio.gather(*(gate(client, key, params(sid)) for _ in range(5)))
    assert {r.status_code for r in answers} == {200}
    assert rows(db_url, "SELECT count(*) FROM calls WHERE call_sid = %s", sid) == [(1,)]


async def test_blocked_customer_and_unreadable_number_are_hung_up(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE customers SET blocked = true WHERE id = %s", (customer,))
    assert (await gate(client, key, params("blocked-1"))).status_code == 302
    assert (await gate(client, key, params("anon-1", caller="anonymous"))).status_code == 302
    reasons = dict(rows(db_url, "SELECT call_sid, reason FROM calls"))
    assert "blocked" in str(reasons["blocked-1"])
    assert "cannot be read" in str(reasons["anon-1"])


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"CallFrom": CUSTOMER}, 400),  # no CallSid
        ({"CallSid": "x1"}, 400),  # no caller
        ({"CallSid": "x2", "CallFrom": CUSTOMER, "DialCallDuration": "soon"}, 400),
        ({"CallSid": "x3" * 600, "CallFrom": CUSTOMER}, 400),
        # Found by fuzzing (each was a 500): longer than its column, a NUL, a duration
        # past the integer column or in digits `int()` reads but Exotel never sends.
        ({"CallSid": "x" * 101, "CallFrom": CUSTOMER}, 400),
        ({"CallSid": "a\x00b", "CallFrom": CUSTOMER}, 400),
        ({"CallSid": "x4", "CallFrom": CUSTOMER, "DialCallDuration": "2147483648"}, 400),
        ({"CallSid": "x5", "CallFrom": CUSTOMER, "DialCallDuration": "\uff11\uff12"}, 400),
        ({"CallSid": "x6", "CallFrom": CUSTOMER, "DialWhomNumber": "9" * 30}, 400),
    ],
)
async def test_malformed_requests_get_a_clear_400(
    client: httpx.AsyncClient, key: str, query: dict[str, str], status: int
) -> None:
    for path in ("gate", "dial", "outcome"):
        response = await client.get(f"/webhooks/exotel/{path}", params={"key": key} | query)
        assert response.status_code == status, (path, response.text)
        assert response.text


async def test_a_wrong_or_missing_key_is_refused(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    for path in ("gate", "dial", "outcome"):
        wrong = await client.get(f"/webhooks/exotel/{path}", params={"key": "nope"} | params("k"))
        missing = await client.get(f"/webhooks/exotel/{path}", params=params("k"))
        assert (wrong.status_code, missing.status_code) == (403, 403)
    status = await client.post("/webhooks/exotel/status?key=nope", json={"CallSid": "k"})
    assert status.status_code == 403
    signed = f"/webhooks/exotel/status?account={uuid.uuid4()}&token=%C3%A9"  # was a 500
    assert (await client.post(signed, json={"CallSid": "k"})).status_code == 403
    assert rows(db_url, "SELECT count(*) FROM calls") == [(0,)]


async def _while_the_database_is_away(
    db_url: str, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **configured: str
) -> tuple[httpx.Response, list[str]]:
    """A call's gate and dial answers once the database stops answering them (after one
    call that warmed the account cache), on an app with the `configured` settings."""
    from sahaya.settings import Settings
    from sahaya.web.app import create_app
    from sahaya.web.webhooks import exotel

    settings = Settings(environment="test", default_tenant="apna", var_dir=tmp_path, **configured)
    app = create_app(db_url, settings)

    async def unreachable(**_: object) -> None:
        raise psycopg.OperationalError("connection refused")

    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sahaya.test"
        ) as http:
            assert (await gate(http, key, params("warm"))).status_code == 200  # account cached
            monkeypatch.setattr(exotel.voice, "gate", unreachable)
            monkeypatch.setattr(exotel.dialling, "dial", unreachable)
            return await gate(http, key, params("down-1")), await dial(http, key, params("down-1"))


async def test_when_the_database_is_away_the_gate_lets_the_call_through_to_the_state_line(
    db_url: str, key: str, customer: uuid.UUID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated, numbers = await _while_the_database_is_away(
        db_url, key, tmp_path, monkeypatch, voice_fallback_number=PHONES["kerala1"]
    )
    assert gated.status_code == 200
    assert numbers == [PHONES["kerala1"]]


async def test_by_default_a_call_the_database_cannot_route_rings_the_state_franchisee(
    db_url: str, key: str, customer: uuid.UUID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No fallback number configured: the State franchisee's line, as read while the
    database answered (at start-up), is what the dial step offers when it cannot plan."""
    gated, numbers = await _while_the_database_is_away(db_url, key, tmp_path, monkeypatch)
    assert gated.text == "fallback"
    assert numbers == [PHONES["kerala1"]]


async def test_gate_batches_that_lose_the_database_fall_back_and_recover(
    db_url: str, key: str, customer: uuid.UUID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The coalesced reads and writes under the gate (persistence.batching): when the
    database goes away mid-flight every waiting caller gets the fallback answer (none hangs,
    none gets a 5xx), and the next calls are decided normally once it is back."""
    from contextlib import asynccontextmanager

    from sahaya.settings import Settings
    from sahaya.web.app import create_app

    settings = Settings(environment="test", default_tenant="apna", var_dir=tmp_path)
    app = create_app(db_url, settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sahaya.test"
        ) as http:
            assert (await gate(http, key, params("warm"))).status_code == 200  # account cached
            database = app.state.database

            @asynccontextmanager
            async def gone() -> AsyncIterator[None]:
                raise psycopg.OperationalError("server closed the connection unexpectedly")
                yield

            monkeypatch.setattr(database, "reading", gone)
            down = await asyncio.gather(*(gate(http, key, params(f"down-{i}")) for i in range(6)))
            assert [(r.status_code, r.text) for r in down] == [(200, "fallback")] * 6
            monkeypatch.undo()
            back = await asyncio.gather(*(gate(http, key, params(f"back-{i}")) for i in range(6)))
            assert [(r.status_code, r.text) for r in back] == [(200, "allow")] * 6
    stored = rows(db_url, "SELECT call_sid FROM calls ORDER BY call_sid")
    assert [s for (s,) in stored] == [f"back-{i}" for i in range(6)] + ["warm"]


# ------------------------------------------------------------------------------- dial


async def test_an_executive_offered_another_call_since_the_read_is_skipped_not_replanned(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between the dial's read and its offer, another call's offer of Kochi #1 commits: the
    offer takes the next in line, Kochi #3, as a fresh plan would, without reading and
    planning again."""
    real_offer = dialling.offer
    tries: list[list[str]] = []

    async def racing(
        connection: psycopg.AsyncConnection, values: dict[str, Any]
    ) -> tuple[str, ...]:
        tries.append(list(values["planned"]))
        if len(tries) == 1:
            await gate(client, key, params("the-other-call"))
            with psycopg.connect(db_url, autocommit=True) as other:
                other.execute(
                    """INSERT INTO call_legs (id, tenant_id, call_id, executive_id, position,
                                              level, phone_e164, offered_at)
                       SELECT gen_random_uuid(), c.tenant_id, c.id, e.id, 1, 'sub_district',
                              e.phone_e164, now()
                       FROM calls c, executives e
                       WHERE c.call_sid = 'the-other-call' AND e.phone_e164 = %s""",
                    (PHONES["kochi1"],),
                )
        return await real_offer(connection, values)

    monkeypatch.setattr(dialling, "offer", racing)
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    instead = [PHONES["kochi2"], PHONES["kochi3"], *CHAIN[2:]]
    assert await dial(client, key, params(sid)) == instead
    assert len(tries) == 1  # one read, one offer
    legs = rows(
        db_url,
        """SELECT l.position, l.phone_e164 FROM call_legs l JOIN calls c ON c.id = l.call_id
           WHERE c.call_sid = %s ORDER BY l.position""",
        sid,
    )
    assert legs == list(enumerate(instead, start=1))
    [(reason,)] = rows(db_url, "SELECT reason FROM calls WHERE call_sid = %s", sid)
    assert reason.startswith("5 to ring, 20s each (some planned were offered another call")


async def test_dial_list_follows_the_tree_with_exotel_connect_json(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID
) -> None:
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    response = await client.get("/webhooks/exotel/dial", params={"key": key} | params(sid))
    body = response.json()
    assert body["destination"]["numbers"] == CHAIN  # Kochi #3 is beyond the depth of 2
    assert body["fetch_after_attempt"] is False
    assert body["parallel_ringing"] == {"activate": False, "max_parallel_attempts": 1}
    assert (body["max_ringing_duration"], body["record"]) == (20, True)
    assert body["outgoing_phone_number"] == "04842000000"
    again = await dial(client, key, params(sid))  # Exotel retries: the same list
    assert again == CHAIN


async def test_away_and_busy_executives_are_skipped(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    database: Database,
    db_url: str,
    admin: Principal,
    now: datetime,
) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE executives SET availability = 'away' WHERE phone_e164 = %s", (PHONES["kochi1"],)
        )
    first = uuid.uuid4().hex
    await gate(client, key, params(first))
    ringing = await dial(client, key, params(first))
    assert ringing == [PHONES[k] for k in ("kochi2", "kochi3", "ekm1", "ekm2", "kerala1")]
    # A second caller while the first call is still ringing: nobody is free.
    async with UnitOfWork(database) as uow:
        await customers.register(
            uow=uow,
            actor=admin,
            name="Biju",
            phone="9847099999",
            home_node_ref=KOCHI,
            email=None,
            language="en",
            now=now,
        )
        await uow.commit()
    second = uuid.uuid4().hex
    await gate(client, key, params(second, caller="9847099999"))
    assert await dial(client, key, params(second, caller="9847099999")) == []
    # The first call ends, answered by Kochi #2: everyone is free again.
    await end(client, key, first, "completed", PHONES["kochi2"], CallType="completed")
    third = uuid.uuid4().hex
    await gate(client, key, params(third, caller="9847099999"))
    assert await dial(client, key, params(third, caller="9847099999")) == ringing


async def test_unknown_caller_gets_an_empty_list(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID
) -> None:
    sid = uuid.uuid4().hex
    assert (await gate(client, key, params(sid, caller="9847011111"))).status_code == 302
    assert await dial(client, key, params(sid, caller="9847011111")) == []


# ---------------------------------------------------------------------------- outcome


async def test_outcome_records_each_leg_and_who_answered(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    await dial(client, key, params(sid))
    response = await end(
        client,
        key,
        sid,
        "completed",
        PHONES["ekm1"],
        CallType="completed",
        DialCallDuration="95",
        RecordingUrl="https://rec.example/1.mp3",
    )
    assert response.text == "answered"
    legs = rows(
        db_url,
        "SELECT l.phone_e164, l.outcome FROM call_legs l JOIN calls c ON c.id = l.call_id"
        " WHERE c.call_sid = %s ORDER BY l.position",
        sid,
    )
    assert legs == [
        (PHONES["kochi1"], "missed"),
        (PHONES["kochi2"], "missed"),
        (PHONES["ekm1"], "answered"),
        (PHONES["ekm2"], "not_rung"),
        (PHONES["kerala1"], "not_rung"),
    ]
    (recorded,) = rows(
        db_url,
        "SELECT c.outcome, c.duration_seconds, c.recording_url, e.phone_e164 FROM calls c"
        " JOIN executives e ON e.id = c.answered_by WHERE call_sid = %s",
        sid,
    )
    assert recorded == ("answered", 95, "https://rec.example/1.mp3", PHONES["ekm1"])
    again = await end(client, key, sid, "no-answer", PHONES["kerala1"])  # a late repeat
    assert again.text == "answered"  # the first report stands


@pytest.mark.parametrize(
    ("status", "call_type", "expected"),
    [
        ("no-answer", "incomplete", "no_answer"),
        ("busy", "incomplete", "busy"),
        ("failed", "incomplete", "failed"),
        ("canceled", "client-hangup", "caller_hung_up"),
    ],
)
async def test_outcomes_are_kept_apart(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    status: str,
    call_type: str,
    expected: str,
) -> None:
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    numbers = await dial(client, key, params(sid))
    response = await end(client, key, sid, status, numbers[0], CallType=call_type)
    assert response.text == expected


# ------------------------------------------------------------------- busy-caller rule


async def test_one_missed_call_is_logged_three_make_one_ticket_and_one_callback(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    await call(client, key)
    await call(client, key, status="busy")
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]  # two: logged only
    await call(client, key)
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]  # the third opens one
    await call(client, key)  # a fourth: still one ticket, one callback
    tickets = rows(db_url, "SELECT number, channel, subject FROM tickets")
    assert len(tickets) == 1
    _number, channel, subject = tickets[0]
    assert channel == "voice"
    assert "unanswered calls" in str(subject)
    callbacks = rows(db_url, "SELECT status, ticket_id IS NOT NULL FROM callback_requests")
    assert callbacks == [("pending", True)]
    acks = rows(
        db_url,
        "SELECT channel, recipient FROM outbox_messages WHERE template = 'ticket_acknowledgement'",
    )
    assert acks == [("email", "anjali@example.in")]
    assert rows(db_url, "SELECT count(*) FROM app_inbox") == [(1,)]


@pytest.mark.parametrize("path", ["fast", "unit of work"])
async def test_a_caller_who_gets_through_no_longer_waits_for_their_callback(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    """Owed a callback after three unanswered calls, the customer calls again and an
    executive answers: calling them back now would only disturb them. The request is
    cancelled, saying which call served it; the ticket stays for the team. The same on
    the outcome's fast path and on its unit-of-work path."""
    for _ in range(3):
        await call(client, key)
    assert rows(db_url, "SELECT status FROM callback_requests") == [("pending",)]
    fast = outcomes.record_outcome_fast
    if path == "unit of work":

        async def full_path(**_: Any) -> None:
            return None

        monkeypatch.setattr(outcomes, "record_outcome_fast", full_path)
    sid, _ = await call(client, key, status="completed")
    monkeypatch.setattr(outcomes, "record_outcome_fast", fast)
    [(status, why, due)] = rows(
        db_url, "SELECT status, last_error, next_attempt_at FROM callback_requests"
    )
    assert (status, due) == ("cancelled", None)
    assert why == f"not needed: the customer got through on call {sid}"
    assert rows(db_url, "SELECT status FROM tickets") == [("new",)]
    # Getting through ended that run of unanswered calls: the next two are only logged,
    # the third brings a new callback request (into the ticket still open).
    await call(client, key)
    await call(client, key)
    assert rows(db_url, "SELECT count(*) FROM callback_requests") == [(1,)]
    await call(client, key)
    assert rows(db_url, "SELECT status FROM callback_requests ORDER BY created_at") == [
        ("cancelled",),
        ("pending",),
    ]
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]


async def unanswered_together(
    client: httpx.AsyncClient,
    key: str,
    db_url: str,
    calls: int,
    monkeypatch: pytest.MonkeyPatch,
) -> list[httpx.Response | BaseException]:
    """`calls` calls of the customer that nobody can take (all executives away) end at
    once: a barrier lets every outcome read its call before any closes it."""
    together = asyncio.Barrier(calls)
    close = outcomes.close_call

    async def close_together(*args: Any) -> bool:
        await together.wait()
        return await close(*args)

    monkeypatch.setattr(outcomes, "close_call", close_together)
    sids = [uuid.uuid4().hex for _ in range(calls)]
    for sid in sids:
        assert (await gate(client, key, params(sid))).status_code == 200
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE executives SET availability = 'away'")
    for sid in sids:
        assert await dial(client, key, params(sid)) == []
    ends = (end(client, key, sid, "", None) for sid in sids)
    return await asyncio.gather(*ends, return_exceptions=True)


@pytest.mark.parametrize("calls", [3, 4])
async def test_concurrent_unanswered_calls_make_exactly_one_ticket(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    calls: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three (the rule's count) or more calls ending at once: each outcome reads the
    caller's unanswered calls after its own has committed, so the last one sees them all.
    Every outcome has read its call before any closes it (a barrier holds them)."""
    ends = await unanswered_together(client, key, db_url, calls, monkeypatch)
    assert [r.text for r in ends] == ["not_connected"] * calls
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]
    assert rows(db_url, "SELECT count(*) FROM callback_requests") == [(1,)]
    assert rows(db_url, "SELECT count(*) FROM busy_rule_pending") == [(0,)]


async def test_a_crash_in_the_busy_caller_rule_leaves_the_call_open_for_exotels_retry(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The third unanswered call brings the caller to the rule: its close, ticket and
    callback commit together. A crash inside the rule leaves the call open, and Exotel's
    retry of that outcome does all of it."""
    with psycopg.connect(db_url) as conn:  # nobody to ring: each call ends not connected
        conn.execute("UPDATE executives SET availability = 'away'")
    await call(client, key)
    await call(client, key)
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    assert await dial(client, key, params(sid)) == []
    rule = outcomes._busy_caller

    async def dies(*_: Any) -> outcomes.Recorded:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(outcomes, "_busy_caller", dies)
    with pytest.raises(RuntimeError):
        await end(client, key, sid, "", None)
    assert rows(db_url, "SELECT outcome FROM calls WHERE call_sid = %s", sid) == [(None,)]
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    monkeypatch.setattr(outcomes, "_busy_caller", rule)
    retried = await end(client, key, sid, "", None)
    assert retried.text == "not_connected"
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]
    assert rows(db_url, "SELECT count(*) FROM callback_requests") == [(1,)]
    again = await end(client, key, sid, "", None)  # and only once
    assert again.status_code == 200
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]


async def test_a_crash_after_concurrent_unanswered_calls_closed_is_resumed_by_the_sweep(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three calls ending at once close without the rule (none had seen the others); the
    one whose request then finds the rule reached dies before applying it. Its close left
    the rule pending, and the worker's sweep — even hours later — opens the one ticket and
    callback, decided as of that call's end; a second sweep finds nothing."""

    async def dies(**_: Any) -> outcomes.Recorded:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(outcomes, "apply_busy_rule", dies)
    ends = await unanswered_together(client, key, db_url, 3, monkeypatch)
    assert any(isinstance(e, RuntimeError) for e in ends)
    assert rows(db_url, "SELECT count(*) FROM calls WHERE outcome IS NULL") == [(0,)]
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    assert rows(db_url, "SELECT count(*) FROM busy_rule_pending") != [(0,)]

    sweep = sweeper(database, settings)
    assert await sweep(datetime.now(UTC)) == 0  # the request may still be at it
    monkeypatch.setattr(outcomes, "_busy_caller", dies_too)  # a try that fails is kept
    assert await sweep(datetime.now(UTC) + timedelta(hours=1)) >= 1
    kept = rows(db_url, "SELECT attempts, last_error FROM busy_rule_pending")
    assert kept
    assert all(attempts == 1 and "rule broke" in str(error) for attempts, error in kept)
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]
    monkeypatch.undo()
    assert await sweep(datetime.now(UTC) + timedelta(hours=1)) == 0  # not due again yet
    assert await sweep(datetime.now(UTC) + timedelta(hours=2)) >= 1
    assert rows(db_url, "SELECT count(*) FROM tickets WHERE channel = 'voice'") == [(1,)]
    callbacks = rows(db_url, "SELECT status, ticket_id IS NOT NULL FROM callback_requests")
    assert callbacks == [("pending", True)]
    assert rows(db_url, "SELECT count(*) FROM busy_rule_pending") == [(0,)]
    assert await sweep(datetime.now(UTC) + timedelta(hours=3)) == 0
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]


async def dies_too(*_: Any, **__: Any) -> outcomes.Recorded:
    raise RuntimeError("rule broke")


def sweeper(database: Database, settings: Settings) -> Callable[[datetime], Awaitable[int]]:
    async def sweep(at: datetime) -> int:
        return await outcomes.resume_busy_rules(
            database=database, now=at, config=voice_config(settings)
        )

    return sweep


async def test_a_pending_rule_not_reached_is_only_removed_by_the_sweep(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One unanswered call whose request died right after its close: the sweep finds the
    rule not reached (one call of three) and removes the row — no ticket."""

    async def dies(*_: Any, **__: Any) -> list[datetime]:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(outcomes, "settle_unanswered", dies)
    with pytest.raises(RuntimeError):
        await call(client, key)
    assert rows(db_url, "SELECT count(*) FROM busy_rule_pending") == [(1,)]
    assert await sweeper(database, settings)(datetime.now(UTC) + timedelta(hours=2)) == 1
    assert rows(db_url, "SELECT count(*) FROM busy_rule_pending") == [(0,)]
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(0,)]


async def test_a_late_sweep_does_not_call_back_twice_for_one_run_of_unanswered_calls(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
) -> None:
    """Two requests found the rule reached (concurrent calls): one applied it, the other
    died with its rule pending. Its sweep, after the callback is done, sees the rule ran
    for this run of calls and opens nothing more."""
    await call(client, key)
    second, _ = await call(client, key)
    await call(client, key)  # the rule: one ticket, one callback
    with psycopg.connect(db_url) as conn:  # as if it had ended with the third, its request dead
        conn.execute(
            "UPDATE calls SET ended_at = (SELECT max(ended_at) FROM calls) + interval '1 second'"
            " WHERE call_sid = %s",
            (second,),
        )
        conn.execute(
            "INSERT INTO busy_rule_pending (call_id, due_at)"
            " SELECT id, ended_at FROM calls WHERE call_sid = %s",
            (second,),
        )
        conn.execute("UPDATE callback_requests SET status = 'completed'")
    assert await sweeper(database, settings)(datetime.now(UTC) + timedelta(hours=2)) == 1
    assert rows(db_url, "SELECT count(*) FROM callback_requests") == [(1,)]
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]
    assert rows(db_url, "SELECT count(*) FROM busy_rule_pending") == [(0,)]


async def test_a_late_sweep_is_not_fooled_by_a_callback_try_carrying_the_old_ticket(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A callback try nobody picked up carries its ticket, but it is not the rule having
    run: a new run of three unanswered calls, ending together, whose rule's request died,
    is called back by the sweep like any other."""
    for _ in range(3):  # the caller hangs up while it rings: nobody is set away
        await call(client, key, "canceled")  # the rule: one ticket, one callback
    with psycopg.connect(db_url) as conn:  # two hours ago; the callback done, a try since
        conn.execute(
            "UPDATE calls SET started_at = started_at - interval '2 hours',"
            " ended_at = ended_at - interval '2 hours'"
        )
        conn.execute(
            "UPDATE callback_requests SET status = 'completed',"
            " created_at = created_at - interval '2 hours'"
        )
        conn.execute(
            """INSERT INTO calls (id, tenant_id, account_id, call_sid, direction, from_raw,
                                  to_raw, customer_id, node_id, decision, reason, outcome,
                                  ticket_id, started_at, ended_at, updated_at)
               SELECT gen_random_uuid(), c.tenant_id, c.account_id, 'a-callback-try',
                      'outbound', 'x', 'y', c.customer_id, c.node_id, 'allow', 'callback',
                      'no_answer', t.id, now() - interval '20 minutes',
                      now() - interval '19 minutes', now()
               FROM calls c, tickets t LIMIT 1"""
        )

    monkeypatch.setattr(outcomes, "apply_busy_rule", dies_too)
    ends = await unanswered_together(client, key, db_url, 3, monkeypatch)
    assert any(isinstance(e, RuntimeError) for e in ends)  # the rule's request died
    monkeypatch.undo()
    assert rows(db_url, "SELECT count(*) FROM busy_rule_pending") != [(0,)]
    assert await sweeper(database, settings)(datetime.now(UTC) + timedelta(hours=1)) >= 1
    assert rows(db_url, "SELECT status FROM callback_requests ORDER BY created_at") == [
        ("completed",),
        ("pending",),
    ]
    assert rows(db_url, "SELECT count(*) FROM busy_rule_pending") == [(0,)]


async def test_unanswered_calls_below_the_rule_leave_nothing_for_the_sweep(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    """Each unanswered call's request settles its own rule: two calls (below the rule)
    and a third (which applies it) leave no pending rule behind."""
    await call(client, key)
    await call(client, key, status="busy")
    assert rows(db_url, "SELECT count(*) FROM busy_rule_pending") == [(0,)]
    await call(client, key)
    assert rows(db_url, "SELECT count(*) FROM tickets") == [(1,)]
    assert rows(db_url, "SELECT count(*) FROM busy_rule_pending") == [(0,)]


# ------------------------------------------------------------------ missed in a row


async def test_an_executive_who_misses_three_calls_in_a_row_is_set_away(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    for _ in range(3):  # Kochi #2 answers each time: Kochi #1 missed it first
        sid = uuid.uuid4().hex
        await gate(client, key, params(sid))
        await dial(client, key, params(sid))
        await end(client, key, sid, "completed", PHONES["kochi2"], CallType="completed")
    availability = dict(rows(db_url, "SELECT phone_e164, availability FROM executives"))
    assert availability[PHONES["kochi1"]] == "away"
    assert availability[PHONES["kochi2"]] == "available"
    notices = rows(
        db_url,
        "SELECT recipient, subject FROM outbox_messages WHERE template = 'staff_notice'",
    )
    assert notices == [("lead@kochi.example", "kochi1 set away after 3 missed calls")]
    sid = uuid.uuid4().hex  # the next call skips them
    await gate(client, key, params(sid))
    assert PHONES["kochi1"] not in await dial(client, key, params(sid))


# --------------------------------------------------------------------- status callback


async def test_status_callback_json_and_form_are_idempotent(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str, tenant_id: uuid.UUID
) -> None:
    documented = (FIXTURES / "status-callback.json").read_bytes()
    unknown = await client.post(
        f"/webhooks/exotel/status?key={key}",
        content=documented,
        headers={"Content-Type": "application/json"},
    )
    assert unknown.status_code == 200  # not our call: acknowledged, nothing stored
    with psycopg.connect(db_url) as conn:  # a callback Sahaya placed
        conn.execute(
            "INSERT INTO calls (id, tenant_id, call_sid, direction, from_raw, to_raw, decision,"
            " reason, started_at, updated_at) VALUES (%s, %s, %s, 'outbound', '+914842000111',"
            " '+919847012345', 'allow', 'callback', now(), now())",
            (uuid.uuid4(), tenant_id, "80bfbec2d78bbbf10fb851f4fa165211"),
        )
    for _ in range(3):  # Exotel retries up to twice
        response = await client.post(
            f"/webhooks/exotel/status?key={key}",
            content=documented,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200
    assert rows(
        db_url,
        "SELECT outcome, duration_seconds FROM calls WHERE call_sid = %s",
        "80bfbec2d78bbbf10fb851f4fa165211",
    ) == [("answered", 241)]
    form = await client.post(
        f"/webhooks/exotel/status?key={key}",
        data={"CallSid": "form-1", "Status": "no-answer", "DateUpdated": "2025-03-10 19:09:41"},
    )
    assert form.status_code == 200
    for bad in (b"{", b"[1]", b'{"CallSid": "x", "Status": "exploded"}'):
        response = await client.post(
            f"/webhooks/exotel/status?key={key}",
            content=bad,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, bad


async def test_overlapping_retries_of_gate_dial_and_outcome_never_fail(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    """Exotel's retries can overlap: every step must cope with the others racing it."""
    sids = [uuid.uuid4().hex for _ in range(6)]
    responses = await asyncio.gather(
        *(gate(client, key, params(sid)) for sid in sids),
        *(client.get("/webhooks/exotel/dial", params={"key": key} | params(sid)) for sid in sids),
        *(end(client, key, sid, "no-answer", None) for sid in sids),
    )
    assert all(r.status_code in (200, 302) for r in responses), [r.text for r in responses]
    assert rows(db_url, "SELECT count(*), count(outcome) FROM calls") == [(6, 6)]


# ------------------------------------------------------------------- the Exotel sandbox


async def test_sandbox_call_fails_over_from_the_taluk_to_the_district(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    from sahaya.channels.exotel.sandbox import Behaviour, Phone, Sandbox

    sandbox = Sandbox(
        client,
        key,
        phones={
            PHONES["kochi1"]: Phone(Behaviour.BUSY, after_seconds=2),
            PHONES["ekm1"]: Phone(Behaviour.ANSWER, after_seconds=8, talk_seconds=60),
        },
    )
    trace = await sandbox.call("09847012345")
    assert trace.gate_status == 200
    assert trace.numbers == CHAIN
    assert trace.answered_by == PHONES["ekm1"]
    assert trace.outcome == "answered"
    timeline = trace.timeline()
    assert f"{PHONES['kochi1']}: busy" in timeline
    assert f"{PHONES['kochi2']}: no-answer" in timeline  # rang its full 20 s
    assert "answered; talking 60s" in timeline
    legs = rows(
        db_url,
        "SELECT l.outcome FROM call_legs l JOIN calls c ON c.id = l.call_id"
        " WHERE c.call_sid = %s ORDER BY l.position",
        trace.call_sid,
    )
    assert [r[0] for r in legs] == ["missed", "missed", "answered", "not_rung", "not_rung"]


async def test_sandbox_unknown_caller_is_hung_up_and_busy_caller_gets_a_callback(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    from sahaya.channels.exotel.sandbox import Sandbox

    sandbox = Sandbox(client, key)  # nobody answers
    stranger = await sandbox.call("9847011111")
    assert (stranger.gate_status, stranger.outcome) == (302, "hung-up-by-flow")
    outcomes = [(await sandbox.call("+91 98470 12345")).outcome for _ in range(3)]
    assert outcomes == ["no_answer"] * 3
    assert rows(db_url, "SELECT channel FROM tickets") == [("voice",)]
    assert rows(db_url, "SELECT status FROM callback_requests") == [("pending",)]
    # Everyone who missed three in a row is away now; Kochi #3 (beyond the depth) rings.
    gave_up = await Sandbox(client, key, hangup_after=10).call(CUSTOMER)
    assert gave_up.outcome == "caller_hung_up"
    assert "caller hung up while ringing" in gave_up.timeline()


async def test_a_call_to_the_verification_number_verifies_the_caller(
    client: httpx.AsyncClient,
    database: Database,
    tenant_id: uuid.UUID,
    customer: uuid.UUID,
    db_url: str,
    key: str,
) -> None:
    async with UnitOfWork(database) as uow:
        _, verify_key = await voice.create_account(
            uow=uow,
            tenant_id=tenant_id,
            name="verification line",
            caller_id="04842000000",
            verify_number="04842000999",
        )
        await uow.commit()
    assert (await gate(client, key, params(uuid.uuid4().hex))).status_code == 200  # ordinary
    assert rows(db_url, "SELECT verification FROM customers WHERE id = %s", customer) == [
        ("unverified",)
    ]
    # Exotel writes the called ExoPhone without its 0.
    sid = uuid.uuid4().hex
    response = await gate(client, verify_key, params(sid, CallTo="4842000999"))
    assert response.status_code == 200
    (state,) = rows(
        db_url,
        "SELECT verification, verified_via, verified_at IS NOT NULL FROM customers WHERE id = %s",
        customer,
    )
    assert state == ("verified", "missed_call", True)
    (reason,) = rows(db_url, "SELECT reason FROM calls WHERE call_sid = %s", sid)
    assert "missed-call verification" in str(reason[0])
    stranger = await gate(client, verify_key, params(uuid.uuid4().hex, caller="9847011111"))
    assert stranger.status_code == 302


async def test_call_timing_is_set_per_node_and_inherited_down_the_tree(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    make_token: TokenFactory,
) -> None:
    ((ernakulam,), (kochi,)) = rows(
        db_url, "SELECT id FROM nodes WHERE path IN ('kerala/ernakulam', %s) ORDER BY path", KOCHI
    )
    lead = await make_token("supervisor", "kerala/ernakulam")
    agent = await make_token("agent", KOCHI)
    before = await client.get(f"/api/v1/nodes/{kochi}/call-timing", headers=bearer(agent))
    assert before.json() == {
        "node": KOCHI,
        "ring_seconds": 20,
        "budget_seconds": 120,
        "set_at": None,
    }
    refused = await client.put(
        f"/api/v1/nodes/{ernakulam}/call-timing",
        json={"ring_seconds": 30, "budget_seconds": 60},
        headers=bearer(agent),
    )
    assert refused.status_code == 403
    bad = await client.put(
        f"/api/v1/nodes/{ernakulam}/call-timing",
        json={"ring_seconds": 30, "budget_seconds": 20},
        headers=bearer(lead),
    )
    assert bad.status_code == 422
    assert "budget" in bad.json()["detail"]
    done = await client.put(
        f"/api/v1/nodes/{ernakulam}/call-timing",
        json={"ring_seconds": 30, "budget_seconds": 60},
        headers=bearer(lead),
    )
    assert done.status_code == 200, done.text
    inherited = await client.get(f"/api/v1/nodes/{kochi}/call-timing", headers=bearer(agent))
    assert inherited.json()["set_at"] == "kerala/ernakulam"
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    response = await client.get("/webhooks/exotel/dial", params={"key": key} | params(sid))
    body = response.json()
    assert body["max_ringing_duration"] == 30
    assert body["destination"]["numbers"] == CHAIN[:2]  # 60 s of budget: two numbers
    again = await client.get("/webhooks/exotel/dial", params={"key": key} | params(sid))
    assert again.json() == body  # Exotel's retry: the same numbers, rung as long
    cleared = await client.put(
        f"/api/v1/nodes/{ernakulam}/call-timing",
        json={"ring_seconds": None, "budget_seconds": None},
        headers=bearer(lead),
    )
    assert cleared.json()["set_at"] is None


async def test_with_several_services_the_ivr_choice_picks_the_service(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    make_token: TokenFactory,
) -> None:
    from sahaya.channels.exotel.sandbox import Sandbox

    sandbox = Sandbox(client, key)
    assert (await sandbox.call(CUSTOMER)).numbers == CHAIN  # one service: no menu
    admin_token = await make_token("admin", "kerala")
    opened = await client.patch(  # Apnaride opens; nobody serves it yet
        "/api/v1/services/apnaride", json={"active": True}, headers=bearer(admin_token)
    )
    assert opened.status_code == 200, opened.text
    no_choice = await sandbox.call(CUSTOMER)
    assert no_choice.numbers == []  # the menu was skipped: no service, nobody rung
    food = await sandbox.call(CUSTOMER, digits="1")  # 1 = apnafood (code order)
    assert food.numbers == CHAIN
    ride = await sandbox.call(CUSTOMER, digits="2")  # 2 = apnaride: nobody serves it
    assert ride.numbers == []
    services = rows(db_url, "SELECT call_sid, service_code FROM calls ORDER BY started_at")
    assert [s for _, s in services] == ["apnafood", None, "apnafood", "apnaride"]


async def test_presence_shows_who_is_on_a_call_from_the_call_records(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, make_token: TokenFactory
) -> None:
    lead = await make_token("supervisor", "kerala/ernakulam")

    async def on_call() -> dict[str, bool]:
        response = await client.get("/api/v1/presence", headers=bearer(lead))
        assert response.status_code == 200, response.text
        return {p["phone"]: p["on_call"] for p in response.json()}

    before = await on_call()
    assert PHONES["kerala1"] not in before  # the state's line is outside this scope
    assert not any(before.values())
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    await dial(client, key, params(sid))
    ringing = await on_call()
    assert ringing[PHONES["kochi1"]]
    assert ringing[PHONES["ekm2"]]
    assert not ringing[PHONES["kochi3"]]  # beyond the chain's depth: not offered
    await end(client, key, sid, "completed", PHONES["kochi1"], CallType="completed")
    assert not any((await on_call()).values())


@pytest.mark.parametrize("other_commits", [True, False], ids=["commits", "gives-up"])
async def test_an_executive_another_plan_is_offering_is_not_offered_twice(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str, other_commits: bool
) -> None:
    """Another plan has offered Kochi #1 a call and not yet committed: this call's offer
    waits for it (the unique index of open legs), then rings Kochi #1 only if that offer
    was given up."""
    first = uuid.uuid4().hex
    await gate(client, key, params(first))
    with psycopg.connect(db_url) as other:
        other.execute(
            """INSERT INTO call_legs (id, tenant_id, call_id, executive_id, position, level,
                                      phone_e164, offered_at)
               SELECT gen_random_uuid(), c.tenant_id, c.id, e.id, 1, 'sub_district',
                      e.phone_e164, now()
               FROM calls c, executives e WHERE c.call_sid = %s AND e.phone_e164 = %s""",
            (first, PHONES["kochi1"]),
        )
        sid = uuid.uuid4().hex
        await gate(client, key, params(sid))
        planning = asyncio.create_task(dial(client, key, params(sid)))
        await asyncio.sleep(0.3)
        assert not planning.done()  # waiting on the other offer, not guessing
        other.commit() if other_commits else other.rollback()
        ringing = await planning
    if other_commits:
        # Kochi #3, beyond the taluk's depth of 2 before, moves up.
        assert ringing == [PHONES[k] for k in ("kochi2", "kochi3", "ekm1", "ekm2", "kerala1")]
    else:
        assert ringing == CHAIN
    open_legs = "SELECT executive_id FROM call_legs WHERE outcome IS NULL"
    held = [executive for (executive,) in rows(db_url, open_legs)]
    assert len(held) == len(set(held)) == len(ringing) + other_commits


async def test_a_leg_whose_outcome_never_came_stops_holding_its_executive_at_the_horizon(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    """Exotel never reported how an earlier call ended: past the horizon (ring budget plus
    the longest conversation) Kochi #1 is offered again, and the old leg reads unreported.
    Before it, Kochi #1 is skipped — and nothing can give them a second open leg."""
    lost, recent = uuid.uuid4().hex, uuid.uuid4().hex
    await gate(client, key, params(lost))
    await gate(client, key, params(recent))
    hold = """INSERT INTO call_legs (id, tenant_id, call_id, executive_id, position, level,
                                     phone_e164, offered_at)
              SELECT gen_random_uuid(), c.tenant_id, c.id, e.id, 1, 'sub_district',
                     e.phone_e164, now() - %s * interval '1 second'
              FROM calls c, executives e WHERE c.call_sid = %s AND e.phone_e164 = %s"""
    with psycopg.connect(db_url) as conn:
        conn.execute(hold, (2 * 3600, lost, PHONES["kochi1"]))
        with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
            conn.execute(hold, (0, recent, PHONES["kochi1"]))
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    assert await dial(client, key, params(sid)) == CHAIN
    legs = "SELECT c.call_sid, l.outcome FROM call_legs l JOIN calls c ON c.id = l.call_id"
    by_call = {}
    for call_sid, outcome in rows(db_url, legs + " WHERE l.phone_e164 = %s", PHONES["kochi1"]):
        by_call[call_sid] = outcome
    assert by_call == {lost: "unreported", sid: None}


async def test_a_dial_whose_offer_is_refused_every_time_rings_nobody_and_says_why(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Other calls keep taking the chosen executives (every offer is refused): after a few
    tries the flow gets an empty list — nobody twice — and the call's record says why."""
    refusals = 0

    async def refused(*_: Any) -> None:
        nonlocal refusals
        refusals += 1
        raise psycopg.errors.SerializationFailure("an executive was offered another call")

    monkeypatch.setattr(dialling, "offer", refused)
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    assert await dial(client, key, params(sid)) == []
    assert refusals == 4
    assert rows(db_url, "SELECT reason FROM calls WHERE call_sid = %s", sid) == [
        ("nobody reachable: still contended after 4 tries",)
    ]
    assert rows(db_url, "SELECT count(*) FROM call_legs") == [(0,)]


async def test_an_offer_overtaken_by_the_calls_outcome_rings_nobody(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between the dial's read and its offer, the call ends (Exotel gave up on a slow
    Connect URL): the offer writes nothing, and no executive is held by a dead call."""
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    offer = dialling.offer

    async def after_the_end(connection: Any, values: dict[str, Any]) -> None:
        if not rows(db_url, "SELECT outcome FROM calls WHERE call_sid = %s", sid)[0][0]:
            await end(client, key, sid, "", None)
        await offer(connection, values)

    monkeypatch.setattr(dialling, "offer", after_the_end)
    assert await dial(client, key, params(sid)) == []
    assert rows(db_url, "SELECT outcome FROM calls WHERE call_sid = %s", sid) == [
        ("not_connected",)
    ]
    assert rows(db_url, "SELECT count(*) FROM call_legs") == [(0,)]


async def test_an_outcome_overtaken_by_the_offer_closes_the_legs_it_did_not_see(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The outcome reads the call before the offer has committed its legs, then closes
    it: the close sees the call changed, reads again, and closes the legs too."""
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    close = outcomes.close_call
    offered: list[str] = []

    async def after_the_offer(connection: Any, values: dict[str, Any]) -> bool:
        if not offered:
            offered.extend(await dial(client, key, params(sid)))
        return await close(connection, values)

    monkeypatch.setattr(outcomes, "close_call", after_the_offer)
    ended = await end(client, key, sid, "", None, CallType="client-hangup")
    assert ended.text == "caller_hung_up"
    assert offered == CHAIN
    assert rows(db_url, "SELECT count(*) FROM call_legs WHERE outcome IS NULL") == [(0,)]


async def test_a_franchisee_owning_a_taluk_and_its_district_has_each_executive_rung_once(
    client: httpx.AsyncClient, key: str, customer: uuid.UUID, db_url: str
) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            """UPDATE nodes SET franchisee_id = (SELECT franchisee_id FROM nodes
                                                 WHERE path = 'kerala/ernakulam')
               WHERE path = %s""",
            (KOCHI,),
        )
    sid = uuid.uuid4().hex
    await gate(client, key, params(sid))
    assert await dial(client, key, params(sid)) == [
        PHONES["ekm1"],
        PHONES["ekm2"],
        PHONES["kerala1"],
    ]


async def test_simultaneous_calls_are_offered_to_different_executives(
    client: httpx.AsyncClient,
    key: str,
    customer: uuid.UUID,
    database: Database,
    admin: Principal,
    now: datetime,
) -> None:
    async with UnitOfWork(database) as uow:
        for i, phone in enumerate(("9847099901", "9847099902", "9847099903")):
            await customers.register(
                uow=uow,
                actor=admin,
                name=f"Caller {i}",
                phone=phone,
                home_node_ref=KOCHI,
                email=None,
                language="en",
                now=now,
            )
        await uow.commit()
    callers = ["9847099901", "9847099902", "9847099903"]
    sids = [uuid.uuid4().hex for _ in callers]
    for sid, caller in zip(sids, callers, strict=True):
        await gate(client, key, params(sid, caller=caller))
    lists = await asyncio.gather(
        *(dial(client, key, params(sid, caller=c)) for sid, c in zip(sids, callers, strict=True))
    )
    offered = [number for numbers in lists for number in numbers]
    assert len(offered) == len(set(offered))  # nobody is offered two calls at once
    assert sorted(len(numbers) for numbers in lists)[-1] == len(CHAIN)


async def test_gate_rows_written_in_one_batch_keep_each_request_apart(
    database: Database, key: str, customer: uuid.UUID, db_url: str, now: datetime
) -> None:
    """The batched gate write (persistence.batching): a CallSid twice in one batch is one
    row and one repeat; a row PostgreSQL refuses fails that request alone."""
    account = await voice.account_for_key(database=database, key=key)
    assert account is not None

    def row(sid: str, from_raw: str = "09847012345") -> tuple[object, ...]:
        return (
            uuid.uuid4(), account.tenant_id, account.id, sid, from_raw, "+919847012345",
            "04842000000", customer, None, "allow", "registered", now, now,
        )  # fmt: skip

    first, again, other, too_long = row("b-1"), row("b-1"), row("b-2"), row("b-3", "9" * 41)
    recorded = await record_gates(database, [first, again, other, too_long])
    assert recorded[first] == ("allow", "registered", True)
    assert recorded[again] == ("allow", "registered", False)
    assert recorded[other] == ("allow", "registered", True)
    assert isinstance(recorded[too_long], psycopg.errors.StringDataRightTruncation)
    stored = rows(db_url, "SELECT call_sid FROM calls WHERE call_sid LIKE 'b-_' ORDER BY 1")
    assert stored == [("b-1",), ("b-2",)]
    # Exotel retrying a call already written: the first decision comes back, not inserted.
    retry = row("b-2")
    assert (await record_gates(database, [retry]))[retry] == ("allow", "registered", False)
