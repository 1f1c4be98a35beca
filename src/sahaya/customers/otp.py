"""SMS one-time codes, kept in-house (providers.md §4.5: no dependency on a provider's OTP
API, only on its plain SMS send). Pure rules; the service stores and sends.

A code is 6 digits, stored only as an HMAC keyed by the server's secret and the challenge
id (a database dump does not reveal live codes, and equal codes hash differently), lives
5 minutes and allows 5 wrong tries. A new code for the same number waits a 30-second
cool-down; a number gets at most 5 codes an hour and an address (IP) 20, so the endpoint
cannot be used to bomb a phone or run up the SMS bill.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

LIFETIME = timedelta(minutes=5)
MAX_ATTEMPTS = 5
COOL_DOWN = timedelta(seconds=30)
WINDOW = timedelta(hours=1)
PER_NUMBER = 5
PER_ADDRESS = 20
DIGITS = 6


def new_code() -> str:
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


def code_hash(code: str, challenge_id: str, secret: str) -> bytes:
    return hmac.new(f"{secret}:{challenge_id}".encode(), code.encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why no code is sent now; `retry_after` tells the app when to offer "resend"."""

    reason: str
    retry_after: timedelta


def may_send(
    *,
    sent_to_number: Sequence[datetime],
    sent_from_address: int,
    now: datetime,
) -> Refusal | None:
    """Whether a new code may go to a number, given the codes it got within the last hour
    and how many the requesting address asked for within the hour."""
    recent = sorted(t for t in sent_to_number if now - t < WINDOW)
    if recent and now - recent[-1] < COOL_DOWN:
        return Refusal(
            "a code was just sent; wait before asking again", COOL_DOWN - (now - recent[-1])
        )
    if len(recent) >= PER_NUMBER:
        return Refusal(f"at most {PER_NUMBER} codes an hour per number", WINDOW - (now - recent[0]))
    if sent_from_address >= PER_ADDRESS:
        return Refusal(f"at most {PER_ADDRESS} codes an hour from one address", WINDOW)
    return None


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    reason: str = ""
    attempts_left: int = 0


def check(
    *,
    stored_hash: bytes,
    offered: str,
    challenge_id: str,
    secret: str,
    attempts: int,
    expires_at: datetime,
    consumed: bool,
    now: datetime,
) -> Check:
    """Judge one try. `attempts` counts the tries before this one."""
    if consumed:
        return Check(False, "this code was already used; ask for a new one")
    if now >= expires_at:
        return Check(False, "the code has expired; ask for a new one")
    if attempts >= MAX_ATTEMPTS:
        return Check(False, "too many wrong tries; ask for a new code")
    offered = offered.strip()
    if hmac.compare_digest(stored_hash, code_hash(offered, challenge_id, secret)):
        return Check(True)
    left = MAX_ATTEMPTS - attempts - 1
    return Check(False, "the code is not right", attempts_left=left)
