"""CSV import: every row is created, updated or rejected with a reason — none vanish."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from sahaya.cli import app
from sahaya.customers import importing
from sahaya.settings import get_settings

ROWS = """name,phone,district,sub_district,email,language
Anjali K,09847012345,Ernakulam,Kochi,anjali@example.com,ml
Rahul Nair,+91 98470 12346,,kerala/ernakulam/aluva,,en
Meera Menon,919847012347,,Varkala,,Malayalam
Dup Of Anjali,9847012345,Ernakulam,Kochi,,
Bad Phone,12345,Ernakulam,Kochi,,
No Taluk,9847012348,Ernakulam,Atlantis,,
Wrong District,9847012349,Kollam,Kochi,,
Bad Email,9847012350,,Varkala,not-an-email,
Bad Language,9847012351,,Varkala,,fr
 ,9847012352,,Varkala,,
"""


def _import(
    db_url: str, tenant_id: uuid.UUID, text: str, **kwargs: object
) -> tuple[importing.ImportReport, list[list[str]]]:
    report = io.StringIO()
    with psycopg.connect(db_url) as conn:
        result = importing.import_records(
            conn,
            tenant_id=tenant_id,
            records=importing.read_csv(io.StringIO(text)),
            report=report,
            source="csv",
            **kwargs,  # type: ignore[arg-type]
        )
    return result, list(csv.reader(io.StringIO(report.getvalue())))[1:]


def test_every_row_is_accounted_for(db_url: str, tenant_id: uuid.UUID) -> None:
    result, rejected = _import(db_url, tenant_id, ROWS)
    assert (result.read, result.created, result.updated, result.rejected) == (10, 3, 0, 7)
    reasons = {row[0]: row[1] for row in rejected}
    assert reasons["5"] == "duplicate: +919847012345 already appears at 2"
    assert reasons["6"].startswith("phone: '12345' is not a valid phone number")
    assert reasons["7"] == "sub_district: no taluk 'Atlantis' in district 'Ernakulam'"
    assert reasons["8"] == "sub_district: no taluk 'Kochi' in district 'Kollam'"
    assert reasons["9"].startswith("email:")
    assert reasons["10"] == "language: 'fr' is not one of en, ml"
    assert reasons["11"] == "name: must not be empty"

    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            """SELECT c.name, c.phone_e164, n.path, c.language, c.email, c.source
               FROM customers c JOIN nodes n ON n.id = c.home_node_id ORDER BY c.phone_e164"""
        ).fetchall()
    assert rows == [
        ("Anjali K", "+919847012345", "kerala/ernakulam/kochi", "ml", "anjali@example.com", "csv"),
        ("Rahul Nair", "+919847012346", "kerala/ernakulam/aluva", "en", None, "csv"),
        ("Meera Menon", "+919847012347", "kerala/thiruvananthapuram/varkala", "ml", None, "csv"),
    ]


def test_reimport_updates_or_skips_existing_numbers(db_url: str, tenant_id: uuid.UUID) -> None:
    _import(db_url, tenant_id, ROWS)
    changed = (
        "name,phone,sub_district\nAnjali Kurian,+919847012345,Aluva\nNew Person,9847099999,Aluva\n"
    )
    updated, _ = _import(db_url, tenant_id, changed)
    assert (updated.created, updated.updated, updated.rejected) == (1, 1, 0)
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT name, email FROM customers WHERE phone_e164 = '+919847012345'"
        ).fetchone()
    assert row == ("Anjali Kurian", "anjali@example.com")  # email kept when the file has none

    skipped, rejected = _import(
        db_url, tenant_id, changed.replace("Kurian", "X"), on_existing="skip"
    )
    assert (skipped.created, skipped.updated, skipped.rejected) == (0, 0, 2)
    assert {r[1].split(":")[0] for r in rejected} == {"already registered"}


def test_header_without_required_columns_is_refused(db_url: str, tenant_id: uuid.UUID) -> None:
    with pytest.raises(ValueError, match="lacks column"):
        _import(db_url, tenant_id, "full_name,mobile\nA,9847012345\n")


def test_cli_imports_and_writes_the_rejection_report(
    db_url: str, tenant_id: uuid.UUID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "customers.csv"
    source.write_text(ROWS, encoding="utf-8")
    monkeypatch.setenv("SAHAYA_DATABASE_URL", db_url)
    monkeypatch.setenv("SAHAYA_DEFAULT_TENANT", "apna")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["import", "customers", str(source)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "read 10: 3 created, 0 updated, 7 rejected" in result.output
    report = tmp_path / "customers.rejected.csv"
    assert len(report.read_text().splitlines()) == 8  # header + 7
