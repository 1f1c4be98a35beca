"""ERPNext import over real HTTP against the fake site: every Contact is imported or rejected."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from sahaya.channels.erpnext.client import (
    ERPNextAuthError,
    ERPNextClient,
    ERPNextError,
    customer_records,
)
from sahaya.channels.erpnext.fake import Contact, FakeERPNext, Phone
from sahaya.cli import app
from sahaya.customers import importing
from sahaya.settings import get_settings

KEY, SECRET = "3f2a9c1d", "7b8e6d5c4a"


def _site() -> FakeERPNext:
    site = FakeERPNext(KEY, SECRET)
    anjali = Contact(
        "Anjali",
        "K",
        [
            Phone("0484 2345678", primary_phone=True),
            Phone("09847012345", primary_mobile=True),
            Phone("9847099999"),
        ],
        email="Anjali@Example.com",
    )
    site.add_customer("CUST-0001", "Anjali K", "Kochi", [anjali])
    site.add_customer(
        "CUST-0002",
        "Rahul Menon",
        "Aluva",
        [
            Contact("Rahul", "Menon", ["+91 98470 12346"]),
            Contact("Rahul", "Office", ["9847012350"]),
        ],
    )
    deepa = Contact("Deepa", "N", [Phone("919847012347", primary_phone=True)])
    site.add_customer("CUST-0003", "Deepa Nair", "Thrissur", [deepa])
    site.add_customer(
        "Kurian & Sons",
        "Kurian & Sons",
        "Sulthan Bathery",
        [Contact("Joseph", "Kurian", ["9847012348"])],
    )
    site.add_customer("CUST-0005", "Priya", "Kochi", [Contact("Priya", "", [])])
    site.add_customer(
        "CUST-0006",
        "Faisal Rahman",
        "All Territories",
        [Contact("Faisal", "Rahman", ["9847012349"])],
    )
    site.add_contact(Contact("Supplier", "Desk", ["9847012351"]), links=[("Supplier", "SUP-1")])
    return site


EXPECTED = [
    (
        "Anjali K",
        "+919847012345",
        "kerala/ernakulam/kochi",
        "anjali@example.com",
        "Customer/CUST-0001",
    ),
    ("Rahul Menon", "+919847012346", "kerala/ernakulam/aluva", None, "Customer/CUST-0002"),
    ("Deepa Nair", "+919847012347", "kerala/thrissur/thrissur", None, "Customer/CUST-0003"),
    (
        "Kurian & Sons",
        "+919847012348",
        "kerala/wayanad/sulthan-bathery",
        None,
        "Customer/Kurian & Sons",
    ),
    ("Rahul Menon", "+919847012350", "kerala/ernakulam/aluva", None, "Customer/CUST-0002"),
]
REJECTED = {
    "Contact/Faisal Rahman": "sub_district: 'All Territories' is unknown",
    "Contact/Priya": "no phone number",
    "Contact/Supplier Desk": "no linked Customer",
}


@pytest.fixture
def site() -> FakeERPNext:
    return _site()


@pytest.fixture
def erp_url(site: FakeERPNext) -> Iterator[str]:
    with site.serve() as url:
        yield url


def _client(url: str, *, secret: str = SECRET, page_size: int = 100) -> ERPNextClient:
    return ERPNextClient(url, KEY, secret, page_size=page_size, sleep=lambda _: None)


def _import(
    db_url: str, tenant_id: uuid.UUID, client: ERPNextClient
) -> tuple[importing.ImportReport, dict[str, str]]:
    report = io.StringIO()
    writer = csv.writer(report)
    with psycopg.connect(db_url) as conn:
        result = importing.import_records(
            conn,
            tenant_id=tenant_id,
            records=customer_records(client, rejected=lambda ref, why: writer.writerow([ref, why])),
            report=report,
            source="erpnext",
        )
    rows = list(csv.reader(io.StringIO(report.getvalue())))
    assert rows[0] == ["ref", "reason", "name", "phone", "district", "sub_district"]
    return result, {row[0]: row[1] for row in rows[1:]}


def _customers(db_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            """SELECT c.name, c.phone_e164, n.path, c.email, c.external_ref
               FROM customers c JOIN nodes n ON n.id = c.home_node_id
               WHERE c.source = 'erpnext' ORDER BY c.phone_e164"""
        ).fetchall()


def _list_starts(site: FakeERPNext) -> list[str]:
    lists = [urlsplit(r) for r in site.requests if urlsplit(r).path == "/api/resource/Contact"]
    return [parse_qs(r.query)["limit_start"][0] for r in lists]


def test_contacts_become_customers_in_their_taluk(
    db_url: str, tenant_id: uuid.UUID, erp_url: str
) -> None:
    with _client(erp_url) as client:
        result, rejected = _import(db_url, tenant_id, client)
    assert (result.read, result.created, result.updated, result.rejected) == (6, 5, 0, 1)
    assert _customers(db_url) == EXPECTED
    assert rejected == REJECTED


def test_each_customer_is_fetched_once(
    db_url: str, tenant_id: uuid.UUID, erp_url: str, site: FakeERPNext
) -> None:
    with _client(erp_url) as client:
        _import(db_url, tenant_id, client)
    customer_gets = [r for r in site.requests if r.startswith("/api/resource/Customer/CUST-0002")]
    assert len(customer_gets) == 1  # two contacts link it


def test_second_import_updates_instead_of_duplicating(
    db_url: str, tenant_id: uuid.UUID, erp_url: str, site: FakeERPNext
) -> None:
    with _client(erp_url) as client:
        _import(db_url, tenant_id, client)
    site.docs["Customer"]["CUST-0002"]["territory"] = "Kanayannur"
    site.docs["Customer"]["CUST-0003"]["customer_name"] = "Deepa Nair (Stores)"
    with _client(erp_url) as client:
        again, rejected = _import(db_url, tenant_id, client)
    assert (again.read, again.created, again.updated, again.rejected) == (6, 0, 5, 1)
    assert rejected == REJECTED
    rows = {row[1]: row for row in _customers(db_url)}
    assert len(rows) == 5
    assert rows["+919847012346"][2] == "kerala/ernakulam/kanayannur"
    assert rows["+919847012350"][2] == "kerala/ernakulam/kanayannur"
    assert rows["+919847012347"][0] == "Deepa Nair (Stores)"


def test_wrong_token_is_an_auth_error(erp_url: str) -> None:
    with (
        _client(erp_url, secret="not-the-secret") as client,
        pytest.raises(ERPNextAuthError, match=r"refused the API key/secret \(HTTP 401") as caught,
    ):
        list(customer_records(client))
    assert caught.value.status == 401
    assert caught.value.exc_type == "AuthenticationError"


def test_server_errors_are_retried_with_backoff(
    db_url: str, tenant_id: uuid.UUID, erp_url: str, site: FakeERPNext
) -> None:
    slept: list[float] = []
    site.fail_next(2, 500)
    with ERPNextClient(erp_url, KEY, SECRET, sleep=slept.append) as client:
        result, _ = _import(db_url, tenant_id, client)
    assert slept == [0.5, 1.0]
    assert result.created == 5


def test_rate_limit_waits_for_retry_after(erp_url: str, site: FakeERPNext) -> None:
    slept: list[float] = []
    site.fail_next(1, 429)
    with ERPNextClient(erp_url, KEY, SECRET, sleep=slept.append) as client:
        contact = client.get_contact("Anjali K")
    assert slept == [1.0]
    assert contact["full_name"] == "Anjali K"


def test_persistent_server_error_gives_up_after_three_retries(
    erp_url: str, site: FakeERPNext
) -> None:
    slept: list[float] = []
    site.fail_next(4, 503)
    with (
        ERPNextClient(erp_url, KEY, SECRET, sleep=slept.append) as client,
        pytest.raises(ERPNextError, match=r"HTTP 503") as caught,
    ):
        client.get_contact("Anjali K")
    assert caught.value.status == 503
    assert len(slept) == 3
    assert len(site.requests) == 4


def test_missing_document_names_frappe_error(erp_url: str) -> None:
    with _client(erp_url) as client, pytest.raises(ERPNextError) as caught:
        client.get_customer("CUST-9999")
    assert caught.value.status == 404
    assert caught.value.exc_type == "DoesNotExistError"
    assert "Customer CUST-9999 not found" in str(caught.value)


@pytest.mark.parametrize(
    ("page_size", "starts"), [(2, ["0", "2", "4", "6", "8"]), (3, ["0", "3", "6"])]
)
def test_pages_through_every_contact(
    db_url: str,
    tenant_id: uuid.UUID,
    erp_url: str,
    site: FakeERPNext,
    page_size: int,
    starts: list[str],
) -> None:
    with _client(erp_url, page_size=page_size) as client:
        result, rejected = _import(db_url, tenant_id, client)
    assert _list_starts(site) == starts
    assert result.created == 5
    assert rejected == REJECTED


def test_fake_lists_like_frappe(erp_url: str, site: FakeERPNext) -> None:
    for n in range(20):
        site.add_contact(Contact("Extra", str(n), [f"98470200{n:02d}"]))
    auth = {"Authorization": f"token {KEY}:{SECRET}"}
    with httpx.Client(base_url=erp_url, headers=auth) as http:
        default = http.get("/api/resource/Contact").json()["data"]
        found = http.get(
            "/api/resource/Contact",
            params={
                "fields": json.dumps(["name", "mobile_no", "phone"]),
                "filters": json.dumps([["Contact Phone", "phone", "like", "%9847012345"]]),
            },
        ).json()["data"]
        anonymous = httpx.get(f"{erp_url}/api/resource/Contact")
    assert len(default) == 20
    assert {tuple(row) for row in default} == {("name",)}
    assert found == [{"name": "Anjali K", "mobile_no": "09847012345", "phone": "0484 2345678"}]
    assert anonymous.status_code == 401
    assert anonymous.json()["exc_type"] == "AuthenticationError"


def _cli(db_url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("SAHAYA_DATABASE_URL", db_url)
    monkeypatch.setenv("SAHAYA_DEFAULT_TENANT", "apna")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["import", "erpnext", *args])
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def test_cli_imports_and_reports_every_contact(
    db_url: str,
    tenant_id: uuid.UUID,
    erp_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = tmp_path / "erpnext.rejected.csv"
    code, output = _cli(
        db_url, monkeypatch, "--url", erp_url, "--token", f"{KEY}:{SECRET}", "--report", str(report)
    )
    assert code == 0, output
    assert f"read 8: 5 created, 0 updated, 3 rejected (reasons in {report})" in output
    rows = list(csv.reader(io.StringIO(report.read_text(encoding="utf-8"))))
    assert {row[0]: row[1] for row in rows[1:]} == REJECTED
    assert _customers(db_url) == EXPECTED


def test_cli_explains_a_refused_token(
    db_url: str, tenant_id: uuid.UUID, erp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _cli(
        db_url,
        monkeypatch,
        "--url",
        erp_url,
        "--token",
        f"{KEY}:wrong",
        "--report",
        str(tmp_path / "r.csv"),
    )
    assert code == 1
    assert "error: ERPNext refused the API key/secret" in output
