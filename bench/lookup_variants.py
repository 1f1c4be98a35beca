"""Experiment: what parts of the lookup's cost would go away, by switching suspects off from
the outside (bench/_variant_app.py) — without changing the product's code.

Same setup as bench/lookup.py (1,000,000 customers, loaded with COPY here, wrk with 32
connections), but the server is uvicorn running bench/_variant_app.py with the options
`sahaya serve` uses, so the variants differ only in what they name. Default set, for the
code since commit 4572a98 (lookup on an autocommit psycopg pool):

  baseline                the app as it is
  pool32                  SAHAYA_DB_POOL_SIZE=32 (default 10): no waiting for a connection
  no_metrics              without the Prometheus middleware

Also available by name: shallow_card and no_metrics+shallow_card (response built without
dataclasses.asdict's deep copies; only for 4572a98, which 1f4707a superseded).

`--variants historical` runs the set used on the code before 4572a98 (pool overflow,
pre-ping, thread-pool dependencies): baseline, pool32, async_deps, pool32+async,
pool32+async+np.

    .venv/bin/python bench/lookup_variants.py --repeat 3
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
    code_line,
    code_version,
    issue_token,
    median,
    prepare_database,
    private_postgres,
    restore_sigint,
    stop_process_tree,
    table,
)
from _dataset import national
from lookup import LOOKUP, Result, Scenario, load_with_copy, measure, start_server, write_lines

VARIANTS = {  # name: (SAHAYA_BENCH_VARIANT flags, extra environment)
    "baseline": ("", {}),
    "pool32": ("", {"SAHAYA_DB_POOL_SIZE": "32"}),
    "no_metrics": ("no_metrics", {}),
    "shallow_card": ("shallow_card", {}),
    "no_metrics+shallow_card": ("no_metrics,shallow_card", {}),
    "async_deps": ("async_deps", {}),
    "pool32+async": ("async_deps", {"SAHAYA_DB_POOL_SIZE": "32"}),
    "pool32+async+np": ("async_deps,no_pre_ping", {"SAHAYA_DB_POOL_SIZE": "32"}),
}
SETS = {
    "current": "baseline,pool32,no_metrics",
    "historical": "baseline,pool32,async_deps,pool32+async,pool32+async+np",
}
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
    parser.add_argument(
        "--variants", default="current", help="`current`, `historical` or names, comma-separated"
    )
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="rounds; medians are shown")
    parser.add_argument("--quiet-wait", type=float, default=120.0, help="see lookup.py")
    args = parser.parse_args()
    restore_sigint()
    args.code = code_version()
    args.loadgen = "wrk"
    if not shutil.which("wrk"):
        parser.error("this experiment needs wrk (apt-get install wrk)")
    names = SETS.get(args.variants, args.variants).split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    chosen = [(n, *VARIANTS[n]) for n in names]
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
            rounds = [
                (workers, variant)
                for _ in range(args.repeat)
                for workers in (int(w) for w in args.workers.split(","))
                for variant in chosen
            ]
            for workers, (name, flags, env) in rounds:
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
                        results.append((name, measure(base, scenario, workers, server, pg, args)))
                finally:
                    stop_process_tree(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    groups: dict[tuple[int, str, str], list[Result]] = {}
    for name, r in results:
        groups.setdefault((r.workers, name, r.scenario), []).append(r)

    def med(rs: list[Result], attr: str) -> float:
        return median([getattr(r, attr) for r in rs])

    print()
    print(
        f"## lookup variants: {args.customers:,} customers, wrk {args.connections} connections"
        f" × {args.threads} thread, {args.duration:g}s after {args.warmup:g}s warm-up,"
        f" median of {args.repeat} round(s)"
    )
    print(code_line(args.code))
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
                "other procs CPU %",
            ],
            [
                (
                    workers,
                    name,
                    scenario,
                    round(med(rs, "rps")),
                    med(rs, "p50_ms"),
                    med(rs, "p99_ms"),
                    round(med(rs, "server_cpu_us")),
                    round(med(rs, "pg_cpu_us")),
                    round(med(rs, "pg_sessions_per_1k"), 1),
                    round(med(rs, "pg_xacts_per_req"), 2),
                    round(med(rs, "other_cpu_pct")),
                )
                for (workers, name, scenario), rs in groups.items()
            ],
        )
    )
    (OUT / "lookup_variants.json").write_text(
        json.dumps([{"variant": n, **asdict(r)} for n, r in results], indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
