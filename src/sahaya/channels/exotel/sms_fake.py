"""A local stand-in for Exotel's SMS API (providers.md §1.0, §1.e): `POST
/v1/Accounts/{sid}/Sms/send(.json)`, form-encoded, HTTP Basic auth (API key : API token),
validated the way Exotel documents for India — `From` must be our ExoPhone or its DLT-approved
sender id, and `Body` must match a DLT-registered template when templates are configured — and
answered with `{"SMSMessage": {...}}` or `{"RestException": {...}}` (JSON with `.json`, XML
without it [I]). Like Exotel, once the SMS reaches its terminal state it posts the
form-encoded StatusCallback (`SmsSid`, `To`, `Status`, `DetailedStatus`…) to the URL given.

Why: Sahaya's Exotel SMS channel must be exercised end to end — DLT rules, auth, retries on
5xx, delivery callbacks (including DND failures) — without an Exotel account or network.

Not verified against Exotel: the DLT matcher (each `{#var#}` stands for up to 30 characters of
anything, per the TRAI scrubbing rule as commonly described), the 400 messages' wording, the
XML root (`TwilioResponse`), `To` shown as E.164, SMS unit counting, and times in IST. The
DetailedStatus names and codes follow developer.exotel.com/docs/sms-api/api-reference/
status-codes (21010 queued, 20005 DELIVERED_TO_HANDSET, 23005 FAILED_DND…); a sibling page
of the same site numbers them differently, so consumers should key on `Status`.

It records what was sent (`sent`) and what our callback endpoint answered (`posted`), and
fails the next requests on demand (`fail_next`, after auth): an HTTP status (429, 500, 503…)
answered as a RestException, or `"timeout"` — a 30 s stall before a 504.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sahaya.channels.sms_parts import sms_parts

TIMEOUT_SECONDS = 30.0  # longer than any client timeout Sahaya uses
IST = timezone(timedelta(hours=5, minutes=30), "IST")

# Status (StatusCallback) → (DetailedStatus, DetailedStatusCode); terminal states only.
DETAILED: dict[str, tuple[str, int]] = {
    "sent": ("DELIVERED_TO_HANDSET", 20005),
    "failed_dnd": ("FAILED_DND", 23005),
    "failed": ("FAILED_INVALID_NUMBER", 23010),
}
CHOICES: dict[str, frozenset[str]] = {
    "EncodingType": frozenset({"plain", "unicode"}),
    "Priority": frozenset({"normal", "high"}),
    "SmsType": frozenset({"transactional", "transactional_opt_in", "promotional"}),
}

_PLACEHOLDER = re.compile(r"\{#\w+#\}", re.IGNORECASE)


@dataclass
class SentSms:
    account_sid: str
    form: dict[str, str]
    sid: str
    to: str  # E.164


@dataclass
class Posted:
    url: str
    form: dict[str, str]
    status: int  # what our callback endpoint answered


def e164(number: str) -> str | None:
    """`+91XXXXXXXXXX` for the forms Exotel takes (`0XXXXXXXXXX`, `XXXXXXXXXX`, `+91…`)."""
    number = number.strip()
    if re.fullmatch(r"\+91\d{10}", number):
        return number
    if re.fullmatch(r"0\d{10}", number):
        return "+91" + number[1:]
    if re.fullmatch(r"\d{10}", number):
        return "+91" + number
    return None


def dlt_pattern(template: str) -> re.Pattern[str]:
    """A DLT template as a regex: literal text, each `{#var#}` up to 30 characters."""
    literals = _PLACEHOLDER.split(template)
    return re.compile(".{0,30}".join(re.escape(part) for part in literals), re.DOTALL)


def matches_dlt_template(body: str, templates: Iterable[str]) -> bool:
    """Whether `body` fills one of the approved `templates` exactly."""
    return any(dlt_pattern(template).fullmatch(body) for template in templates)


def status_form(
    sms_sid: str,
    to: str,
    status: str = "sent",
    *,
    sms_units: int = 1,
    custom_field: str | None = None,
    when: datetime | None = None,
) -> dict[str, str]:
    """The form-encoded SMS StatusCallback (providers.md §1.e); `CustomField` only if set."""
    detailed, code = DETAILED[status]
    form = {
        "SmsSid": sms_sid,
        "To": to,
        "Status": status,
        "SmsUnits": str(sms_units),
        "DetailedStatus": detailed,
        "DetailedStatusCode": str(code),
        "DateSent": _stamp(when),
    }
    if custom_field:
        form["CustomField"] = custom_field
    return form


def _stamp(when: datetime | None = None) -> str:
    return (when or datetime.now(IST)).astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")


def _xml(name: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml(key, item) for key, item in value.items())
    else:
        inner = "" if value is None else escape(str(value))
    return f"<{name}>{inner}</{name}>"


def _answer(request: Request, payload: dict[str, Any], status: int = 200) -> Response:
    if request.url.path.endswith(".json"):
        return JSONResponse(payload, status)
    xml = '<?xml version="1.0" encoding="UTF-8"?>\n' + _xml("TwilioResponse", payload)
    return Response(xml, status, media_type="application/xml")


def _error(request: Request, status: int, message: str) -> Response:
    return _answer(request, {"RestException": {"Status": status, "Message": message}}, status)


@dataclass
class FakeExotelSms:
    account_sid: str
    api_key: str
    api_token: str
    exophone: str = "04842000000"
    sender_id: str = "APNAFD"  # the DLT-approved header linked to `exophone`
    # Approved DLT template bodies with `{#var#}` placeholders; None = no DLT check.
    dlt_templates: set[str] | None = None
    # Who posts the status callbacks (a plain client by default; tests pass one bound to
    # the app under test).
    status_client: httpx.AsyncClient | None = None
    # recipient (any accepted form) → terminal Status reported: "sent", "failed_dnd", "failed"
    statuses: dict[str, str] = field(default_factory=dict)
    sent: list[SentSms] = field(default_factory=list)
    posted: list[Posted] = field(default_factory=list)
    fail_next: list[int | str] = field(default_factory=list)  # 429, 500, 503, "timeout"
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/v1/Accounts/{sid}/Sms/send", self.send, methods=["POST"]),
                Route("/v1/Accounts/{sid}/Sms/send.json", self.send, methods=["POST"]),
            ]
        )

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            given = base64.b64decode(header[6:], validate=True)
        except ValueError:
            return False
        return hmac.compare_digest(given, f"{self.api_key}:{self.api_token}".encode())

    def _status_for(self, to: str) -> str:
        for number, status in self.statuses.items():
            if e164(number) == to:
                return status
        return "sent"

    async def _injected(self, request: Request) -> Response | None:
        if not self.fail_next:
            return None
        failure = self.fail_next.pop(0)
        if failure == "timeout":
            await asyncio.sleep(TIMEOUT_SECONDS)  # the client gives up first; not recorded
            return _error(request, 504, "Gateway Timeout")
        if not isinstance(failure, int):
            raise ValueError(f"unknown injected failure {failure!r}")
        return _error(request, failure, "Injected failure")

    def _problem(self, form: dict[str, str]) -> str | None:
        missing = [k for k in ("From", "To", "Body") if not form.get(k)]
        if missing:
            return f"Missing parameter(s): {', '.join(missing)}"
        sender = form["From"]
        if sender != self.sender_id and e164(sender) != e164(self.exophone):
            return "From is not a valid ExoPhone or sender id"
        if e164(form["To"]) is None:
            return "To is not a valid phone number"
        for name, allowed in CHOICES.items():
            if name in form and form[name] not in allowed:
                return f"{name} must be one of {', '.join(sorted(allowed))}"
        if self.dlt_templates is not None and not matches_dlt_template(
            form["Body"], self.dlt_templates
        ):
            return "Body does not match any approved DLT template"
        return None

    async def send(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(request, 401, "Authentication failed")
        if request.path_params["sid"] != self.account_sid:
            return _error(request, 404, "Account not found")
        if injected := await self._injected(request):
            return injected
        if "x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return _error(request, 400, "Expected application/x-www-form-urlencoded")
        try:
            form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            return _error(request, 400, "Body is not UTF-8")
        if problem := self._problem(form):
            return _error(request, 400, problem)
        sid, to, now = uuid.uuid4().hex, e164(form["To"]) or "", _stamp()
        units = sms_parts(form["Body"], unicode=form.get("EncodingType") == "unicode")
        self.sent.append(SentSms(self.account_sid, form, sid, to))
        if callback := form.get("StatusCallback"):
            status = status_form(
                sid,
                to,
                self._status_for(to),
                sms_units=units,
                custom_field=form.get("CustomField"),
            )
            self._tasks.append(asyncio.create_task(self._post(callback, status)))
        return _answer(
            request,
            {
                "SMSMessage": {
                    "Sid": sid,
                    "AccountSid": self.account_sid,
                    "From": form["From"],
                    "To": to,
                    "Body": form["Body"],
                    "Status": "queued",
                    "DateCreated": now,
                    "DateUpdated": now,
                    "DateSent": None,
                    "Price": None,
                    "Uri": f"/v1/Accounts/{self.account_sid}/SMS/Messages/{sid}.json",
                    "DetailedStatus": "PENDING_TO_OPERATOR",
                    "DetailedStatusCode": 21010,
                    "SmsUnits": units,
                }
            },
        )

    async def _post(self, url: str, form: dict[str, str]) -> None:
        client = self.status_client or httpx.AsyncClient(timeout=10)
        try:
            answer = await client.post(url, data=form)
        finally:
            if self.status_client is None:
                await client.aclose()
        self.posted.append(Posted(url, form, answer.status_code))

    async def flush(self) -> None:
        """Wait until every status callback scheduled so far has been posted."""
        pending, self._tasks = self._tasks, []
        await asyncio.gather(*pending)
