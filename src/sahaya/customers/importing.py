"""Bulk import of customers (CSV files, ERPNext) through PostgreSQL COPY.

Every source yields `RawRecord`s. Each is validated in Python (phone to E.164, name, email,
language, home sub-district); good rows stream into a temporary table with COPY, bad rows go
to the rejection report with the reason. One `INSERT … ON CONFLICT` then merges the batch:
the first row for a phone wins, later rows for the same phone are rejected as duplicates
(with the line they repeat), and numbers already registered are updated or skipped.
Nothing is silently dropped: created + updated + rejected = rows read.
"""

from __future__ import annotations

import csv
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

import psycopg

from sahaya.customers import domain
from sahaya.customers.phones import InvalidPhone, to_e164

OnExisting = Literal["update", "skip"]
_COLUMNS = ("name", "phone", "email", "district", "sub_district", "language", "external_ref")


@dataclass(frozen=True, slots=True)
class RawRecord:
    ref: str  # line number or source id, shown in the report
    name: str
    phone: str
    email: str | None = None
    district: str | None = None
    sub_district: str | None = None
    language: str | None = None
    external_ref: str | None = None


@dataclass(slots=True)
class ImportReport:
    read: int = 0
    created: int = 0
    updated: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    report_path: Path | None = None

    def summary(self) -> str:
        text = (
            f"read {self.read}: {self.created} created, {self.updated} updated, "
            f"{self.rejected} rejected"
        )
        if self.rejected and self.report_path:
            text += f" (reasons in {self.report_path})"
        return text


class NodeIndex:
    """Resolves a home sub-district written as a path, or as a taluk name with or without
    its district."""

    def __init__(self, rows: Iterable[tuple[uuid.UUID, str, str, str | None]]) -> None:
        self.by_path: dict[str, uuid.UUID] = {}
        self.by_pair: dict[tuple[str, str], uuid.UUID] = {}
        by_name: dict[str, list[uuid.UUID]] = {}
        for node_id, path, name, district in rows:
            self.by_path[path] = node_id
            key = name.casefold()
            by_name.setdefault(key, []).append(node_id)
            if district:
                self.by_pair[(district.casefold(), key)] = node_id
        self.by_name = {k: v[0] for k, v in by_name.items() if len(v) == 1}
        self.ambiguous = {k for k, v in by_name.items() if len(v) > 1}

    @classmethod
    def load(cls, conn: psycopg.Connection, tenant_id: uuid.UUID) -> NodeIndex:
        rows = conn.execute(
            """SELECT n.id, n.path, n.name, d.name FROM nodes n
               LEFT JOIN nodes d ON d.id = n.parent_id
               WHERE n.tenant_id = %s AND n.level = 'sub_district'""",
            (tenant_id,),
        ).fetchall()
        return cls(rows)

    def resolve(self, district: str | None, sub_district: str | None) -> uuid.UUID:
        if not sub_district or not sub_district.strip():
            raise domain.InvalidCustomer("sub_district: missing")
        value = sub_district.strip()
        if "/" in value:
            found = self.by_path.get(value.strip("/").lower())
            if found is None:
                raise domain.InvalidCustomer(f"sub_district: no node with path {value!r}")
            return found
        key = value.casefold()
        if district and district.strip():
            found = self.by_pair.get((district.strip().casefold(), key))
            if found is None:
                raise domain.InvalidCustomer(
                    f"sub_district: no taluk {value!r} in district {district.strip()!r}"
                )
            return found
        found = self.by_name.get(key)
        if found is None:
            hint = (
                "several districts have it; add a district" if key in self.ambiguous else "unknown"
            )
            raise domain.InvalidCustomer(f"sub_district: {value!r} is {hint}")
        return found


def read_csv(handle: TextIO) -> Iterator[RawRecord]:
    """Rows of a CSV with a header naming at least `name`, `phone` and `sub_district`."""
    reader = csv.reader(handle)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in ("name", "phone", "sub_district") if c not in header]
    if missing:
        raise ValueError(f"CSV header lacks column(s): {', '.join(missing)}; it has {header}")
    index = {c: header.index(c) for c in _COLUMNS if c in header}
    width = len(header)
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) < width:
            row = row + [""] * (width - len(row))

        def col(name: str, row: list[str] = row) -> str | None:
            i = index.get(name)
            return row[i] if i is not None else None

        yield RawRecord(
            ref=str(line_no),
            name=row[index["name"]],
            phone=row[index["phone"]],
            email=col("email"),
            district=col("district"),
            sub_district=col("sub_district"),
            language=col("language"),
            external_ref=col("external_ref"),
        )


_STAGE = """CREATE TEMP TABLE import_stage (
    seq bigint, ref text, name text, phone text, email text, node_id uuid, language text,
    external_ref text) ON COMMIT DROP"""

_DUPLICATES = """
SELECT ref, phone, first_ref FROM (
  SELECT ref, phone, seq,
         first_value(ref) OVER (PARTITION BY phone ORDER BY seq) AS first_ref,
         row_number() OVER (PARTITION BY phone ORDER BY seq) AS n
  FROM import_stage) s
WHERE n > 1 ORDER BY seq"""

_MERGE = """
WITH firsts AS (
  SELECT DISTINCT ON (phone) * FROM import_stage ORDER BY phone, seq
), merged AS (
  INSERT INTO customers AS c (id, tenant_id, name, phone_e164, email, home_node_id, language,
                              verification, blocked, source, external_ref, created_at, updated_at)
  SELECT gen_random_uuid(), %(tenant)s, name, phone, email, node_id, language,
         'unverified', false, %(source)s, external_ref, now(), now()
  FROM firsts
  ON CONFLICT (tenant_id, phone_e164) DO {action}
  RETURNING (xmax = 0) AS created
)
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM merged"""

_UPDATE = """UPDATE SET name = excluded.name, email = COALESCE(excluded.email, c.email),
  home_node_id = excluded.home_node_id, language = excluded.language,
  external_ref = COALESCE(excluded.external_ref, c.external_ref), updated_at = now()"""

_SKIPPED = """SELECT s.ref, s.phone
  FROM (SELECT DISTINCT ON (phone) ref, phone, seq FROM import_stage ORDER BY phone, seq) s
  JOIN customers c ON c.tenant_id = %s AND c.phone_e164 = s.phone ORDER BY s.seq"""


def import_records(
    conn: psycopg.Connection,
    *,
    tenant_id: uuid.UUID,
    records: Iterable[RawRecord],
    report: TextIO,
    source: str,
    on_existing: OnExisting = "update",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate, stage and merge `records` in one transaction on `conn`."""
    result = ImportReport()
    writer = csv.writer(report)
    writer.writerow(["ref", "reason", "name", "phone", "district", "sub_district"])
    nodes = NodeIndex.load(conn, tenant_id)

    def reject(record: RawRecord, reason: str) -> None:
        result.rejected += 1
        result.reasons[reason.split(":")[0]] += 1
        writer.writerow(
            [record.ref, reason, record.name, record.phone, record.district, record.sub_district]
        )

    with conn.transaction():
        conn.execute(_STAGE)
        with conn.cursor().copy(
            "COPY import_stage (seq, ref, name, phone, email, node_id, language, external_ref)"
            " FROM STDIN"
        ) as copy:
            for seq, record in enumerate(records):
                result.read += 1
                if progress and seq % 10_000 == 0:
                    progress(seq)
                try:
                    phone = to_e164(record.phone)
                    name = domain.clean_name(record.name)
                    email = domain.clean_email(record.email)
                    language = domain.clean_language(record.language).value
                    node_id = nodes.resolve(record.district, record.sub_district)
                except InvalidPhone as exc:
                    reject(record, f"phone: {exc}")
                    continue
                except domain.InvalidCustomer as exc:
                    reject(record, str(exc))
                    continue
                ext = record.external_ref.strip() if record.external_ref else None
                copy.write_row(
                    (seq, record.ref, name, phone, email, node_id, language, ext or None)
                )
        for ref, phone, first_ref in conn.execute(_DUPLICATES).fetchall():
            result.rejected += 1
            result.reasons["duplicate"] += 1
            writer.writerow([ref, f"duplicate: {phone} already appears at {first_ref}", "", phone])
        if on_existing == "skip":
            for ref, phone in conn.execute(_SKIPPED, (tenant_id,)).fetchall():
                result.rejected += 1
                result.reasons["already registered"] += 1
                writer.writerow([ref, f"already registered: {phone}", "", phone])
        action = _UPDATE if on_existing == "update" else "NOTHING"
        row = conn.execute(
            _MERGE.format(action=action), {"tenant": tenant_id, "source": source}
        ).fetchone()
        assert row is not None  # noqa: S101 - an aggregate always returns a row
        result.created, result.updated = int(row[0]), int(row[1])
    if progress:
        progress(result.read)
    return result


def import_csv(
    conn: psycopg.Connection,
    *,
    tenant_id: uuid.UUID,
    path: Path,
    report_path: Path,
    on_existing: OnExisting = "update",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    with (
        path.open(newline="", encoding="utf-8-sig") as handle,
        report_path.open("w", newline="", encoding="utf-8") as report,
    ):
        result = import_records(
            conn,
            tenant_id=tenant_id,
            records=read_csv(handle),
            report=report,
            source="csv",
            on_existing=on_existing,
            progress=progress,
        )
    result.report_path = report_path
    return result
