"""Experiment: how much of the lookup's cost goes where, by switching suspects off from the
outside (bench/_variant_app.py) — without changing the product's code.

Same setup as bench/lookup.py (1,000,000 customers, loaded with COPY here, wrk with 32
connections), but the server is uvicorn running bench/_variant_app.py with the same options
`sahaya serve` uses, so the variants differ only in what they name:

  baseline          the app as shipped (pool 10 + 10 overflow, pre-ping, sync dependencies)
  pool32            SAHAYA_DB_POOL_SIZE=32: no overflow connections opened and closed
  async_deps        clock/database/settings dependencies as coroutines (no thread-pool hop)
  pool32+async      both
  pool32+async+np   … and pool_pre_ping=False (one round trip less per request)

    .venv/bin/python bench/lookup_variants.py
    .venv/bin/python bench/lookup_variants.py --customers 100000 --duration 5 --warmup 2
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import httpx
import psycopg

from _common import (
    BIN,
    OUT,
    issue_token,
    prepare_database,
    private_postgres,
    stop_process_tree,
    table,
)
from _dataset import national
from lookup import LOOKUP, Result, Scenario, load_with_copy, measure, start_server, write_lines

VARIANTS = (
    ("baseline", "", {}),
    ("pool32", "", {"SAHAYA_DB_POOL_SIZE": "32"}),
    ("async_deps", "async_deps", {}),
    ("pool32+async", "async_deps", {"SAHAYA_DB_POOL_SIZE": "32"}),
    ("pool32+async+np", "async_deps,no_pre_ping", {"SAHAYA_DB_POOL_SIZE": "32"}),
)
UVICORN = [
    str(BIN / "python"),
    "-m",
    "uvicorn",
    "--app-dir",
    str(Path(__file__).resolve().parent),
    "_variant_app:app",
    "--log-level",
    "warning",
    "--no-access-log",
    "--proxy-headers",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--workers", default="1", help="comma-separated --workers values")
    parser.add_argument("--variants", default=",".join(v[0] for v in VARIANTS))
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    args.loadgen = "wrk"
    if not shutil.which("wrk"):
        parser.error("this experiment needs wrk (apt-get install wrk)")
    chosen = [v for v in VARIANTS if v[0] in args.variants.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sahaya-bench-variants-"))
    results: list[tuple[str, Result]] = []
    try:
        with private_postgres("sahaya-bench-variants-", fast_and_unsafe=True) as pg:
            tenant_id = prepare_database(pg.url)
            load_with_copy(pg, tenant_id, args.customers)
            with psycopg.connect(pg.url, autocommit=True) as conn:
                conn.execute("VACUUM (ANALYZE) customers")
            rng = random.Random(7)
            sample = rng.sample(range(args.customers), min(100_000, args.customers))
            lines = write_lines(work / "state.txt", [national(i) for i in sample])
            token = issue_token(pg.url, tenant_id, "agent", "kerala")
            scenarios = [
                Scenario("GET /api/v1/me (auth only)", "/api/v1/me", None, token, 200),
                Scenario("lookup, agent at kerala", LOOKUP, lines, token, 200),
            ]
            for workers in (int(w) for w in args.workers.split(",")):
                for name, flags, env in chosen:
                    server, base = start_server(
                        pg,
                        workers,
                        work,
                        command=UVICORN,
                        env={"SAHAYA_BENCH_VARIANT": flags, **env},
                        label=f"variant {name}",
                    )
                    try:
                        check = httpx.get(
                            base + LOOKUP + "0" + national(sample[0]),
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        assert check.status_code == 200, check.text
                        for scenario in scenarios:
                            result = measure(base, scenario, workers, server, pg, args)
                            results.append((name, result))
                    finally:
                        stop_process_tree(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(
        f"## lookup variants: {args.customers:,} customers, wrk {args.connections} connections"
        f" × {args.threads} thread, {args.duration:g}s after {args.warmup:g}s warm-up"
    )
    print()
    print(
        table(
            [
                "workers",
                "variant",
                "scenario",
                "req/s",
                "p50 ms",
                "p99 ms",
                "server CPU µs/req",
                "PG CPU µs/req",
                "new PG conns /1k req",
                "PG xacts/req",
            ],
            [
                (
                    r.workers,
                    name,
                    r.scenario,
                    round(r.rps),
                    r.p50_ms,
                    r.p99_ms,
                    round(r.server_cpu_us),
                    round(r.pg_cpu_us),
                    round(r.pg_sessions_per_1k, 1),
                    round(r.pg_xacts_per_req, 2),
                )
                for name, r in results
            ],
        )
    )
    (OUT / "lookup_variants.json").write_text(
        json.dumps([{"variant": n, **asdict(r)} for n, r in results], indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
