"""A local stand-in for ERPNext's REST API, for tests and the demo.

It serves real HTTP (Starlette under uvicorn on 127.0.0.1) and copies the parts of Frappe
the import relies on, quirks included: token auth, `{"data": …}` envelopes, 20-row pages
of `name` only by default, JSON `fields`/`filters`/`order_by`, child-table filters such as
`[["Contact Phone", "phone", "like", "%9847012345"]]`, read-only `phone`/`mobile_no`
derived from the primary Contact Phone rows, and Frappe-shaped error bodies. `fail_next`
makes the next requests answer 429 or 5xx, to exercise retries.

Run `python -m sahaya.channels.erpnext.fake [PORT]` for a demo server (key and secret `demo`).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_TABLES = {
    "Contact": {"Contact Phone": "phone_nos", "Contact Email": "email_ids", "Dynamic Link": "links"}
}
_TITLES = {
    401: "AuthenticationError",
    403: "PermissionError",
    404: "DoesNotExistError",
    417: "ValidationError",
    429: "RateLimitExceededError",
}


@dataclass(frozen=True, slots=True)
class Phone:
    """A Contact Phone row."""

    number: str
    primary_mobile: bool = False
    primary_phone: bool = False


@dataclass(frozen=True, slots=True)
class Contact:
    """What a user types into a new Contact; `name` defaults to the full name, as in Frappe."""

    first_name: str
    last_name: str = ""
    phones: Sequence[Phone | str] = ()
    email: str | None = None
    name: str | None = None


class FrappeError(Exception):
    def __init__(self, status: int, message: str, exc_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.exc_type = exc_type or _TITLES.get(status, "Exception")

    def response(self) -> JSONResponse:
        shown = json.dumps({"message": str(self), "title": "Message", "indicator": "red"})
        body = {
            "exception": f"frappe.exceptions.{self.exc_type}: {self}",
            "exc_type": self.exc_type,
            "_server_messages": json.dumps([shown]),
        }
        headers = {"Retry-After": "1"} if self.status == 429 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


class FakeERPNext:
    """An in-memory ERPNext site holding Customers and Contacts, served over HTTP."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.docs: dict[str, dict[str, dict[str, Any]]] = {"Contact": {}, "Customer": {}}
        self.requests: list[str] = []
        self._credentials = f"{api_key}:{api_secret}"
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._clock = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/api/resource/{doctype}", self._list, methods=["GET"]),
                Route("/api/resource/{doctype}/{name:path}", self._get, methods=["GET"]),
            ]
        )

    # --- data -----------------------------------------------------------------------------

    def add_customer(
        self, name: str, customer_name: str, territory: str, contacts: Sequence[Contact] = ()
    ) -> str:
        """A Customer and its Contacts (the first one becomes the primary contact)."""
        contact_names = [self.add_contact(c, links=[("Customer", name)]) for c in contacts]
        primary = self.docs["Contact"][contact_names[0]] if contact_names else {}
        self.docs["Customer"][name] = self._meta("Customer", name) | {
            "customer_name": customer_name,
            "customer_type": "Individual",
            "customer_group": "Individual",
            "territory": territory,
            "customer_primary_contact": contact_names[0] if contact_names else None,
            "mobile_no": primary.get("mobile_no"),
            "email_id": primary.get("email_id"),
            "disabled": 0,
        }
        return name

    def add_contact(self, contact: Contact, links: Sequence[tuple[str, str]] = ()) -> str:
        """A Contact linked to the given (doctype, name) pairs; returns its document name."""
        full_name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
        name = contact.name or full_name
        for n in itertools.count(1):
            if name not in self.docs["Contact"]:
                break
            name = f"{contact.name or full_name}-{n}"
        phones = [p if isinstance(p, Phone) else Phone(p) for p in contact.phones]
        self.docs["Contact"][name] = self._meta("Contact", name) | {
            "first_name": contact.first_name,
            "last_name": contact.last_name or None,
            "full_name": full_name,
            "email_id": contact.email,
            "phone": next((p.number for p in phones if p.primary_phone), None),
            "mobile_no": next((p.number for p in phones if p.primary_mobile), None),
            "status": "Passive",
            "is_primary_contact": 0,
            "phone_nos": [
                _row(
                    "Contact Phone",
                    name,
                    "phone_nos",
                    i,
                    phone=p.number,
                    is_primary_phone=int(p.primary_phone),
                    is_primary_mobile_no=int(p.primary_mobile),
                )
                for i, p in enumerate(phones, 1)
            ],
            "email_ids": [
                _row("Contact Email", name, "email_ids", 1, email_id=contact.email, is_primary=1)
            ]
            if contact.email
            else [],
            "links": [
                _row("Dynamic Link", name, "links", i, link_doctype=dt, link_name=ln)
                for i, (dt, ln) in enumerate(links, 1)
            ],
        }
        return name

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` requests with `status` (e.g. 429, 500, 503)."""
        with self._lock:
            self._failures.extend([status] * count)

    def _meta(self, doctype: str, name: str) -> dict[str, Any]:
        stamp = f"2025-01-01 09:00:00.{next(self._clock):06d}"
        return {
            "name": name,
            "doctype": doctype,
            "owner": "Administrator",
            "creation": stamp,
            "modified": stamp,
            "modified_by": "Administrator",
            "docstatus": 0,
            "idx": 0,
        }

    # --- HTTP -----------------------------------------------------------------------------

    async def _list(self, request: Request) -> JSONResponse:
        try:
            docs = self._doctype(request)
            query = request.query_params
            filters = _filters(query.get("filters"), request.path_params["doctype"])
            rows = [doc for doc in docs.values() if _matches(doc, filters)]
            _sort(rows, query.get("order_by"))
            start = _int(query.get("limit_start"), 0)
            length = _int(query.get("limit_page_length", query.get("limit")), 20)
            page = rows[start : start + length] if length else rows[start:]
            fields = _fields(query.get("fields"), docs)
            return JSONResponse({"data": [{f: d.get(f) for f in fields} for d in page]})
        except FrappeError as exc:
            return exc.response()

    async def _get(self, request: Request) -> JSONResponse:
        try:
            docs = self._doctype(request)
            name = request.path_params["name"]
            if name not in docs:
                raise FrappeError(404, f"{request.path_params['doctype']} {name} not found")
            return JSONResponse({"data": docs[name]})
        except FrappeError as exc:
            return exc.response()

    def _doctype(self, request: Request) -> dict[str, dict[str, Any]]:
        """Log, inject failures, authenticate, then find the DocType's documents."""
        with self._lock:
            self.requests.append(f"{request.url.path}?{request.url.query}")
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            raise FrappeError(failure, "injected failure")
        if _credentials(request.headers.get("Authorization", "")) != self._credentials:
            raise FrappeError(401, "Invalid Request: wrong or missing API key/secret")
        doctype = request.path_params["doctype"]
        if doctype not in self.docs:
            raise FrappeError(404, f"DocType {doctype} not found")
        return self.docs[doctype]

    @contextmanager
    def serve(self, port: int = 0) -> Iterator[str]:
        """Serve on 127.0.0.1 (an ephemeral port by default) in a thread; yields the base URL."""
        # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections; with proto 0
        # it does not, and every keep-alive request waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            http="h11",
            ws="none",
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-erpnext", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake ERPNext server did not start")
            time.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
            thread.join(10)
            sock.close()


def _row(doctype: str, parent: str, field: str, idx: int, **values: Any) -> dict[str, Any]:
    return {
        "name": uuid.uuid4().hex[:10],
        "doctype": doctype,
        "parent": parent,
        "parentfield": field,
        "parenttype": "Contact",
        "idx": idx,
    } | values


def _credentials(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "token":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def _json(raw: str | None, what: str) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise FrappeError(417, f"{what} is not valid JSON: {raw}") from None


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        raise FrappeError(417, f"{raw!r} is not a number") from None


def _fields(raw: str | None, docs: dict[str, dict[str, Any]]) -> list[str]:
    fields = _json(raw, "fields") or ["name"]
    known = {k for doc in docs.values() for k, v in doc.items() if not isinstance(v, list)}
    if not isinstance(fields, list):
        raise FrappeError(417, "fields must be a JSON list")
    if "*" in fields:
        return sorted(known)
    unknown = [f for f in fields if f not in known | {"name"}]
    if unknown and docs:
        raise FrappeError(417, f"Field not permitted in query: {unknown[0]}", "DataError")
    return [str(f) for f in fields]


def _sort(rows: list[dict[str, Any]], order_by: str | None) -> None:
    """`order_by` such as "creation asc, name asc"; Frappe's default is "modified desc"."""
    for part in reversed((order_by or "modified desc").split(",")):
        field, _, direction = part.strip().partition(" ")
        key = field.strip("`").rsplit(".", 1)[-1].strip("`")
        rows.sort(key=lambda doc: str(doc.get(key) or ""), reverse=direction.strip() == "desc")


Filter = tuple[str | None, str, str, object]  # (child table field or None, field, op, value)


def _filters(raw: str | None, doctype: str) -> list[Filter]:
    """Frappe filters: [[field, op, value], [doctype, field, op, value], …] or {field: value}."""
    items = _json(raw, "filters") or []
    if isinstance(items, dict):
        items = [[k, *(v if isinstance(v, list) else ["=", v])] for k, v in items.items()]
    parsed: list[Filter] = []
    for item in items:
        if not isinstance(item, list) or len(item) not in (3, 4):
            raise FrappeError(417, f"Filter must be [field, op, value]: {item}")
        table, field, op, value = item if len(item) == 4 else [doctype, *item]
        if table != doctype and table not in _TABLES.get(doctype, {}):
            raise FrappeError(417, f"{table} is not a child table of {doctype}")
        child = None if table == doctype else _TABLES[doctype][table]
        parsed.append((child, str(field), str(op).lower(), value))
    return parsed


def _matches(doc: dict[str, Any], filters: list[Filter]) -> bool:
    """All filters hold; a child-table filter holds when any row of that table matches."""
    for child, field, op, value in filters:
        rows = [doc] if child is None else doc.get(child) or []
        if not any(_compare(row.get(field), op, value) for row in rows):
            return False
    return True


def _compare(actual: object, op: str, expected: object) -> bool:
    text = "" if actual is None else str(actual).casefold()
    if op in ("like", "not like"):
        pattern = "".join(
            ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
            for ch in str(expected).casefold()
        )
        return (re.fullmatch(pattern, text, re.DOTALL) is not None) == (op == "like")
    if op in ("=", "!="):
        return (text == str(expected).casefold()) == (op == "=")
    if op in ("in", "not in"):
        values = expected if isinstance(expected, list) else str(expected).split(",")
        return (text in {str(v).strip().casefold() for v in values}) == (op == "in")
    if op == "is":
        return bool(text) == (expected == "set")
    raise FrappeError(417, f"Operator {op!r} is not supported by the fake")


def demo_site() -> FakeERPNext:
    """A few Kerala customers in the shapes real sites hold, plus two that must be rejected."""
    site = FakeERPNext("demo", "demo")
    site.add_customer(
        "CUST-00001",
        "Anjali K",
        "Kochi",
        [
            Contact(
                "Anjali",
                "K",
                [
                    Phone("+91 98470 12345", primary_mobile=True),
                    Phone("0484 2345678", primary_phone=True),
                ],
                email="anjali@example.com",
            )
        ],
    )
    site.add_customer(
        "CUST-00002", "Rahul Menon", "Aluva", [Contact("Rahul", "Menon", ["09847012346"])]
    )
    site.add_customer(
        "CUST-00003", "Deepa Nair", "Thrissur", [Contact("Deepa", "Nair", ["919847012347"])]
    )
    site.add_customer(
        "CUST-00004",
        "Faisal Rahman",
        "All Territories",
        [Contact("Faisal", "Rahman", ["9847012348"])],
    )
    site.add_contact(Contact("Supplier", "Desk", ["9847012349"]), links=[("Supplier", "SUP-1")])
    return site


def main(argv: Sequence[str] | None = None) -> None:
    """Serve `demo_site()` until interrupted."""
    argv = sys.argv[1:] if argv is None else argv
    site = demo_site()
    with site.serve(int(argv[0]) if argv else 0) as url:
        print(f"fake ERPNext at {url}; try: sahaya import erpnext --url {url} --token demo:demo")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
