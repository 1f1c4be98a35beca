"""Experiment: where the import's merge step spends its time, and what would shorten it.

The merge (`INSERT … ON CONFLICT` from the staged rows, sahaya/customers/importing.py) is
most of `sahaya import customers` on a big file. This runs the product's own SQL
(`importing._DUPLICATES` and `importing._MERGE`, verbatim) under EXPLAIN (ANALYZE, BUFFERS,
WAL) on 1,000,000 pre-staged rows, once per variant, each in a fresh copy of one database:

  shipped          as in the code today
  no_tenant_ix     without ix_customers_tenant_id (both other customer indexes lead with
                   tenant_id, so it serves no query the others cannot)
  uuidv7           ids from uuidv7() (PostgreSQL 18) instead of gen_random_uuid()
  work_mem_256MB   SET LOCAL work_mem = '256MB' for the DISTINCT ON / window sorts
  all              the three together

Nothing in the product changes; the variants are applied to the throw-away database or to
the SQL text here.

    .venv/bin/python bench/import_merge.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from _common import (
    OUT,
    TENANT,
    code_line,
    code_version,
    log,
    prepare_database,
    private_postgres,
    restore_sigint,
    table,
)
from _dataset import e164, taluks

VARIANTS = ("shipped", "no_tenant_ix", "uuidv7", "work_mem_256MB", "all")
_STAGE_COLUMNS = (
    "seq bigint, ref text, name text, phone text, email text, node_id uuid, language text,"
    " external_ref text"
)


def with_db(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def stage_rows(url: str, tenant_id: uuid.UUID, rows: int) -> None:
    """A permanent copy of what the import would have staged (valid rows, ~0.2 % repeats)."""
    rng = random.Random(11)
    places = taluks()
    with psycopg.connect(url) as conn:
        node_ids = dict(
            conn.execute(
                "SELECT path, id FROM nodes WHERE tenant_id = %s AND level = 'sub_district'",
                (tenant_id,),
            ).fetchall()
        )
        conn.execute(f"CREATE TABLE bench_stage ({_STAGE_COLUMNS})")
        with conn.cursor().copy("COPY bench_stage FROM STDIN") as copy:
            fresh = 0
            for seq in range(rows):
                repeat = fresh > 0 and rng.random() < 0.002
                number = e164(rng.randrange(fresh) if repeat else fresh)
                fresh += 0 if repeat else 1
                place = places[rng.randrange(len(places))]
                copy.write_row(
                    (
                        seq,
                        str(seq + 2),
                        f"Customer {seq}",
                        number,
                        f"c{seq}@example.in" if seq % 3 == 0 else None,
                        node_ids[place.path],
                        "ml" if seq % 2 else "en",
                        None,
                    )
                )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) bench_stage")


def explain(conn: psycopg.Connection, query: str, params: object = None) -> tuple[dict, float]:
    started = time.perf_counter()
    row = conn.execute(
        "EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) " + query,
        params,  # type: ignore[arg-type]
    ).fetchone()
    assert row is not None
    return row[0][0], time.perf_counter() - started


def run_variant(admin_url: str, template: str, variant: str, tenant_id: uuid.UUID) -> dict:
    from sahaya.customers import importing

    name = f"merge_{variant}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
        conn.execute("CHECKPOINT")
    merge = importing._MERGE.format(action=importing._UPDATE)
    if variant in ("uuidv7", "all"):
        merge = merge.replace("gen_random_uuid()", "uuidv7()")
    out: dict = {"variant": variant}
    try:
        with psycopg.connect(with_db(admin_url, name)) as conn:
            if variant in ("no_tenant_ix", "all"):
                conn.execute("DROP INDEX ix_customers_tenant_id")
                conn.commit()
            started = time.perf_counter()
            if variant in ("work_mem_256MB", "all"):
                conn.execute("SET LOCAL work_mem = '256MB'")
            conn.execute(importing._STAGE)
            conn.execute("INSERT INTO import_stage SELECT * FROM bench_stage")
            out["stage_s"] = time.perf_counter() - started
            dup_plan, out["duplicates_s"] = explain(conn, importing._DUPLICATES)
            plan, out["merge_s"] = explain(conn, merge, {"tenant": tenant_id, "source": "csv"})
            started = time.perf_counter()
            conn.commit()
            out["commit_s"] = time.perf_counter() - started
            top = plan["Plan"]
            out["merge_exec_ms"] = plan["Execution Time"]
            out["triggers"] = {t["Trigger Name"]: t["Time"] for t in plan.get("Triggers", [])}
            out["trigger_ms"] = sum(out["triggers"].values())
            out["wal_mb"] = top.get("WAL Bytes", 0) / 1e6
            out["wal_fpi"] = top.get("WAL FPI", 0)
            out["temp_mb"] = (
                (top.get("Temp Written Blocks", 0) + dup_plan["Plan"].get("Temp Written Blocks", 0))
                * 8192
                / 1e6
            )
            out["created"] = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
            (OUT / f"import_merge.{variant}.plan.json").write_text(json.dumps(plan, indent=2))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    log(
        f"{variant}: merge {out['merge_s']:.1f}s (FK triggers {out['trigger_ms'] / 1000:.1f}s),"
        f" duplicates {out['duplicates_s']:.1f}s, WAL {out['wal_mb']:.0f} MB"
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    restore_sigint()
    measured = code_version()
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    with private_postgres("sahaya-bench-merge-") as pg:
        tenant_id = prepare_database(pg.url)
        stage_rows(pg.url, tenant_id, args.rows)
        log(f"staged {args.rows:,} rows for tenant {TENANT}")
        admin = with_db(pg.url, "postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        for variant in args.variants.split(","):
            if variant in ("uuidv7", "all") and int(version.split(".")[0]) < 18:
                log(f"skipping {variant}: PostgreSQL {version} has no uuidv7()")
                continue
            results.append(run_variant(admin, "sahaya", variant, tenant_id))
    print()
    print(f"## import merge step: {args.rows:,} staged rows, PostgreSQL {version}, fsync on")
    print(code_line(measured))
    print()
    print(
        table(
            [
                "variant",
                "duplicate scan s",
                "merge s",
                "of which FK checks s",
                "WAL MB",
                "WAL full-page images",
                "temp MB",
                "rows created",
            ],
            [
                (
                    r["variant"],
                    round(r["duplicates_s"], 1),
                    round(r["merge_s"], 1),
                    round(r["trigger_ms"] / 1000, 1),
                    round(r["wal_mb"]),
                    r["wal_fpi"],
                    round(r["temp_mb"]),
                    r["created"],
                )
                for r in results
            ],
        )
    )
    print()
    print("plans: " + str(Path(OUT) / "import_merge.<variant>.plan.json"))
    (OUT / "import_merge.json").write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
