"""The sign-in code's rules, without I/O: cool-down, hourly limits per number and per
address, expiry, tries, single use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sahaya.customers import otp

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_a_first_code_may_go_and_a_second_waits_for_the_cool_down() -> None:
    assert otp.may_send(sent_to_number=[], sent_from_address=0, now=NOW) is None
    refusal = otp.may_send(
        sent_to_number=[NOW - timedelta(seconds=10)], sent_from_address=1, now=NOW
    )
    assert refusal is not None
    assert refusal.retry_after == timedelta(seconds=20)
    assert (
        otp.may_send(sent_to_number=[NOW - timedelta(seconds=31)], sent_from_address=1, now=NOW)
        is None
    )


def test_five_codes_an_hour_per_number_and_twenty_per_address() -> None:
    five = [NOW - timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
    refusal = otp.may_send(sent_to_number=five, sent_from_address=5, now=NOW)
    assert refusal is not None
    assert refusal.retry_after == timedelta(minutes=10)  # when the oldest leaves the hour
    old = [NOW - timedelta(minutes=61)] * 10
    assert otp.may_send(sent_to_number=old, sent_from_address=0, now=NOW) is None
    assert otp.may_send(sent_to_number=[], sent_from_address=20, now=NOW) is not None


def _check(code: str, **changes: object) -> otp.Check:
    values: dict[str, object] = {
        "stored_hash": otp.code_hash("123456", "c1", "secret"),
        "offered": code,
        "challenge_id": "c1",
        "secret": "secret",
        "attempts": 0,
        "expires_at": NOW + timedelta(minutes=5),
        "consumed": False,
        "now": NOW,
    }
    values.update(changes)
    return otp.check(**values)  # type: ignore[arg-type]


def test_the_right_code_passes_once_within_five_minutes_and_five_tries() -> None:
    assert _check(" 123456 ").ok
    wrong = _check("654321")
    assert (wrong.ok, wrong.attempts_left) == (False, 4)
    assert not _check("123456", now=NOW + timedelta(minutes=5)).ok
    assert not _check("123456", attempts=5).ok
    assert not _check("123456", consumed=True).ok
    assert not _check("123456", secret="another server").ok  # keyed by the server secret


def test_codes_are_six_digits_and_hashes_differ_per_challenge() -> None:
    codes = {otp.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150
    assert otp.code_hash("123456", "a", "s") != otp.code_hash("123456", "b", "s")
