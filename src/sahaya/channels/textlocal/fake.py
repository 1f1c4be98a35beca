"""A local stand-in for Textlocal India's SMS API (providers.md §4): `POST /send/` (or the same
parameters in a GET query) on api.textlocal.in, authenticated by `apikey`, validated the way
Textlocal documents and answered as Textlocal does — always HTTP 200, with `"status":
"success"` or `"failure"` and `errors`/`warnings` lists of `{code, message}` (§4.1, §4.2).
After an accepted send it posts, like Textlocal, one form-encoded delivery receipt per
recipient to the request's `receipt_url` (§4.3), and on demand it posts customer texts to the
inbox's forwarding URL (`send_inbound`, §4.4).

Why: Sahaya's SMS channel must be exercised end to end — sends, DLT sender rules, errors in
a 200 body, receipts and inbound texts — without a Textlocal account, DLT registration or
network. Nothing is signed (Textlocal signs nothing; the secret travels in the URL).

What is not verified against Textlocal (providers.md marks these [I]): the exact success body,
the `numbers` echoed in a warning, part counting (GSM 160/153, unicode 70/67), receipt times
in IST, and which numbers are invalid (here: anything but `91` + 10 digits — the account is
Indian).

It records what was sent (`sent`) and what our endpoints answered (`posted`), and fails the
next send requests on demand (`fail_next`, checked after the apikey): an int below 100 is a
Textlocal error code answered in a 200 failure body (`7` → "Insufficient credits"), any other
int an HTTP status answered with an HTML error page as a proxy would (500, 502, 503…), and
`"timeout"` stalls for 30 s before a 504. Mount `app` anywhere ASGI runs.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sahaya.channels.sms_parts import sms_parts

TIMEOUT_SECONDS = 30.0  # longer than any client timeout Sahaya uses
MAX_MESSAGE_CHARS = 766  # providers.md §4.2
IST = timezone(timedelta(hours=5, minutes=30), "IST")
TRUE = frozenset({"1", "true", "yes", "on"})

# The codes of providers.md §4.1/§4.2 (send shares the otp_send codes).
ERRORS: dict[int, str] = {
    1: "No command specified",
    2: "Unrecognised command",
    3: "Invalid login details",
    4: "No recipients specified",
    5: "No message content",
    6: "Message too long",
    7: "Insufficient credits",
    32: "Invalid number format",
    43: "Invalid sender name",
    44: "No sender name",
    51: "No valid numbers specified",
}
INVALID_NUMBER_WARNING = 3  # "Invalid number": that number is dropped, the rest are sent

_INDIAN_MOBILE = re.compile(r"91\d{10}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass
class SentSms:
    numbers: list[str]  # the valid recipients, as given
    message: str
    sender: str
    custom: str
    receipt_url: str
    message_ids: list[str]  # one per number, same order
    batch_id: int
    test: bool = False  # `test=true`: answered, not charged, no receipts


@dataclass
class Posted:
    url: str
    form: dict[str, str]
    status: int  # what our endpoint answered


def receipt_form(
    number: str, status: str = "D", custom_id: str = "", when: datetime | None = None
) -> dict[str, str]:
    """The form of one delivery receipt (providers.md §4.3): `status` is `D` delivered, `U`
    undelivered, `I` invalid number, `?` no receipt after 4 days (`P`/`E` in some docs);
    `datetime` is MySQL format, in IST here [I]."""
    moment = (when or datetime.now(IST)).astimezone(IST)
    return {
        "number": number,
        "status": status,
        "customID": custom_id,
        "datetime": moment.strftime("%Y-%m-%d %H:%M:%S"),
    }


def inbound_form(
    sender_number: str,
    content: str,
    *,
    in_number: str = "919220012345",
    keyword: str = "",
    credits: int | str = 1000,
) -> dict[str, str]:
    """The form Textlocal posts for one inbox message (providers.md §4.4): `comments` is the
    text without its leading keyword, `email` the first address found in it (or "")."""
    comments = content
    head, _, rest = content.strip().partition(" ")
    if keyword and head.lower() == keyword.lower():
        comments = rest.lstrip()
    email = _EMAIL.search(content)
    return {
        "sender": sender_number,
        "content": content,
        "inNumber": in_number,
        "keyword": keyword,
        "comments": comments,
        "email": email.group(0) if email else "",
        "credits": str(credits),
    }


def _failure(
    errors: Sequence[tuple[int, str]], warnings: Sequence[dict[str, Any]] = ()
) -> JSONResponse:
    body: dict[str, Any] = {}
    if warnings:
        body["warnings"] = list(warnings)
    body["errors"] = [{"code": code, "message": message} for code, message in errors]
    body["status"] = "failure"
    return JSONResponse(body)  # Textlocal answers failures with HTTP 200


def _error(code: int) -> JSONResponse:
    return _failure([(code, ERRORS.get(code, "Injected failure"))])


def _html(status: int) -> HTMLResponse:
    title = f"{status} {'Gateway Time-out' if status == 504 else 'Error'}"
    page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return HTMLResponse(page, status)


async def _params(request: Request) -> dict[str, str]:
    """GET query and form-encoded POST body together, the body winning (PHP's $_REQUEST)."""
    params = dict(request.query_params)
    if "x-www-form-urlencoded" in request.headers.get("content-type", ""):
        body = (await request.body()).decode("utf-8", "replace")
        params.update(parse_qsl(body, keep_blank_values=True))
    return params


@dataclass
class FakeTextlocal:
    apikey: str
    sender: str = "APNAFD"  # the only DLT-approved sender (header) on this account
    # Who posts receipts and inbound texts (a plain client per post by default; tests pass
    # one bound to the app under test).
    receipt_client: httpx.AsyncClient | None = None
    inbound_url: str | None = None  # the inbox's forwarding URL (`send_inbound`)
    # recipient number → receipt status letter reported for it ("D" when absent)
    receipts: dict[str, str] = field(default_factory=dict)
    balance: int = 1000  # credits; a send costing more fails with code 7
    sent: list[SentSms] = field(default_factory=list)
    posted: list[Posted] = field(default_factory=list)
    fail_next: list[int | str] = field(default_factory=list)  # 7, 500, 503, "timeout"…
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _batch_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(901234567))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1151346216))

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[Route("/send/", self.send, methods=["GET", "POST"])])

    async def _injected(self) -> Response | None:
        if not self.fail_next:
            return None
        failure = self.fail_next.pop(0)
        if failure == "timeout":
            await asyncio.sleep(TIMEOUT_SECONDS)  # the client gives up first; not recorded
            return _html(504)
        if not isinstance(failure, int):
            raise ValueError(f"unknown injected failure {failure!r}")
        return _error(failure) if failure < 100 else _html(failure)

    async def send(self, request: Request) -> Response:
        params = await _params(request)
        if params.get("apikey") != self.apikey:
            return _error(3)
        if injected := await self._injected():
            return injected
        message = params.get("message", "")
        sender = params.get("sender", "")
        if not message:
            return _error(5)
        if len(message) > MAX_MESSAGE_CHARS:
            return _error(6)
        if not sender:
            return _error(44)
        if sender != self.sender:
            return _error(43)
        given = [n.strip() for n in params.get("numbers", "").split(",") if n.strip()]
        if not given:
            return _error(4)
        numbers = [n for n in given if _INDIAN_MOBILE.fullmatch(n)]
        invalid = [n for n in given if not _INDIAN_MOBILE.fullmatch(n)]
        warnings: list[dict[str, Any]] = []
        if invalid:  # the numbers echoed in the warning are [I]
            warning = {"code": INVALID_NUMBER_WARNING, "message": "Invalid number"}
            warnings.append({**warning, "numbers": ",".join(invalid)})
        if not numbers:
            return _failure([(51, ERRORS[51])], warnings)
        test = params.get("test", "").lower() in TRUE
        parts = sms_parts(message)
        cost = parts * len(numbers)
        if not test and cost > self.balance:
            return _failure([(7, ERRORS[7])], warnings)
        if not test:
            self.balance -= cost
        custom, receipt_url = params.get("custom", ""), params.get("receipt_url", "")
        ids = [str(next(self._message_ids)) for _ in numbers]
        batch_id = next(self._batch_ids)
        self.sent.append(
            SentSms(numbers, message, sender, custom, receipt_url, ids, batch_id, test)
        )
        if receipt_url and not test:
            for number in numbers:
                form = receipt_form(number, self.receipts.get(number, "D"), custom)
                self._tasks.append(asyncio.create_task(self._post(receipt_url, form)))
        body: dict[str, Any] = {
            "balance": self.balance,
            "batch_id": batch_id,
            "cost": 0 if test else cost,
            "num_messages": len(numbers),
            "message": {"num_parts": parts, "sender": sender, "content": message},
            "receipt_url": receipt_url,
            "custom": custom,
            "messages": [
                {"id": mid, "recipient": int(number)}
                for mid, number in zip(ids, numbers, strict=True)
            ],
        }
        if warnings:
            body["warnings"] = warnings
        body["status"] = "success"
        return JSONResponse(body)

    async def _post(self, url: str, form: dict[str, str]) -> None:
        await self.post(url, form)

    async def post(self, url: str, form: dict[str, str]) -> httpx.Response:
        """POST `form` (url-encoded, as Textlocal does) to `url` and record the answer."""
        client = self.receipt_client or httpx.AsyncClient(timeout=10)
        try:
            answer = await client.post(url, data=form)
        finally:
            if self.receipt_client is None:
                await client.aclose()
        self.posted.append(Posted(url, form, answer.status_code))
        return answer

    async def send_inbound(
        self,
        sender_number: str,
        content: str,
        *,
        in_number: str = "919220012345",
        keyword: str = "",
    ) -> httpx.Response:
        """Deliver one customer text to `inbound_url`, as a Textlocal inbox forwards it."""
        if self.inbound_url is None:
            raise RuntimeError("FakeTextlocal.inbound_url is not set")
        form = inbound_form(
            sender_number, content, in_number=in_number, keyword=keyword, credits=self.balance
        )
        return await self.post(self.inbound_url, form)

    async def flush(self) -> None:
        """Wait until every delivery receipt scheduled so far has been posted."""
        pending, self._tasks = self._tasks, []
        await asyncio.gather(*pending)
