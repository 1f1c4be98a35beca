"""Exotel's voice wire formats (providers.md §1): the Passthru and Connect query parameters
Exotel sends, the Connect applet's JSON answer, and the status callback of API-placed calls.

Exotel's quirks absorbed here, so the voice context sees clean values:
* numbers arrive as `07799828555`, `8039513882` or `+91…`; they are normalised to E.164 (a
  number that cannot be read stays as written, with `e164 = None`);
* `digits` arrives wrapped in double quotes (`"2"`);
* old (`From`, `To`) and new (`CallFrom`, `CallTo`) parameter names;
* status callbacks come form-encoded (the default), as `multipart/form-data` or as JSON, with
  `Legs` only in JSON (how a form would flatten them is undocumented, so none is guessed).
Nothing here raises on odd input except `WireError`, which the handlers turn into a 4xx.
"""

from __future__ import annotations

import email.errors
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from sahaya.channels.multipart import parse_multipart
from sahaya.customers import e164_or_none
from sahaya.messaging.domain import unkeepable
from sahaya.voice.domain import CallReport

MAX_FIELD = 1000


class WireError(ValueError):
    """The request is not something Exotel sends; the message says what is wrong."""


def _field(params: Mapping[str, str], *names: str, limit: int = MAX_FIELD) -> str | None:
    """The first of `names` present, stripped; refused when longer than `limit` (the
    column it is kept in) or holding what no text column can keep."""
    for name in names:
        value = params.get(name)
        if value is not None:
            value = value.strip()
            if len(value) > limit:
                raise WireError(f"{name}: longer than {limit} characters")
            if unkeepable(value):
                raise WireError(f"{name}: holds characters that are not text")
            return value or None
    return None


_MAX_INT = 2**31 - 1  # the integer columns durations are kept in


def _int(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    digits = value.strip().strip('"')
    if not (digits.isascii() and digits.isdigit()):
        raise WireError(f"{name}: {value!r} is not a whole number")
    number = int(digits)
    if number > _MAX_INT:
        raise WireError(f"{name}: {value!r} is too large")
    return number


def parse_passthru(params: Mapping[str, str]) -> CallReport:
    """The call details Exotel sends to a Passthru applet or a Connect dynamic URL."""
    sid = _field(params, "CallSid", "Sid", limit=100)
    if not sid:
        raise WireError("CallSid: required")
    caller = _field(params, "CallFrom", "From", limit=40)
    if not caller:
        raise WireError("CallFrom: required")
    digits = _field(params, "digits", "Digits", limit=40)
    if digits is not None:
        digits = digits.strip('"').strip() or None
    dialled = _field(params, "DialWhomNumber", limit=20)
    return CallReport(
        call_sid=sid,
        caller=caller,
        caller_e164=e164_or_none(caller),
        called=_field(params, "CallTo", "To", limit=40) or "",
        digits=digits,
        call_type=_field(params, "CallType"),
        dial_status=_field(params, "DialCallStatus"),
        dialled=dialled,
        dialled_e164=e164_or_none(dialled),
        duration=_int(_field(params, "DialCallDuration"), "DialCallDuration"),
        recording_url=_field(params, "RecordingUrl"),
    )


@dataclass(frozen=True, slots=True)
class Leg:
    on_call_duration: int | None
    status: str | None
    answered_by: str | None


@dataclass(frozen=True, slots=True)
class StatusCallback:
    """`StatusCallback` of a call Sahaya placed through `Calls/connect` (§1.c)."""

    call_sid: str
    status: str
    event_type: str  # terminal | answered
    conversation_duration: int | None
    recording_url: str | None
    custom_field: str | None
    legs: tuple[Leg, ...]


STATUSES = frozenset({"completed", "failed", "busy", "no-answer", "in-progress", "canceled"})


def parse_status(body: bytes, content_type: str) -> StatusCallback:
    """JSON, multipart or (by default) URL-encoded form, as `StatusCallbackContentType`
    configured it."""
    data: Mapping[str, Any]
    kind = content_type.lower()
    if "json" in kind:
        try:
            loaded = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise WireError("body: not valid JSON") from None
        if not isinstance(loaded, dict):
            raise WireError("body: expected a JSON object")
        data = loaded
    elif "multipart/form-data" in kind:
        data = _multipart(body, content_type)
    else:
        try:
            data = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise WireError("body: not UTF-8 form data") from None
    params = {k: str(v) for k, v in data.items() if isinstance(v, str | int | float)}
    sid = _field(params, "CallSid", "Sid", limit=100)
    if not sid:
        raise WireError("CallSid: required")
    status = (_field(params, "Status") or "").lower()
    if status not in STATUSES:
        raise WireError(f"Status: {status!r} is not one of {', '.join(sorted(STATUSES))}")
    legs = data.get("Legs") or []
    if not isinstance(legs, list):
        raise WireError("Legs: expected a list")
    return StatusCallback(
        call_sid=sid,
        status=status,
        event_type=(_field(params, "EventType") or "terminal").lower(),
        conversation_duration=_int(_field(params, "ConversationDuration"), "ConversationDuration"),
        recording_url=_field(params, "RecordingUrl"),
        custom_field=_field(params, "CustomField"),
        legs=tuple(_leg(leg, i) for i, leg in enumerate(legs)),
    )


def _multipart(body: bytes, content_type: str) -> dict[str, str]:
    """The plain fields of a `multipart/form-data` body (a file part is not a field)."""
    try:
        fields, _ = parse_multipart(content_type, body)
    except UnicodeDecodeError:
        raise WireError("body: a multipart field is not UTF-8") from None
    except (ValueError, email.errors.MessageError):
        raise WireError("body: not multipart/form-data (no boundary, or no parts)") from None
    return fields


def _leg(value: object, index: int) -> Leg:
    if not isinstance(value, dict):
        raise WireError(f"Legs[{index}]: expected an object")
    duration = value.get("OnCallDuration")
    return Leg(
        on_call_duration=_int(str(duration), f"Legs[{index}].OnCallDuration")
        if duration is not None
        else None,
        status=str(value["Status"]).lower() if value.get("Status") is not None else None,
        answered_by=str(value["AnsweredBy"]) if value.get("AnsweredBy") is not None else None,
    )


def connect_response(
    *,
    numbers: Sequence[str],
    caller_id: str,
    ring_seconds: int,
    max_conversation_seconds: int = 3600,
    record: bool = True,
) -> dict[str, Any]:
    """The Connect applet's dynamic-URL answer: ring `numbers` one after another."""
    return {
        "fetch_after_attempt": False,
        "destination": {"numbers": list(numbers)},
        "outgoing_phone_number": caller_id,
        "record": record,
        "recording_channels": "dual",
        "max_ringing_duration": ring_seconds,
        "max_conversation_duration": max_conversation_seconds,
        "music_on_hold": {"type": "operator_tone"},
        "parallel_ringing": {"activate": False, "max_parallel_attempts": 1},
    }
