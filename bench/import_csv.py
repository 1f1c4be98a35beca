"""Benchmark: `sahaya import customers FILE` with a 1,000,000-row CSV on a fresh database.

Generates the CSV (mixed phone formats, real Kerala taluks, ~0.5 % bad rows of three kinds),
starts a private embedded PostgreSQL, migrates it and loads the Kerala tree, then runs the
import as a child process and reports wall time, rows/s, the importer's peak RSS (from the
kernel's rusage, cross-checked by polling) and PostgreSQL's share separately (the import
backend's CPU, peak RSS and private memory, temp files, WAL). The phases (validate+COPY,
duplicate scan, merge) are timed by watching pg_stat_activity. It checks that
created + rejected == rows and that every kind of bad row was rejected as planned.

    .venv/bin/python bench/import_csv.py                 # 1,000,000 rows
    .venv/bin/python bench/import_csv.py --rows 100000   # quicker
    .venv/bin/python bench/import_csv.py --py-spy /tmp/prof/bin/py-spy   # + profile
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg

from _common import (
    OUT,
    SAHAYA,
    TENANT,
    clean_env,
    code_line,
    code_version,
    log,
    prepare_database,
    private_postgres,
    restore_sigint,
    table,
    wait_until_quiet,
)
from _dataset import write_customers_csv

TARGET_SECONDS = 60.0
TARGET_RSS_MB = 300.0
MB = 1024 * 1024


@dataclass
class Backend:
    cpu: float = 0.0
    rss: int = 0
    uss: int = 0


@dataclass
class Watch:
    """What a background thread sees while the import runs."""

    child_rss: int = 0
    pg_total_rss: int = 0
    backends: dict[int, Backend] = field(default_factory=dict)
    queries: dict[tuple[int, float], str] = field(default_factory=dict)  # (pid, start) -> text
    idle_at: dict[int, float] = field(default_factory=dict)


def classify(query: str) -> str:
    text = " ".join(query.split())
    if text.startswith("COPY import_stage"):
        return "validate + COPY into stage"
    if "first_value(ref)" in text:
        return "duplicate scan"
    if "INSERT INTO customers" in text:
        return "merge (INSERT … ON CONFLICT)"
    if text.startswith("CREATE TEMP TABLE"):
        return "create stage"
    if "FROM nodes n" in text:
        return "load taluks"
    if text.upper().startswith("COMMIT"):
        return "commit"
    return text[:40]


def watch(
    child: psutil.Process,
    pg_url: str,
    pg_procs: Callable[[], list[psutil.Process]],
    seen: Watch,
    stop: threading.Event,
) -> None:
    last_slow = 0.0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        me = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        while not stop.is_set():
            with contextlib.suppress(psutil.Error):
                rss = child.memory_info().rss
                for sub in child.children(recursive=True):
                    rss = max(rss, sub.memory_info().rss)
                seen.child_rss = max(seen.child_rss, rss)
            now = time.monotonic()
            if now - last_slow >= 0.25:
                last_slow = now
                rows = conn.execute(
                    """SELECT pid, state, query, extract(epoch FROM query_start),
                              extract(epoch FROM state_change)
                       FROM pg_stat_activity
                       WHERE datname = current_database() AND backend_type = 'client backend'
                         AND pid <> %s""",
                    (me,),
                ).fetchall()
                for pid, state, query, started, changed in rows:
                    if started is not None and query:
                        seen.queries[(pid, float(started))] = query
                    if state == "idle" and changed is not None:
                        seen.idle_at[pid] = float(changed)
                    with contextlib.suppress(psutil.Error):
                        proc = psutil.Process(pid)
                        info = proc.memory_full_info()
                        times = proc.cpu_times()
                        b = seen.backends.setdefault(pid, Backend())
                        b.cpu = times.user + times.system
                        b.rss = max(b.rss, info.rss)
                        b.uss = max(b.uss, info.uss)
                total = 0
                for proc in pg_procs():
                    with contextlib.suppress(psutil.Error):
                        total += proc.memory_info().rss
                seen.pg_total_rss = max(seen.pg_total_rss, total)
            stop.wait(0.05)


def phases(seen: Watch, pid: int, ended_at: float) -> list[tuple[str, float]]:
    starts = sorted((start, q) for (p, start), q in seen.queries.items() if p == pid)
    out: list[tuple[str, float]] = []
    for i, (start, query) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else seen.idle_at.get(pid, ended_at)
        out.append((classify(query), max(0.0, end - start)))
    return out


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle (all processes, all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def own_cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def pg_counters(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            """SELECT temp_files, temp_bytes, pg_current_wal_lsn() - '0/0'::pg_lsn
               FROM pg_stat_database WHERE datname = current_database()"""
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bad", type=float, default=0.005, help="share of bad rows")
    parser.add_argument("--py-spy", help="py-spy binary: also record a profile of the import")
    parser.add_argument("--fsync-off", action="store_true", help="throw-away cluster settings")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="first wait up to this many seconds for other load on the machine to stop",
    )
    args = parser.parse_args()
    restore_sigint()
    measured = code_version()

    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sahaya-bench-import-data-"))
    csv_path = work / "customers.csv"
    started = time.perf_counter()
    expected = write_customers_csv(csv_path, args.rows, bad_fraction=args.bad)
    size_mb = csv_path.stat().st_size / 1e6
    log(
        f"wrote {args.rows:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - started:.1f}s; "
        f"planted bad rows: {dict(expected.rejected)}"
    )

    with private_postgres("sahaya-bench-import-", fast_and_unsafe=args.fsync_off) as pg:
        tenant_id = prepare_database(pg.url)
        log(f"migrated and seeded tenant {TENANT} ({tenant_id})")
        temp_files0, temp_bytes0, wal0 = pg_counters(pg.url)
        command = [
            str(SAHAYA),
            "import",
            "customers",
            str(csv_path),
            "--report",
            str(work / "rejected.csv"),
        ]
        profile = OUT / "import_csv.pyspy.txt"
        if args.py_spy:
            command = [
                args.py_spy,
                "record",
                "--format",
                "raw",
                "--rate",
                "100",
                "--nonblocking",
                "--output",
                str(profile),
                "--",
                *command,
            ]
        env = clean_env(
            SAHAYA_DATABASE_URL=pg.url,
            SAHAYA_DEFAULT_TENANT=TENANT,
            SAHAYA_VAR_DIR=str(work),
            SAHAYA_LOG_LEVEL="WARNING",
        )
        if args.quiet_wait > 0:
            wait_until_quiet(args.quiet_wait)
        log_path = OUT / "import_csv.log"
        seen = Watch()
        stop = threading.Event()
        with log_path.open("wb") as out:
            busy0, me0 = busy_seconds(), own_cpu()
            t0 = time.perf_counter()
            epoch0 = time.time()
            proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            monitor = threading.Thread(
                target=watch,
                args=(psutil.Process(proc.pid), pg.url, pg.processes, seen, stop),
                daemon=True,
            )
            monitor.start()
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            ended_at = time.time()
            proc.returncode = os.waitstatus_to_exitcode(status)
            stop.set()
            monitor.join()
            busy, me = busy_seconds() - busy0, own_cpu() - me0
        output = log_path.read_text(errors="replace")
        if proc.returncode != 0:
            print(output[-3000:], file=sys.stderr)
            log(f"import exited with {proc.returncode}")
            return 1
        temp_files1, temp_bytes1, wal1 = pg_counters(pg.url)
        with psycopg.connect(pg.url) as conn:
            in_db = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
            sizes = conn.execute(
                "SELECT pg_total_relation_size('customers'), pg_relation_size('customers')"
            ).fetchone()

    # ---- parse `read N: C created, U updated, R rejected` and the reason lines
    match = re.search(r"read (\d+): (\d+) created, (\d+) updated, (\d+) rejected", output)
    if match is None:
        print(output[-3000:], file=sys.stderr)
        log("could not find the import summary in the output")
        return 1
    read, created, updated, rejected = (int(g) for g in match.groups())
    reasons = {
        m.group(2): int(m.group(1))
        for m in re.finditer(r"^\s+(\d+)\s+(\S.*?)\s*$", output[match.end() :], re.M)
    }
    import_backend = max(seen.backends.items(), key=lambda kv: kv[1].cpu, default=None)
    steps = phases(seen, import_backend[0], ended_at) if import_backend else []
    backend = import_backend[1] if import_backend else Backend()
    first_query = min(
        (s for (p, s) in seen.queries if import_backend and p == import_backend[0]),
        default=epoch0,
    )
    child_cpu = usage.ru_utime + usage.ru_stime
    other_cpu = max(0.0, busy - child_cpu - backend.cpu - me)
    peak_rss_mb = usage.ru_maxrss * 1024 / MB  # Linux: KiB

    checks = [
        ("created + updated + rejected == rows", created + updated + rejected == args.rows),
        ("read == rows", read == args.rows),
        ("created == planted good rows", created == expected.good),
        ("customers in database == created", in_db == created),
        *(
            (f"rejected as {kind} == planted ({n})", reasons.get(kind, 0) == n)
            for kind, n in expected.rejected.items()
        ),
    ]

    print()
    print(f"## import_csv: {args.rows:,} rows, {size_mb:.0f} MB CSV")
    print(code_line(measured))
    print()
    print(
        table(
            ["figure", "value", "target"],
            [
                ("wall time (s)", round(wall, 1), f"≤ {TARGET_SECONDS:.0f}"),
                ("rows/s", round(args.rows / wall), ""),
                ("importer peak RSS (MB, rusage)", round(peak_rss_mb), f"≤ {TARGET_RSS_MB:.0f}"),
                ("importer peak RSS (MB, polled)", round(seen.child_rss / MB), ""),
                ("importer CPU (s, user+sys)", round(child_cpu, 1), ""),
                ("PG import backend CPU (s)", round(backend.cpu, 1), ""),
                ("other processes' CPU meanwhile (s)", round(other_cpu, 1), "(noise)"),
                ("PG import backend peak RSS (MB)", round(backend.rss / MB), "(separate)"),
                ("PG import backend peak private/USS (MB)", round(backend.uss / MB), ""),
                ("PG all processes peak RSS (MB)", round(seen.pg_total_rss / MB), ""),
                (
                    "PG temp files / MB",
                    f"{temp_files1 - temp_files0} / {(temp_bytes1 - temp_bytes0) / 1e6:.0f}",
                    "",
                ),
                ("WAL written (MB)", round((wal1 - wal0) / 1e6), ""),
                (
                    "customers table + indexes (MB)",
                    f"{sizes[0] / 1e6:.0f} (heap {sizes[1] / 1e6:.0f})",
                    "",
                ),
            ],
        )
    )
    print()
    print(
        table(
            ["phase", "seconds"],
            [
                ("process start → first query (imports, tenant)", round(first_query - epoch0, 1)),
                *((name, round(seconds, 1)) for name, seconds in steps),
                ("total wall", round(wall, 1)),
            ],
        )
    )
    print()
    print(
        table(
            ["outcome", "count"],
            [
                ("read", read),
                ("created", created),
                ("updated", updated),
                ("rejected", rejected),
                *((f"  rejected: {k}", v) for k, v in sorted(reasons.items())),
            ],
        )
    )
    print()
    print(table(["check", "ok"], [(name, "yes" if ok else "NO") for name, ok in checks]))
    verdict = []
    if wall > TARGET_SECONDS:
        verdict.append(f"MISSES the {TARGET_SECONDS:.0f} s target")
    if peak_rss_mb > TARGET_RSS_MB:
        verdict.append(f"MISSES the {TARGET_RSS_MB:.0f} MB target")
    print()
    print("verdict:", "; ".join(verdict) if verdict else "meets both targets")
    if args.py_spy:
        print(f"profile (py-spy raw, collapsed stacks): {profile}")
        print(f"summarise: .venv/bin/python bench/pyspy_top.py {profile}")
    (OUT / "import_csv.json").write_text(
        json.dumps(
            {
                "rows": args.rows,
                "wall_s": wall,
                "rows_per_s": args.rows / wall,
                "peak_rss_mb": peak_rss_mb,
                "child_cpu_s": child_cpu,
                "pg_backend_cpu_s": backend.cpu,
                "pg_backend_rss_mb": backend.rss / MB,
                "pg_backend_uss_mb": backend.uss / MB,
                "other_cpu_s": other_cpu,
                "phases": steps,
                "created": created,
                "rejected": rejected,
                "reasons": reasons,
                "checks_ok": all(ok for _, ok in checks),
            },
            indent=2,
        )
    )
    with contextlib.suppress(OSError):
        csv_path.unlink()
        (work / "rejected.csv").unlink()
        work.rmdir()
    return 0 if all(ok for _, ok in checks) else 2


if __name__ == "__main__":
    sys.exit(main())
