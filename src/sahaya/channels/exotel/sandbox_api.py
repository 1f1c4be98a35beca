"""A local stand-in for Exotel's outbound call API (providers.md §1.d): `POST
/v1/Accounts/{sid}/Calls/connect.json`, form-encoded, HTTP Basic auth, answering
`{"Call": {...}}` or `{"RestException": {...}}` as Exotel does — then, like Exotel, it
"rings" `From` (the executive) and `To` (the customer) with scripted behaviours and posts
the StatusCallback to the URL it was given: JSON with `Legs`, or — when the request asks
for it, or by default as Exotel does — form-encoded or `multipart/form-data` without them
(how Exotel flattens `Legs` into a form is undocumented).

It records every request (`placed`) for tests, and can be told to fail the next requests
with a status (`fail_next`) so retries are exercised. Run it on a real port (`serve`) or
mount `app` anywhere ASGI runs.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sahaya.channels.exotel.sandbox import Behaviour, Phone


@dataclass
class Placed:
    account_sid: str
    form: dict[str, str]
    call_sid: str
    report: dict[str, Any] | None = None
    answered: int | None = None  # the status the StatusCallback got back


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"RestException": {"Status": status, "Message": message}}, status)


@dataclass
class FakeExotelApi:
    account_sid: str
    api_key: str
    api_token: str
    phones: Mapping[str, Phone] = field(default_factory=dict)
    # Who posts the status callbacks (a plain client by default; tests pass one bound to
    # the app under test).
    status_client: httpx.AsyncClient | None = None
    placed: list[Placed] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    # How status callbacks are posted; None: as the request's `StatusCallbackContentType`
    # says (form-encoded when it says nothing).
    report_as: str | None = None
    _reports: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[Route("/v1/Accounts/{sid}/Calls/connect.json", self.connect, methods=["POST"])]
        )

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == (self.api_key, self.api_token)

    async def connect(self, request: Request) -> JSONResponse:
        if not self._authorised(request):
            return _error(401, "Authentication failed")
        if request.path_params["sid"] != self.account_sid:
            return _error(404, "Account not found")
        if self.fail_next:
            return _error(self.fail_next.pop(0), "Injected failure")
        if "x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return _error(400, "Expected application/x-www-form-urlencoded")
        try:
            form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            return _error(400, "Body is not UTF-8")
        missing = [k for k in ("From", "To", "CallerId") if not form.get(k)]
        if missing:
            return _error(400, f"Missing parameter(s): {', '.join(missing)}")
        sid = uuid.uuid4().hex
        placed = Placed(request.path_params["sid"], form, sid)
        self.placed.append(placed)
        if form.get("StatusCallback"):
            self._reports.append(asyncio.create_task(self._report(placed)))
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return JSONResponse(
            {
                "Call": {
                    "Sid": sid,
                    "ParentCallSid": None,
                    "DateCreated": now,
                    "DateUpdated": now,
                    "AccountSid": self.account_sid,
                    "To": form["To"],
                    "From": form["From"],
                    "PhoneNumberSid": form["CallerId"],
                    "Status": "in-progress",
                    "Direction": "outbound-api",
                    "Uri": f"/v1/Accounts/{self.account_sid}/Calls/{sid}.json",
                    "RecordingUrl": None,
                    "CustomField": form.get("CustomField"),
                }
            }
        )

    def _leg(self, number: str, default: Behaviour) -> tuple[str, int]:
        phone = self.phones.get(number, Phone(default))
        status = {
            Behaviour.ANSWER: "completed",
            Behaviour.NO_ANSWER: "no-answer",
            Behaviour.BUSY: "busy",
            Behaviour.REJECT: "busy",
        }[phone.behaviour]
        return status, phone.talk_seconds if status == "completed" else 0

    async def _report(self, placed: Placed) -> None:
        form = placed.form
        first, talk = self._leg(form["From"], Behaviour.NO_ANSWER)
        legs = [{"OnCallDuration": talk, "Status": first, "AnsweredBy": "NA"}]
        status = first
        if first == "completed":  # the customer is rung once the executive answers
            second, _ = self._leg(form["To"], Behaviour.ANSWER)
            talk = talk if second == "completed" else 0  # the executive's script sets it
            legs.append({"OnCallDuration": talk, "Status": second, "AnsweredBy": "Human"})
            status = second
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        report = {
            "CallSid": placed.call_sid,
            "EventType": "terminal",
            "Status": status,
            "DateCreated": now,
            "DateUpdated": now,
            "From": form["From"],
            "To": form["To"],
            "PhoneNumberSid": form["CallerId"],
            "StartTime": now,
            "EndTime": now,
            "ConversationDuration": talk if status == "completed" else 0,
            "Direction": "outbound-api",
            "CustomField": form.get("CustomField"),
            "RecordingUrl": (
                f"https://recordings.sandbox.invalid/{placed.call_sid}.mp3"
                if status == "completed"
                else None
            ),
            "Legs": legs,
        }
        placed.report = report
        client = self.status_client or httpx.AsyncClient(timeout=10)
        kind = self.report_as or form.get("StatusCallbackContentType") or "form"
        fields = {k: str(v) for k, v in report.items() if v is not None and k != "Legs"}
        try:
            if "json" in kind:
                answer = await client.post(form["StatusCallback"], json=report)
            elif "multipart" in kind:
                parts = {k: (None, v) for k, v in fields.items()}
                answer = await client.post(form["StatusCallback"], files=parts)
            else:
                answer = await client.post(form["StatusCallback"], data=fields)
            placed.answered = answer.status_code
        finally:
            if self.status_client is None:
                await client.aclose()

    async def flush(self) -> None:
        """Wait until every status callback scheduled so far has been posted."""
        pending, self._reports = self._reports, []
        await asyncio.gather(*pending)
