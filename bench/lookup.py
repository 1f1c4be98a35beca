"""Benchmark: customer lookup by phone through the HTTP API, with 1,000,000 customers.

Starts a private embedded PostgreSQL in a temporary folder, migrates it, loads the tenant,
services and Kerala tree, imports 1,000,000 customers (through `import_csv`, so the import
path gets a smoke test too; `--load copy` writes them with a plain COPY instead), runs
VACUUM ANALYZE, then starts `sahaya serve` as a child process and drives it with `wrk`
(32 connections, 1 thread by default) for a warm-up and a measured run per scenario:

  * GET /livez                             — the bare endpoint: same server and middleware, no
                                              auth, no database
  * GET /api/v1/me                         — bearer auth only (principal cached in process)
  * GET /api/v1/customers/lookup?phone=…   — agent at `kerala` (every customer visible)
  * GET /api/v1/customers/lookup?phone=…   — agent at one taluk, numbers of that taluk

Phones are picked at random per request from a file, written as 09847…, +91 98470 …,
919847… and +919847…. Each scenario is run with --workers 1 and 2. The load generator
shares the machine's cores with the server and PostgreSQL; the CPU each of them used per
request is reported so the split is visible. Without `wrk` a Python (asyncio + httpx)
load generator is used, which costs far more CPU (figures are then lower bounds).

    .venv/bin/python bench/lookup.py
    .venv/bin/python bench/lookup.py --customers 100000 --duration 5 --warmup 2   # quick
    .venv/bin/python bench/lookup.py --py-spy /tmp/prof/bin/py-spy   # + server profile
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil
import psycopg

from _common import (
    OUT,
    REPO,
    SAHAYA,
    TENANT,
    CpuMeter,
    Postgres,
    clean_env,
    code_line,
    code_version,
    free_port,
    issue_token,
    log,
    median,
    prepare_database,
    private_postgres,
    py_spy,
    restore_sigint,
    stop_process_tree,
    table,
    wait_for_http,
    wait_until_quiet,
)
from _dataset import PREFIXES, e164, lookup_forms, national, taluks, write_customers_csv

LUA = Path(__file__).resolve().parent / "lookup.lua"
LOOKUP = "/api/v1/customers/lookup?phone="
SQL_LOOKUP = """SELECT c.*, n.* FROM customers c JOIN nodes n ON n.id = c.home_node_id
                WHERE c.tenant_id = %s AND c.phone_e164 = %s"""


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    lines: Path | None
    token: str | None
    expect: int


@dataclass
class Result:
    workers: int
    scenario: str
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    expected_status: int
    socket_errors: int
    server_cpu_us: float
    pg_cpu_us: float
    loadgen_cpu_us: float
    cpu_busy_pct: float
    pg_sessions_per_1k: float
    pg_xacts_per_req: float
    other_cpu_pct: float
    worker_split: str
    runs: int = 1
    rps_range: str = ""


# --------------------------------------------------------------------------- data


def load_with_import(pg: Postgres, tenant_id: uuid.UUID, rows: int, work: Path) -> float:
    from sahaya.customers.importing import import_csv

    csv_path = work / "customers.csv"
    started = time.perf_counter()
    write_customers_csv(csv_path, rows)
    log(f"wrote {rows:,} customers to CSV in {time.perf_counter() - started:.1f}s; importing")
    started = time.perf_counter()
    with psycopg.connect(pg.url) as conn:
        report = import_csv(
            conn, tenant_id=tenant_id, path=csv_path, report_path=work / "rejected.csv"
        )
        conn.commit()
    seconds = time.perf_counter() - started
    log(f"import_csv: {report.summary()} in {seconds:.1f}s")
    if report.created != rows or report.rejected:
        raise SystemExit(f"import smoke failed: expected {rows:,} created, got {report.summary()}")
    csv_path.unlink()
    return seconds


def load_with_copy(pg: Postgres, tenant_id: uuid.UUID, rows: int) -> float:
    places = taluks()
    rng = random.Random(20261123)
    started = time.perf_counter()
    now = datetime.now(UTC)
    with psycopg.connect(pg.url) as conn:
        node_ids = dict(
            conn.execute(
                "SELECT path, id FROM nodes WHERE tenant_id = %s AND level = 'sub_district'",
                (tenant_id,),
            ).fetchall()
        )
        with conn.cursor().copy(
            "COPY customers (id, tenant_id, name, phone_e164, home_node_id, language,"
            " verification, blocked, source, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(rows):
                place = places[rng.randrange(len(places))]
                copy.write_row(
                    (
                        uuid.uuid4(),
                        tenant_id,
                        f"Customer {i}",
                        e164(i),
                        node_ids[place.path],
                        "en",
                        "unverified",
                        False,
                        "bench",
                        now,
                        now,
                    )
                )
        conn.commit()
    seconds = time.perf_counter() - started
    log(f"COPY {rows:,} customers in {seconds:.1f}s")
    return seconds


def write_lines(path: Path, numbers: list[str]) -> Path:
    """URL-encoded lookups, cycling through the formats people type."""
    with path.open("w") as out:
        for k, number in enumerate(numbers):
            written = lookup_forms(number)[k % 4]
            out.write(quote(written, safe="") + "\n")
    return path


# --------------------------------------------------------------------------- load


def run_load(
    base: str, scenario: Scenario, *, seconds: float, args: argparse.Namespace
) -> tuple[dict[str, float], float]:
    """Run the load generator once; return its BENCH_JSON figures and its own CPU seconds."""
    extra = [str(scenario.lines)] if scenario.lines else []
    headers = [f"Authorization: Bearer {scenario.token}"] if scenario.token else []
    if args.loadgen == "wrk":
        command = [
            "wrk",
            f"--threads={args.threads}",
            f"--connections={args.connections}",
            f"--duration={max(1, round(seconds))}s",
            "--timeout=10s",
            "--latency",
            "--script",
            str(LUA),
            *(x for h in headers for x in ("--header", h)),
            base,
            "--",
            scenario.path,
            *extra,
        ]
    else:
        command = [
            sys.executable,
            str(Path(__file__).resolve().parent / "_pyload.py"),
            base + scenario.path,
            *extra,
            f"--connections={args.connections}",
            f"--duration={seconds}",
            *(x for h in headers for x in ("--header", h)),
        ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    line = next((x for x in output.splitlines() if x.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"load generator failed ({proc.returncode}):\n{output}")
    return json.loads(line.removeprefix("BENCH_JSON ")), usage.ru_utime + usage.ru_stime


def own_cpu(pid: int) -> dict[int, float]:
    """Own CPU seconds of a process and each of its descendants (per pid)."""
    found = {}
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return found
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        found[proc.pid] = t.user + t.system
    return found


def split(before: dict[int, float], after: dict[int, float]) -> str:
    """How the server's CPU divided between its processes, e.g. `51/49` (busiest first)."""
    deltas = sorted((v - before.get(pid, 0.0) for pid, v in after.items()), reverse=True)
    total = sum(deltas) or 1.0
    return "/".join(f"{100 * d / total:.0f}" for d in deltas if d > 0.02 * total)


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle (all processes, all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def measure_repeated(
    base: str,
    scenario: Scenario,
    workers: int,
    server: subprocess.Popen[bytes],
    pg: Postgres,
    args: argparse.Namespace,
) -> Result:
    """One warm-up, then `args.repeat` measured runs; every figure is the median."""
    runs = [
        measure(base, scenario, workers, server, pg, args, warmup=(i == 0))
        for i in range(max(1, args.repeat))
    ]
    if len(runs) == 1:
        return runs[0]
    out = Result(**asdict(runs[0]))
    for name, value in asdict(runs[0]).items():
        if isinstance(value, float):
            setattr(out, name, median([getattr(r, name) for r in runs]))
    for name in ("requests", "non_2xx", "socket_errors"):
        setattr(out, name, int(median([getattr(r, name) for r in runs])))
    out.runs = len(runs)
    out.worker_split = ", ".join(r.worker_split for r in runs)
    rates = sorted(r.rps for r in runs)
    out.rps_range = f"{rates[0]:,.0f}–{rates[-1]:,.0f}"
    return out


def pg_activity(conn: psycopg.Connection) -> tuple[int, int]:
    """Sessions opened and transactions ended so far in this database (pg_stat_database)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        """SELECT sessions, xact_commit + xact_rollback FROM pg_stat_database
           WHERE datname = current_database()"""
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def measure(
    base: str,
    scenario: Scenario,
    workers: int,
    server: subprocess.Popen[bytes],
    pg: Postgres,
    args: argparse.Namespace,
    *,
    warmup: bool = True,
) -> Result:
    if warmup and args.warmup > 0:
        run_load(base, scenario, seconds=args.warmup, args=args)
    if args.quiet_wait > 0:
        wait_until_quiet(args.quiet_wait)
    master = pg.postmaster()
    meter = CpuMeter(
        roots={"server": [psutil.Process(server.pid)], "pg": [master] if master else []}
    )
    with psycopg.connect(pg.url, autocommit=True) as conn:
        sessions0, xacts0 = pg_activity(conn)
        busy0 = busy_seconds()
        meter.start()
        own0 = own_cpu(server.pid)
        figures, loadgen_cpu = run_load(base, scenario, seconds=args.duration, args=args)
        own1 = own_cpu(server.pid)
        used = meter.stop()
        busy1 = busy_seconds()
        sessions1, xacts1 = pg_activity(conn)
    requests = int(figures["requests"])
    wall = figures["duration_us"] / 1e6
    per = 1e6 / max(1, requests)
    cores = psutil.cpu_count() or 1
    result = Result(
        workers=workers,
        scenario=scenario.name,
        requests=requests,
        rps=requests / wall,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        non_2xx=int(figures["status_errors"]),
        expected_status=scenario.expect,
        socket_errors=int(
            figures["connect_errors"]
            + figures["read_errors"]
            + figures["write_errors"]
            + figures["timeouts"]
        ),
        server_cpu_us=used["server"] * per,
        pg_cpu_us=used["pg"] * per,
        loadgen_cpu_us=loadgen_cpu * per,
        cpu_busy_pct=100 * (used["server"] + used["pg"] + loadgen_cpu) / (wall * cores),
        pg_sessions_per_1k=1000 * (sessions1 - sessions0) / max(1, requests),
        pg_xacts_per_req=(xacts1 - xacts0 - 2) / max(1, requests),
        other_cpu_pct=max(0.0, 100 * (busy1 - busy0 - sum(used.values()) - loadgen_cpu))
        / (wall * cores),
        worker_split=split(own0, own1),
    )
    log(
        f"workers={workers} {scenario.name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms,"
        f" p99 {result.p99_ms:.1f} ms, non-2xx {result.non_2xx}, errors {result.socket_errors},"
        f" other load {result.other_cpu_pct:.0f}%"
        + (f", worker CPU split {result.worker_split}" if workers > 1 else "")
    )
    return result


def sanity(base: str, tokens: dict[str, str], samples: dict[str, list[str]], taluk: str) -> None:
    """The scenarios really do what they claim before we time them."""
    with httpx.Client(base_url=base, timeout=5) as http:
        state = {"Authorization": f"Bearer {tokens['state']}"}
        local = {"Authorization": f"Bearer {tokens['taluk']}"}
        for number in samples["state"][:3]:
            for form in lookup_forms(number):
                response = http.get(LOOKUP + quote(form, safe=""), headers=state)
                assert response.status_code == 200, (form, response.text)
                assert response.json()["phone_e164"] == "+91" + number, response.text
        for number in samples["taluk"][:3]:
            response = http.get(LOOKUP + quote(number, safe=""), headers=local)
            assert response.status_code == 200, response.text
            assert response.json()["home_node"] == taluk, response.text
        outsider = next(n for n in samples["outside"])
        response = http.get(LOOKUP + quote(outsider, safe=""), headers=local)
        assert response.status_code == 404, f"taluk agent sees {outsider}: {response.text}"
        assert http.get("/livez").status_code == 200
        assert http.get("/api/v1/me", headers=state).status_code == 200


def statements_per_request(
    pg: Postgres, base: str, scenarios: list[Scenario], repeat: int = 20
) -> list[tuple[str, float, str]]:
    """Turn on log_statement=all briefly and count what each request sends to PostgreSQL."""
    log_file = pg.pgdata / "log"
    found = []
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
        try:
            with httpx.Client(base_url=base, timeout=5) as http:
                for scenario in scenarios:
                    headers = (
                        {"Authorization": f"Bearer {scenario.token}"} if scenario.token else {}
                    )
                    suffixes = (
                        scenario.lines.read_text().split()[:repeat] if scenario.lines else [""]
                    )
                    http.get(scenario.path + suffixes[0], headers=headers)  # warm the cache
                    time.sleep(0.3)
                    offset = log_file.stat().st_size
                    for k in range(repeat):
                        http.get(scenario.path + suffixes[k % len(suffixes)], headers=headers)
                    time.sleep(0.5)
                    with log_file.open("rb") as handle:
                        handle.seek(offset)
                        text = handle.read().decode(errors="replace")
                    kinds: dict[str, int] = {}
                    for stmt in logged_statements(text):
                        key = " ".join(stmt.split())[:48]
                        kinds[key] = kinds.get(key, 0) + 1
                    total = sum(kinds.values())
                    detail = "; ".join(f"{v / repeat:g}× {k}" for k, v in kinds.items()) or "-"
                    found.append((scenario.name, total / repeat, detail))
        finally:
            conn.execute("ALTER SYSTEM RESET log_statement")
            conn.execute("SELECT pg_reload_conf()")
    return found


def logged_statements(text: str) -> list[str]:
    """Statements in a PostgreSQL log excerpt (log_statement = all): simple-protocol
    `statement: …` and extended-protocol `execute <name>: …`; continuation lines (a
    statement written over several lines) start with a tab."""
    found: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if current is not None and line.startswith("\t"):
            current.append(line.strip())
            continue
        if current is not None:
            found.append(" ".join(current).strip())
            current = None
        if "LOG:  statement: " in line:
            current = [line.split("LOG:  statement: ", 1)[1]]
        elif "LOG:  execute " in line:
            current = [line.split("LOG:  execute ", 1)[1].split(": ", 1)[-1]]
    if current is not None:
        found.append(" ".join(current).strip())
    return found


def direct_sql(pg: Postgres, tenant_id: uuid.UUID, numbers: list[str], seconds: float) -> float:
    """Reference: the same join query from one synchronous psycopg connection, in a loop."""
    with psycopg.connect(pg.url, autocommit=True) as conn:
        done = 0
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        while time.perf_counter() < deadline:
            for number in numbers[done % len(numbers) : done % len(numbers) + 200]:
                conn.execute(SQL_LOOKUP, (tenant_id, "+91" + number)).fetchone()
                done += 1
        return done / (time.perf_counter() - started)


def start_server(
    pg: Postgres,
    workers: int,
    work: Path,
    *,
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
    label: str = "sahaya serve",
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the web server (by default `sahaya serve`) on a free port; wait for /healthz."""
    port = free_port()
    full_env = clean_env(
        SAHAYA_DATABASE_URL=pg.url,
        SAHAYA_DEFAULT_TENANT=TENANT,
        SAHAYA_VAR_DIR=str(work),
        SAHAYA_LOG_LEVEL="WARNING",
        **(env or {}),
    )
    argv = command or [str(SAHAYA), "serve"]
    argv = [*argv, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    log_path = OUT / f"lookup-serve-w{workers}.log"
    with log_path.open("wb") as out:
        server = subprocess.Popen(
            argv, env=full_env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    seconds = wait_for_http(base + "/healthz", timeout=60, proc=server)
    log(f"{label} --workers {workers} answered /healthz after {seconds:.1f}s")
    return server, base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--load", choices=("import", "copy"), default="import")
    parser.add_argument("--workers", default="1,2", help="comma-separated --workers values")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--repeat", type=int, default=1, help="measured runs; medians shown")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="before each measured run, wait up to this many seconds for other load to stop",
    )
    parser.add_argument("--taluk", default="kerala/ernakulam/kochi")
    parser.add_argument("--loadgen", choices=("wrk", "python"), default=None)
    parser.add_argument("--py-spy", help="py-spy binary: profile the lookup at workers=1")
    args = parser.parse_args()
    restore_sigint()
    args.code = code_version()
    if args.loadgen is None:
        args.loadgen = "wrk" if shutil.which("wrk") else "python"
        if args.loadgen == "python":
            log("wrk not found: using the Python load generator (it costs much more CPU)")
    if args.customers > 1_000_000 * len(PREFIXES):
        parser.error("too many customers")
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sahaya-bench-lookup-data-"))
    results: list[Result] = []
    info: dict[str, object] = {}
    try:
        with private_postgres("sahaya-bench-lookup-", fast_and_unsafe=True) as pg:
            tenant_id = prepare_database(pg.url)
            if args.load == "import":
                info["load_seconds"] = load_with_import(pg, tenant_id, args.customers, work)
            else:
                info["load_seconds"] = load_with_copy(pg, tenant_id, args.customers)
            with psycopg.connect(pg.url, autocommit=True) as conn:
                started = time.perf_counter()
                conn.execute("VACUUM (ANALYZE) customers")
                info["vacuum_analyze_seconds"] = time.perf_counter() - started
                info["customers"] = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
                taluk_numbers = [
                    r[0][3:]
                    for r in conn.execute(
                        """SELECT c.phone_e164 FROM customers c
                           JOIN nodes n ON n.id = c.home_node_id WHERE n.path = %s""",
                        (args.taluk,),
                    )
                ]
                outside = conn.execute(
                    """SELECT c.phone_e164 FROM customers c JOIN nodes n ON n.id = c.home_node_id
                       WHERE n.path <> %s LIMIT 1""",
                    (args.taluk,),
                ).fetchone()[0]
                plan = conn.execute(
                    "EXPLAIN (ANALYZE, BUFFERS) " + SQL_LOOKUP, (tenant_id, e164(12345))
                ).fetchall()
                info["plan"] = [r[0] for r in plan]
                info["table_mb"] = (
                    conn.execute("SELECT pg_total_relation_size('customers')").fetchone()[0] / 1e6
                )
            rng = random.Random(7)
            state_numbers = [
                national(i) for i in rng.sample(range(args.customers), min(100_000, args.customers))
            ]
            rng.shuffle(taluk_numbers)
            samples = {"state": state_numbers, "taluk": taluk_numbers, "outside": [outside]}
            tokens = {
                "state": issue_token(pg.url, tenant_id, "agent", "kerala"),
                "taluk": issue_token(pg.url, tenant_id, "agent", args.taluk),
            }
            state_lines = write_lines(work / "state.txt", state_numbers)
            taluk_lines = write_lines(work / "taluk.txt", taluk_numbers)
            info["taluk_customers"] = len(taluk_numbers)
            scenarios = [
                Scenario("GET /livez (bare, no DB)", "/livez", None, None, 200),
                Scenario("GET /api/v1/me (auth only)", "/api/v1/me", None, tokens["state"], 200),
                Scenario("lookup, agent at kerala", LOOKUP, state_lines, tokens["state"], 200),
                Scenario(
                    f"lookup, agent at {args.taluk}", LOOKUP, taluk_lines, tokens["taluk"], 200
                ),
            ]
            info["direct_sql_qps_1conn"] = direct_sql(pg, tenant_id, state_numbers, 5.0)
            for workers in (int(w) for w in args.workers.split(",")):
                server, base = start_server(pg, workers, work)
                try:
                    sanity(base, tokens, samples, args.taluk)
                    if workers == 1:
                        info["statements"] = statements_per_request(pg, base, scenarios)
                    for scenario in scenarios:
                        results.append(measure_repeated(base, scenario, workers, server, pg, args))
                    if workers == 1 and args.py_spy:
                        profile(args, base, scenarios[1], server, "me")
                        profile(args, base, scenarios[2], server, "lookup")
                finally:
                    code = stop_process_tree(server)
                    log(f"server (workers={workers}) stopped, exit code {code}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results, info, args)
    return 0


def profile(
    args: argparse.Namespace,
    base: str,
    scenario: Scenario,
    server: subprocess.Popen[bytes],
    tag: str,
) -> None:
    """Record the server under load with py-spy (separately: py-spy takes CPU too)."""
    out = OUT / f"lookup.{tag}.pyspy.txt"
    spy = py_spy(args.py_spy, server.pid, args.duration, out)
    figures, _ = run_load(base, scenario, seconds=args.duration, args=args)
    spy.wait(timeout=60)
    log(
        f"profiled {scenario.name} ({figures['requests'] / figures['duration_us'] * 1e6:,.0f}"
        f" req/s under py-spy) -> {out}; summarise with bench/pyspy_top.py {out}"
    )


def report(results: list[Result], info: dict[str, object], args: argparse.Namespace) -> None:
    print()
    print(
        f"## lookup: {info['customers']:,} customers ({info['table_mb']:.0f} MB with indexes), "
        f"loadgen {args.loadgen} {args.connections} connections"
        + (f" × {args.threads} thread(s)" if args.loadgen == "wrk" else "")
        + f", {args.duration:g}s after {args.warmup:g}s warm-up"
        + (f", median of {args.repeat} runs" if args.repeat > 1 else "")
        + f", {psutil.cpu_count()} cores shared"
    )
    print(code_line(args.code))
    print()
    print(
        table(
            [
                "workers",
                "scenario",
                "req/s",
                "req/s range",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "non-2xx",
                "sock err",
                "server CPU µs/req",
                "PG CPU µs/req",
                "wrk CPU µs/req",
                "CPU busy %",
                "new PG conns /1k req",
                "PG statements /req",
                "other procs CPU %",
                "server CPU split %",
            ],
            [
                (
                    r.workers,
                    r.scenario,
                    round(r.rps),
                    r.rps_range or "-",
                    r.p50_ms,
                    r.p90_ms,
                    r.p99_ms,
                    r.max_ms,
                    f"{r.non_2xx:,}" + (" (all 404, expected)" if r.expected_status == 404 else ""),
                    r.socket_errors,
                    round(r.server_cpu_us),
                    round(r.pg_cpu_us),
                    round(r.loadgen_cpu_us),
                    round(r.cpu_busy_pct),
                    round(r.pg_sessions_per_1k, 1),
                    round(r.pg_xacts_per_req, 2),
                    round(r.other_cpu_pct),
                    r.worker_split,
                )
                for r in results
            ],
        )
    )
    print()
    print(
        table(
            ["reference", "value"],
            [
                ("load (s)", f"{info['load_seconds']:.1f} ({args.load})"),
                ("VACUUM ANALYZE (s)", f"{info['vacuum_analyze_seconds']:.1f}"),
                ("customers of the taluk", info["taluk_customers"]),
                ("same SQL, 1 sync psycopg conn (queries/s)", round(info["direct_sql_qps_1conn"])),
            ],
        )
    )
    statements = info.get("statements")
    if statements:
        print()
        print(
            table(
                ["scenario (workers=1)", "SQL statements/request", "which"],
                [(n, f"{c:g}", d) for n, c, d in statements],
            )
        )
    print()
    print("plan: " + "\n      ".join(str(x) for x in info["plan"]))
    bad = [
        r
        for r in results
        if r.socket_errors or (r.expected_status == 200 and r.non_2xx) or r.requests == 0
    ]
    if bad:
        print("\nWARNING: errors in " + ", ".join(f"{r.scenario} (w={r.workers})" for r in bad))
    (OUT / "lookup.json").write_text(
        json.dumps({"results": [asdict(r) for r in results], "info": info}, indent=2, default=str)
    )


if __name__ == "__main__":
    sys.exit(main())
