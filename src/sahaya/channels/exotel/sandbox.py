"""A local stand-in for Exotel's call-flow engine: it plays one inbound call against Sahaya's
real webhooks exactly as Exotel's flow would — Passthru gate → (IVR menu) → Connect with the
dynamic URL → ring each number in turn with a scripted behaviour per executive → Passthru
after Connect — and returns the trace as a timeline. Time is simulated (a 20 s ring takes
no wall time), so tests and the demo run in milliseconds.

The flow it plays (the one Sahaya's docs tell an operator to build in Exotel):

    Passthru  /webhooks/exotel/gate     200 → go on            302 → hang up
    (Gather   IVR menu, only when several services are active: digits → next request)
    Connect   /webhooks/exotel/dial     JSON: numbers, ring timeout, caller id
    Passthru  /webhooks/exotel/outcome  CallType, DialCallStatus, DialWhomNumber, duration

Requests carry Exotel's parameter names and quirks: the caller as `0…`, `CallTo` without its
leading 0, `digits` wrapped in double quotes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx


class Behaviour(StrEnum):
    """What an executive's phone does when it rings."""

    ANSWER = "answer"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Phone:
    behaviour: Behaviour = Behaviour.NO_ANSWER
    after_seconds: int = 5  # ring time before answering or rejecting
    talk_seconds: int = 120


@dataclass(frozen=True, slots=True)
class Event:
    at: float  # seconds since the call started
    what: str

    def line(self) -> str:
        return f"{self.at:6.1f}s  {self.what}"


@dataclass
class Trace:
    call_sid: str
    caller: str
    events: list[Event] = field(default_factory=list)
    gate_status: int | None = None
    numbers: list[str] = field(default_factory=list)
    answered_by: str | None = None
    outcome: str | None = None

    def log(self, at: float, what: str) -> None:
        self.events.append(Event(at, what))

    def timeline(self) -> str:
        return "\n".join(e.line() for e in self.events)


def _national(number: str) -> str:
    """As Exotel writes numbers in its requests: `0` + 10 digits."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return "0" + digits[-10:] if len(digits) >= 10 else number


class Sandbox:
    """Plays calls against a Sahaya server reached through `client` (a real URL, or the ASGI
    app in-process). `phones` scripts each executive's phone by E.164 number; any other
    number rings out (no answer)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        key: str,
        *,
        exophone: str = "04842000000",
        phones: Mapping[str, Phone] | None = None,
        hangup_after: int | None = None,
    ) -> None:
        self.client = client
        self.key = key
        self.exophone = exophone
        self.phones = dict(phones or {})
        self.hangup_after = hangup_after  # the caller gives up after this many seconds

    async def _get(self, path: str, params: dict[str, str]) -> httpx.Response:
        return await self.client.get(path, params={"key": self.key} | params)

    async def call(
        self, caller: str, *, digits: str | None = None, call_sid: str | None = None
    ) -> Trace:
        sid = call_sid or uuid.uuid4().hex
        trace = Trace(call_sid=sid, caller=caller)
        started = datetime.now(UTC)
        base = {
            "CallSid": sid,
            "CallFrom": caller,
            "CallTo": self.exophone.lstrip("0"),
            "Direction": "incoming",
            "Created": started.strftime("%a, %d %b %Y %H:%M:%S"),
            "CallType": "call-attempt",
            "DialCallDuration": "0",
        }
        trace.log(0.0, f"incoming call from {caller} to {self.exophone} ({sid})")
        gate = await self._get("/webhooks/exotel/gate", base)
        trace.gate_status = gate.status_code
        if gate.status_code != 200:
            detail = f" ({gate.text.strip()})" if gate.text.strip() else ""
            trace.log(0.0, f"gate answered {gate.status_code}: the flow hangs up{detail}")
            trace.outcome = "hung-up-by-flow"
            return trace
        trace.log(0.0, "gate answered 200: registered caller, flow goes on")
        at = 0.0
        if digits is not None:
            at += 4.0
            base["digits"] = f'"{digits}"'
            trace.log(at, f"IVR menu: caller pressed {digits}")
        dial = await self._get("/webhooks/exotel/dial", base)
        plan: dict[str, Any] = dial.json() if dial.status_code == 200 else {}
        numbers = list(plan.get("destination", {}).get("numbers", []))
        ring = int(plan.get("max_ringing_duration", 20))
        trace.numbers = numbers
        shown = ", ".join(numbers) or "nobody"
        trace.log(at, f"dial list ({dial.status_code}): {shown}; {ring}s each")
        outcome = await self._ring(trace, numbers, ring, at)
        status, call_type, whom, talk, at = outcome
        params = base | {"CallType": call_type, "DialCallDuration": str(talk)}
        if status:
            params["DialCallStatus"] = status
        if whom:
            params["DialWhomNumber"] = _national(whom)
        if talk:
            params["RecordingUrl"] = f"https://recordings.sandbox.invalid/{sid}.mp3"
        end = await self._get("/webhooks/exotel/outcome", params)
        trace.outcome = end.text.strip() if end.status_code == 200 else f"error {end.status_code}"
        trace.log(at, f"outcome posted ({end.status_code}): {trace.outcome}")
        return trace

    async def _ring(
        self, trace: Trace, numbers: list[str], ring: int, at: float
    ) -> tuple[str | None, str, str | None, int, float]:
        """Ring the numbers one after another; returns (DialCallStatus, CallType,
        DialWhomNumber, talk seconds, time)."""
        if not numbers:
            trace.log(at, "nobody to ring: not-connected branch")
            return None, "incomplete", None, 0, at
        status = "no-answer"
        for number in numbers:
            phone = self.phones.get(number, Phone())
            trace.log(at, f"ringing {number}")
            rang = (
                ring if phone.behaviour == Behaviour.NO_ANSWER else min(phone.after_seconds, ring)
            )
            if self.hangup_after is not None and at + rang >= self.hangup_after:
                at = float(self.hangup_after)
                trace.log(at, "caller hung up while ringing")
                return "canceled", "client-hangup", number, 0, at
            at += rang
            if phone.behaviour == Behaviour.ANSWER:
                trace.answered_by = number
                trace.log(at, f"{number} answered; talking {phone.talk_seconds}s")
                at += phone.talk_seconds
                trace.log(at, "call completed")
                return "completed", "completed", number, phone.talk_seconds, at
            status = {
                Behaviour.BUSY: "busy",
                Behaviour.REJECT: "busy",  # a rejected call reaches Exotel as busy
                Behaviour.NO_ANSWER: "no-answer",
            }[phone.behaviour]
            trace.log(at, f"{number}: {status}")
        trace.log(at, "nobody answered")
        return status, "incomplete", numbers[-1], 0, at
