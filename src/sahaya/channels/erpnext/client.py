"""Read customers out of ERPNext over Frappe's REST API.

ERPNext quirks this module is written around:

* Token auth: `Authorization: token <api_key>:<api_secret>`; the key's User roles apply, so
  that user needs read on Contact and Customer.
* A list call returns 20 rows and only `name` unless asked otherwise, so we page with
  `limit_start`/`limit_page_length` and fetch each document; a short page is the last one.
  Pages are ordered by creation so contacts added meanwhile land on the end, not mid-way.
* `Contact.phone` and `Contact.mobile_no` (and `Customer.mobile_no`) are read-only copies of
  the primary rows. The truth, including alternate numbers, is only in the `phone_nos` child
  table (Contact Phone), which a list call cannot return: hence one GET per contact.
* Contacts belong to Customers through `links` (Dynamic Link) rows; many contacts can link
  one Customer, so Customers are cached.
* Errors carry `exc_type` and `_server_messages` (a JSON string of JSON strings).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from sahaya.customers import RawRecord

_TAGS = re.compile(r"<[^>]+>")


class ERPNextError(Exception):
    """ERPNext answered with an error, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, exc_type: str | None = None):
        super().__init__(message)
        self.status = status
        self.exc_type = exc_type


class ERPNextAuthError(ERPNextError):
    """The API key/secret was refused (401) or its user may not read the DocType (403)."""


class ERPNextClient:
    """A small synchronous client for the few read calls the import needs."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        page_size: int = 100,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep
        self._customers: dict[str, dict[str, Any]] = {}
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"token {api_key}:{api_secret}",
                "Accept": "application/json",
            },
            transport=transport,
            timeout=timeout,
            follow_redirects=True,
        )

    def __enter__(self) -> ERPNextClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def list_contacts(self) -> Iterator[str]:
        """Names of every Contact, page by page."""
        start = 0
        while True:
            rows = self._get(
                "/api/resource/Contact",
                {
                    "fields": json.dumps(["name"]),
                    "order_by": "creation asc, name asc",
                    "limit_start": str(start),
                    "limit_page_length": str(self.page_size),
                },
            )
            if not isinstance(rows, list):
                raise ERPNextError("ERPNext listed Contacts as something other than a list")
            for row in rows:
                yield str(row["name"])
            if len(rows) < self.page_size:
                return
            start += len(rows)

    def get_contact(self, name: str) -> dict[str, Any]:
        """One Contact with its child tables (`phone_nos`, `links`, `email_ids`)."""
        return self._get_doc("Contact", name)

    def get_customer(self, name: str) -> dict[str, Any]:
        """One Customer, remembered for the client's lifetime."""
        if name not in self._customers:
            self._customers[name] = self._get_doc("Customer", name)
        return self._customers[name]

    def _get_doc(self, doctype: str, name: str) -> dict[str, Any]:
        data = self._get(f"/api/resource/{doctype}/{quote(name, safe='')}")
        if not isinstance(data, dict):
            raise ERPNextError(f"ERPNext returned no document for {doctype} {name!r}")
        return data

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> object:
        """`data` of a GET, retrying rate limits, server errors and network failures."""
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = self._http.get(path, params=params)
            except httpx.TransportError as exc:
                if last:
                    raise ERPNextError(f"cannot reach ERPNext at {self.base_url}: {exc}") from exc
                self._sleep(self._delay(attempt, None))
                continue
            if (response.status_code == 429 or response.status_code >= 500) and not last:
                self._sleep(self._delay(attempt, response))
                continue
            if not response.is_success:
                raise _error(response, path)
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or "data" not in body:
                raise ERPNextError(
                    f"{self.base_url}{path} did not answer with Frappe JSON;"
                    " is the URL the site's address?",
                    status=response.status_code,
                )
            data: object = body["data"]
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        after = response.headers.get("Retry-After", "") if response is not None else ""
        if after.isdigit():
            return min(float(after), 30.0)
        return float(self._backoff * 2**attempt)


def _error(response: httpx.Response, path: str) -> ERPNextError:
    exc_type, message = _frappe_details(response)
    status = response.status_code
    what = (
        f"HTTP {status}"
        + (f" {exc_type}" if exc_type else "")
        + (f": {message}" if message else "")
    )
    if status == 401:
        return ERPNextAuthError(
            f"ERPNext refused the API key/secret ({what}); generate them for a User under"
            " Settings → API Access and pass them as KEY:SECRET",
            status=status,
            exc_type=exc_type,
        )
    if status == 403:
        return ERPNextAuthError(
            f"the ERPNext API user may not read {path} ({what}); give it read on Contact and"
            " Customer",
            status=status,
            exc_type=exc_type,
        )
    return ERPNextError(f"ERPNext GET {path} failed ({what})", status=status, exc_type=exc_type)


def _frappe_details(response: httpx.Response) -> tuple[str | None, str | None]:
    """`exc_type` and the first human message from a Frappe error body, when present."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    exc_type = body.get("exc_type") if isinstance(body.get("exc_type"), str) else None
    message: str | None = None
    raw = body.get("_server_messages")
    if isinstance(raw, str):
        try:
            items = json.loads(raw)
            first = json.loads(items[0]) if isinstance(items[0], str) else items[0]
            message = first.get("message") if isinstance(first.get("message"), str) else None
        except (ValueError, IndexError, TypeError, AttributeError):
            message = None
    for key in ("exception", "message"):
        if message is None and isinstance(body.get(key), str):
            message = body[key]
    return exc_type, _TAGS.sub("", message).strip() if message else None


Rejected = Callable[[str, str], None]


def _ignore(ref: str, reason: str) -> None:
    """Default `rejected` callback: the caller does not keep a report."""


def customer_records(
    client: ERPNextClient, rejected: Rejected | None = None
) -> Iterator[RawRecord]:
    """One record per Contact linked to a Customer; `rejected(ref, reason)` hears the rest.

    A contact that cannot become a record is reported here, not turned into a half-empty
    record, so the report says what is really wrong ("no linked Customer", not "name: missing").
    """
    reject = rejected or _ignore
    for contact_name in client.list_contacts():
        contact = client.get_contact(contact_name)
        ref = f"Contact/{contact_name}"
        links = [
            str(link["link_name"])
            for link in contact.get("links") or []
            if link.get("link_doctype") == "Customer" and link.get("link_name")
        ]
        if not links:
            reject(ref, "no linked Customer")
            continue
        phone = primary_phone(contact.get("phone_nos") or [])
        if phone is None:
            reject(ref, "no phone number")
            continue
        try:
            customer = client.get_customer(links[0])
        except ERPNextError as exc:
            if exc.status != 404:
                raise
            reject(ref, f"linked Customer: {links[0]!r} does not exist")
            continue
        full_name = contact.get("full_name") or " ".join(
            part for part in (contact.get("first_name"), contact.get("last_name")) if part
        )
        yield RawRecord(
            ref=ref,
            name=str(customer.get("customer_name") or full_name or ""),
            phone=phone,
            email=contact.get("email_id") or None,
            sub_district=customer.get("territory") or None,
            external_ref=f"Customer/{links[0]}",
        )


def primary_phone(rows: list[dict[str, Any]]) -> str | None:
    """The primary mobile row, else the primary phone row, else the first row with a number."""
    numbers = [row for row in rows if str(row.get("phone") or "").strip()]
    for flag in ("is_primary_mobile_no", "is_primary_phone"):
        for row in numbers:
            if row.get(flag):
                return str(row["phone"]).strip()
    return str(numbers[0]["phone"]).strip() if numbers else None
