"""Benchmark: 100,000 SLA timers falling due within one minute, fired by two workers.

Starts a private embedded PostgreSQL (default settings, fsync on), migrates it, loads the
tenant, services and Kerala tree, and COPYs `--clocks` open critical tickets on the 78
taluks (each has a parent district) with their `sla_ticket_clocks` rows: answered already
(`first_responded_at` set, no first-response deadline), the resolution warning fired in the
past (`res_warned_at` set), so only the breach is left; `level = 'sub_district'`. The due
times are parked far in the future while two `sahaya worker` processes start; once both
run, one UPDATE spreads `res_due_at` (= `next_fire_at`) uniformly over
[t0 + `--lead`, t0 + `--lead` + `--spread`] seconds (default [t0+20 s, t0+80 s]).

Each breach makes the periodic sweep (`tickets.sla-sweep`, every second, batches of 500
clocks per transaction) write an `sla_breach` event, escalate the ticket to its district
(`escalated` event), queue a notice to the leads (a supervisor with an email on the
state and on each district) and restart its clocks there — which clears `res_breached_at` again,
so the fire time is read from the events: `created_at` is the `now` of the sweep batch
that fired it. Reported:

  * fire lag = `sla_breach.created_at − res_due_at` (p50/p99/max; target p99 ≤ 2 s), and
    the lag until the batch was committed and visible (polled every `--poll` s);
  * the rate fired per second while behind, the backlog over time;
  * CPU of the two workers and of PostgreSQL, what PostgreSQL's backends were doing;
  * double escalations: `SELECT ticket_id, count(*) FROM ticket_events WHERE
    action = 'escalated' GROUP BY 1 HAVING count(*) > 1` (must be empty);
  * SQL statements and Python CPU per fired clock, from running one sweep batch
    in-process afterwards.

    .venv/bin/python bench/sla_timers.py                       # ≈ 3–15 min
    .venv/bin/python bench/sla_timers.py --quick               # 10,000 clocks
    .venv/bin/python bench/sla_timers.py --py-spy /tmp/prof/bin/py-spy   # + worker profiles
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
    log,
    prepare_database,
    private_postgres,
    py_spy,
    restore_sigint,
    stop_process_tree,
    table,
)
from _dataset import taluks
from tickets_intake import (
    Complaints,
    WaitSampler,
    busy_seconds,
    continue_numbering,
    wait_for_turn,
)

FAR = datetime(2100, 1, 1, tzinfo=UTC)
DOUBLE = """SELECT ticket_id, count(*) FROM ticket_events WHERE action = 'escalated'
            GROUP BY 1 HAVING count(*) > 1"""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


# --------------------------------------------------------------------------- data


def load(
    pg: Postgres,
    tenant_id: uuid.UUID,
    count: int,
    *,
    lead: float,
    spread: float,
    first_number: int = 1,
    due_now: bool = False,
) -> float:
    """COPY `count` open critical tickets and their clocks (due times parked at FAR +
    offset, or already due with `due_now`). Returns seconds."""
    rng = random.Random(first_number)
    places = taluks()
    words = Complaints(first_number)
    now = datetime.now(UTC)
    opened = now - timedelta(hours=5)
    offsets = [lead + spread * i / max(1, count - 1) for i in range(count)]
    rng.shuffle(offsets)
    started = time.perf_counter()
    with psycopg.connect(pg.url) as conn:
        nodes = dict(
            conn.execute(
                "SELECT path, id FROM nodes WHERE tenant_id = %s AND level = 'sub_district'",
                (tenant_id,),
            ).fetchall()
        )
        ids = [uuid.uuid4() for _ in range(count)]
        with conn.cursor().copy(
            """COPY tickets (id, tenant_id, number, service_code, channel, node_id, subject,
               severity, status, tags, contact_name, custom_fields, approval, created_at,
               updated_at, first_responded_at) FROM STDIN"""
        ) as copy:
            for i, ticket_id in enumerate(ids):
                place = places[rng.randrange(len(places))]
                copy.write_row(
                    (
                        ticket_id,
                        tenant_id,
                        f"AF-{first_number + i:06d}",
                        "apnafood",
                        "voice",
                        nodes[place.path],
                        words.subject(),
                        "critical",
                        "open",
                        [],
                        "Bench Customer",
                        "{}",
                        "not_needed",
                        opened,
                        opened,
                        opened + timedelta(minutes=10),
                    )
                )
        with conn.cursor().copy(
            """COPY sla_ticket_clocks (ticket_id, tenant_id, severity, started_at, pauses,
               first_responded_at, res_due_at, res_warn_at, res_warned_at, next_fire_at,
               level, escalations) FROM STDIN"""
        ) as copy:
            for ticket_id, offset in zip(ids, offsets, strict=True):
                due = (now - timedelta(seconds=1)) if due_now else FAR + timedelta(seconds=offset)
                copy.write_row(
                    (
                        ticket_id,
                        tenant_id,
                        "critical",
                        opened,
                        "[]",
                        opened + timedelta(minutes=10),
                        due,
                        now - timedelta(seconds=60),
                        now - timedelta(seconds=30),
                        due,
                        "sub_district",
                        0,
                    )
                )
        continue_numbering(conn, tenant_id, "AF", first_number + count - 1)
        if first_number == 1:
            add_leads(conn, tenant_id)
        conn.commit()
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) tickets, sla_ticket_clocks")
    seconds = time.perf_counter() - started
    log(f"COPY {count:,} tickets + clocks in {seconds:.1f}s")
    return seconds


def add_leads(conn: psycopg.Connection[Any], tenant_id: uuid.UUID) -> None:
    """A supervisor with an email on the state and on every district: each escalation
    then also queues its notices to the leads, as in production."""
    conn.execute(
        """INSERT INTO users (id, tenant_id, username, display_name, email, role, node_id,
                              active, created_at)
           SELECT gen_random_uuid(), tenant_id, 'lead-' || replace(path, '/', '-'),
                  'Lead ' || name, 'lead-' || replace(path, '/', '-') || '@example.org',
                  'supervisor', id, true, now()
           FROM nodes WHERE tenant_id = %s AND level IN ('state', 'district')""",
        (tenant_id,),
    )


# --------------------------------------------------------------------------- workers


def start_workers(
    pg: Postgres, n: int, var_dir: Path, concurrency: int | None
) -> list[subprocess.Popen[bytes]]:
    env = clean_env(
        SAHAYA_DATABASE_URL=pg.url,
        SAHAYA_DEFAULT_TENANT=TENANT,
        SAHAYA_VAR_DIR=str(var_dir),
        SAHAYA_LOG_LEVEL="INFO",
    )
    argv = [str(SAHAYA), "worker"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    procs: list[subprocess.Popen[bytes]] = []
    logs = [OUT / f"sla_timers-worker{k + 1}.log" for k in range(n)]
    try:
        for path in logs:
            with path.open("wb") as out:
                procs.append(
                    subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
                )
        deadline = time.perf_counter() + 90
        while not all("worker started" in p.read_text(errors="replace") for p in logs):
            if time.perf_counter() > deadline:
                raise TimeoutError("workers did not start within 90 s")
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a worker exited with {proc.returncode}, see {logs}")
            time.sleep(0.2)
    except BaseException:
        for proc in procs:
            stop_process_tree(proc)
        raise
    log(f"{n} workers started")
    return procs


# --------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    clocks: int
    fired: int
    seconds_to_all: float
    lag_p50_s: float
    lag_p99_s: float
    lag_max_s: float
    visible_lag_p50_s: float
    visible_lag_p99_s: float
    visible_lag_max_s: float
    unobserved_batches: int
    mean_rate_per_s: float
    peak_rate_per_s: float
    batches: int
    worker_cpu_s: float
    pg_cpu_s: float
    worker_cpu_ms_per_clock: float
    pg_cpu_ms_per_clock: float
    wall_s: float
    cpu_busy_pct: float
    other_cpu_pct: float
    double_escalations: int
    breaches: int
    escalations: int
    at_district: int
    lead_notices: int
    timed_out: bool


def arm(pg: Postgres) -> datetime:
    """Move every parked due time to now() + its offset; returns now() (t0)."""
    with psycopg.connect(pg.url) as conn:
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None
        conn.execute(
            """UPDATE sla_ticket_clocks
               SET res_due_at = now() + (res_due_at - %(far)s),
                   next_fire_at = now() + (next_fire_at - %(far)s)
               WHERE res_due_at >= %(far)s""",
            {"far": FAR},
        )
        conn.commit()
    return row[0]


def watch(
    pg: Postgres, t0: datetime, count: int, args: argparse.Namespace, spy: list[Any]
) -> tuple[dict[datetime, datetime], list[tuple[float, int]], bool]:
    """Poll for committed escalation batches (one sweep transaction = one `now`, written as
    every event's created_at) until all `count` fired or the timeout. Returns, per batch,
    when it was first seen; the (seconds since t0, fired so far) timeline; timed out?"""
    seen: dict[datetime, datetime] = {}
    fired = 0
    timeline: list[tuple[float, int]] = []
    low = 0
    deadline = time.time() + args.timeout
    profile_at = t0.timestamp() + args.lead + 10
    with psycopg.connect(pg.url, autocommit=True) as conn:
        while True:
            polled = datetime.now(UTC)
            rows = conn.execute(
                """SELECT created_at, count(*), max(seq) FROM ticket_events
                   WHERE seq > %s AND action = 'escalated' GROUP BY 1""",
                (low,),
            ).fetchall()
            top = low
            for created, n, seq in rows:
                top = max(top, int(seq))
                if created not in seen:
                    seen[created] = polled
                    fired += int(n)
            low = max(low, top - 20_000)  # a window: late commits of older batches
            timeline.append(((polled - t0).total_seconds(), fired))
            if spy and time.time() >= profile_at and spy[0] is None:
                spy[0] = start_profiles(args, spy[1])
            if fired >= count:
                return seen, timeline, False
            if time.time() > deadline:
                return seen, timeline, True
            time.sleep(args.poll)


def start_profiles(args: argparse.Namespace, workers: list[Any]) -> list[Any]:
    procs = []
    for k, proc in enumerate(workers):
        out = OUT / f"sla_timers.worker{k + 1}.pyspy.txt"
        procs.append(py_spy(args.py_spy, proc.pid, args.profile_seconds, out, rate=100))
    log(f"py-spy recording both workers for {args.profile_seconds}s")
    return procs


def outcome(
    pg: Postgres,
    t0: datetime,
    count: int,
    seen: dict[datetime, datetime],
    timeline: list[tuple[float, int]],
    timed_out: bool,
    used: dict[str, float],
    wall: float,
    busy: float,
) -> tuple[Outcome, list[tuple[str, ...]]]:
    with psycopg.connect(pg.url) as conn:
        rows = conn.execute(
            """SELECT ticket_id, created_at, (changes->>'due_at')::timestamptz
               FROM ticket_events WHERE action = 'sla_breach'"""
        ).fetchall()
        double = conn.execute(DOUBLE).fetchall()
        escalations = conn.execute(
            "SELECT count(*) FROM ticket_events WHERE action = 'escalated'"
        ).fetchone()
        district = conn.execute(
            """SELECT count(*) FROM sla_ticket_clocks k JOIN tickets t ON t.id = k.ticket_id
               JOIN nodes n ON n.id = t.node_id
               WHERE k.level = 'district' AND k.escalations = 1 AND n.level = 'district'"""
        ).fetchone()
        notices = conn.execute(
            "SELECT count(*) FROM outbox_messages WHERE template = 'staff_notice'"
        ).fetchone()
        assert escalations is not None
        assert district is not None
        assert notices is not None
    lags = [(created - due).total_seconds() for _, created, due in rows]
    visible = [(seen[created] - due).total_seconds() for _, created, due in rows if created in seen]
    unobserved = len({created for _, created, _ in rows if created not in seen})
    first_due = t0 + timedelta(seconds=min((d - t0).total_seconds() for *_, d in rows))
    last = max(seen.values()) if seen else t0
    active = max(0.001, (last - first_due).total_seconds())
    # Fired per ~5 s window (by commit time), and the backlog: due so far − fired so far.
    windows: list[tuple[str, ...]] = []
    dues = sorted((d - t0).total_seconds() for *_, d in rows)
    peak = 0.0
    prev_t, prev_n = 0.0, 0
    for t, n in timeline:
        if t - prev_t < 5.0 and n < count and (t, n) != timeline[-1]:
            continue
        rate = (n - prev_n) / max(0.001, t - prev_t)
        peak = max(peak, rate)
        due_so_far = sum(1 for d in dues if d <= t)
        windows.append(
            (
                f"{prev_t:.0f}–{t:.0f}",
                f"{due_so_far:,}",
                f"{n:,}",
                f"{due_so_far - n:,}",
                f"{rate:,.0f}",
            )
        )
        prev_t, prev_n = t, n
        if n >= count:
            break
    cores = psutil.cpu_count() or 1
    result = Outcome(
        clocks=count,
        fired=len(rows),
        seconds_to_all=(last - t0).total_seconds(),
        lag_p50_s=percentile(lags, 50),
        lag_p99_s=percentile(lags, 99),
        lag_max_s=max(lags) if lags else float("nan"),
        visible_lag_p50_s=percentile(visible, 50),
        visible_lag_p99_s=percentile(visible, 99),
        visible_lag_max_s=max(visible) if visible else float("nan"),
        unobserved_batches=unobserved,
        mean_rate_per_s=len(rows) / active,
        peak_rate_per_s=peak,
        batches=len(seen),
        worker_cpu_s=used["workers"],
        pg_cpu_s=used["pg"],
        worker_cpu_ms_per_clock=1000 * used["workers"] / max(1, len(rows)),
        pg_cpu_ms_per_clock=1000 * used["pg"] / max(1, len(rows)),
        wall_s=wall,
        cpu_busy_pct=100 * (used["workers"] + used["pg"]) / (wall * cores),
        other_cpu_pct=max(0.0, 100 * (busy - used["workers"] - used["pg"]) / (wall * cores)),
        double_escalations=len(double),
        breaches=len(rows),
        escalations=int(escalations[0]),
        at_district=int(district[0]),
        lead_notices=int(notices[0]),
        timed_out=timed_out,
    )
    return result, windows


def per_clock_cost(pg: Postgres, tenant_id: uuid.UUID, batch: int, first_number: int) -> dict:
    """One sweep batch in this process: SQL statements and CPU per fired clock."""
    load(pg, tenant_id, batch, lead=0, spread=0, first_number=first_number, due_now=True)
    return asyncio.run(_per_clock_cost(pg.url, batch))


async def _per_clock_cost(url: str, batch: int) -> dict[str, Any]:
    from sqlalchemy import event

    from sahaya.persistence import Database, UnitOfWork
    from sahaya.tickets import escalation

    database = Database(url, pool_size=2)
    statements: dict[str, int] = {}

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        key = " ".join(statement.split())[:60]
        statements[key] = statements.get(key, 0) + 1

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        async with UnitOfWork(database) as uow:
            handled = await escalation.sweep(uow=uow, now=datetime.now(UTC), limit=batch)
            cpu1 = time.process_time()
            await uow.commit()
        cpu2, wall2 = time.process_time(), time.perf_counter()
    finally:
        await database.dispose()
    total = sum(statements.values())
    return {
        "handled": handled,
        "statements_per_clock": total / max(1, handled),
        "statements": {
            k: round(v / max(1, handled), 3)
            for k, v in sorted(statements.items(), key=lambda kv: -kv[1])
        },
        "python_cpu_ms_per_clock_fire": 1000 * (cpu1 - cpu0) / max(1, handled),
        "python_cpu_ms_per_clock_commit": 1000 * (cpu2 - cpu1) / max(1, handled),
        "wall_ms_per_clock": 1000 * (wall2 - wall0) / max(1, handled),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clocks", type=int, default=100_000)
    parser.add_argument("--lead", type=float, default=20.0, help="first due, s after t0")
    parser.add_argument("--spread", type=float, default=60.0, help="due times spread over, s")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, help="sahaya worker --concurrency")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after, s")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between polls")
    parser.add_argument("--unsafe", action="store_true", help="PostgreSQL with fsync off")
    parser.add_argument("--quick", action="store_true", help="10,000 clocks")
    parser.add_argument("--py-spy", help="py-spy binary: profile both workers while behind")
    parser.add_argument("--profile-seconds", type=int, default=20)
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    parser.add_argument("--wait-others", type=float, default=1800.0)
    args = parser.parse_args()
    if args.quick:
        args.clocks = 10_000
    restore_sigint()
    args.code = code_version()
    OUT.mkdir(parents=True, exist_ok=True)
    wait_for_turn(args.wait_others, quiet=0)
    info: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="sahaya-bench-sla-var-") as var,
        private_postgres("sahaya-bench-sla-", fast_and_unsafe=args.unsafe) as pg,
    ):
        tenant_id = prepare_database(pg.url)
        info["load_seconds"] = load(pg, tenant_id, args.clocks, lead=args.lead, spread=args.spread)
        workers = start_workers(pg, args.workers, Path(var), args.concurrency)
        spy: list[Any] = []
        try:
            time.sleep(3)  # let the periodic deferrers settle
            info["waited_for_others_s"] = wait_for_turn(args.wait_others, args.quiet_wait)
            master = pg.postmaster()
            meter = CpuMeter(
                roots={
                    "workers": [psutil.Process(w.pid) for w in workers],
                    "pg": [master] if master else [],
                }
            )
            sampler = WaitSampler(pg.url, interval=0.1)
            meter.start()
            busy0 = busy_seconds()
            started = time.perf_counter()
            t0 = arm(pg)
            log(f"armed {args.clocks:,} clocks due {args.lead:g}–{args.lead + args.spread:g}s")
            sampler.start()
            if args.py_spy:
                spy = [None, workers]
            seen, timeline, timed_out = watch(pg, t0, args.clocks, args, spy)
            info["backends"] = sampler.stop()
            used = meter.stop()
            busy = busy_seconds() - busy0
            wall = time.perf_counter() - started
        finally:
            for proc in workers:
                code = stop_process_tree(proc)
                log(f"worker {proc.pid} stopped, exit code {code}")
            if spy and spy[0]:
                for proc in spy[0]:
                    proc.wait(timeout=120)
        result, windows = outcome(pg, t0, args.clocks, seen, timeline, timed_out, used, wall, busy)
        info["per_clock"] = per_clock_cost(pg, tenant_id, 500, args.clocks + 1)
    if spy and spy[0]:
        info["profiles"] = summarise_profiles(len(spy[0]))
    report(result, windows, info, args)
    return 0


def summarise_profiles(n: int) -> list[str]:
    outs = []
    for k in range(n):
        path = OUT / f"sla_timers.worker{k + 1}.pyspy.txt"
        done = subprocess.run(
            [sys.executable, str(REPO / "bench" / "pyspy_top.py"), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        outs.append(done.stdout)
        (OUT / f"sla_timers.worker{k + 1}.pyspy-top.txt").write_text(done.stdout)
    return outs


def report(
    r: Outcome, windows: list[tuple[str, ...]], info: dict[str, Any], args: argparse.Namespace
) -> None:
    print()
    print(
        f"## SLA timers: {r.clocks:,} breaches due over {args.spread:g}s"
        f" (from t0+{args.lead:g}s), {args.workers} × sahaya worker"
        + (f" --concurrency {args.concurrency}" if args.concurrency else "")
        + f", PostgreSQL fsync {'off' if args.unsafe else 'on'}, {psutil.cpu_count()} cores"
    )
    print(code_line(args.code))
    print()
    print(
        table(
            ["figure", "value", "target"],
            [
                ("clocks fired (sla_breach events)", f"{r.fired:,} of {r.clocks:,}", ""),
                (
                    "all fired after t0 (s)",
                    f"{r.seconds_to_all:.1f}" + (" (TIMED OUT)" if r.timed_out else ""),
                    f"≈ {args.lead + args.spread:g}",
                ),
                ("fire lag p50 (s)", f"{r.lag_p50_s:.2f}", ""),
                ("fire lag p99 (s)", f"{r.lag_p99_s:.2f}", "≤ 2"),
                ("fire lag max (s)", f"{r.lag_max_s:.2f}", ""),
                (
                    "lag until committed/visible p50 / p99 / max (s)",
                    f"{r.visible_lag_p50_s:.2f} / {r.visible_lag_p99_s:.2f} /"
                    f" {r.visible_lag_max_s:.2f}",
                    "",
                ),
                ("rate needed (clocks/s)", f"{r.clocks / args.spread:,.0f}", ""),
                ("rate fired, mean while behind (clocks/s)", f"{r.mean_rate_per_s:,.0f}", ""),
                ("rate fired, best 5 s (clocks/s)", f"{r.peak_rate_per_s:,.0f}", ""),
                ("sweep transactions (batches)", f"{r.batches:,}", ""),
                (
                    "workers CPU (s) / ms per clock",
                    f"{r.worker_cpu_s:.1f} / {r.worker_cpu_ms_per_clock:.2f}",
                    "",
                ),
                (
                    "PostgreSQL CPU (s) / ms per clock",
                    f"{r.pg_cpu_s:.1f} / {r.pg_cpu_ms_per_clock:.2f}",
                    "",
                ),
                ("both cores busy with workers + PostgreSQL (%)", f"{r.cpu_busy_pct:.0f}", ""),
                (
                    "other CPU meanwhile, incl. this script's poller (%)",
                    f"{r.other_cpu_pct:.0f}",
                    "",
                ),
                (
                    "escalated events / at district, escalations = 1",
                    f"{r.escalations:,} / {r.at_district:,}",
                    "",
                ),
                ("notices queued to leads (state + district)", f"{r.lead_notices:,}", ""),
                ("double escalations", f"{r.double_escalations}", "0"),
            ],
        )
    )
    print()
    print(table(["s after t0", "due so far", "fired so far", "backlog", "fired/s"], windows))
    print()
    print("PostgreSQL client backends while firing (mean number in each state, every 100 ms):")
    print("  " + "; ".join(f"{v:g} {k}" for k, v in info["backends"].items()))
    cost = info["per_clock"]
    print()
    print(
        f"One sweep batch in-process ({cost['handled']} clocks, no contention):"
        f" {cost['statements_per_clock']:.3f} SQL statements per clock,"
        f" Python CPU {cost['python_cpu_ms_per_clock_fire']:.2f} ms per clock to fire +"
        f" {cost['python_cpu_ms_per_clock_commit']:.2f} ms to flush/commit,"
        f" wall {cost['wall_ms_per_clock']:.2f} ms per clock"
    )
    for text, n in cost["statements"].items():
        print(f"  {n:6.3f} × {text}")
    for k, text in enumerate(info.get("profiles", [])):
        print(f"\npy-spy, worker {k + 1} (top of bench/pyspy_top.py):")
        print("\n".join(text.splitlines()[:40]))
    (OUT / "sla_timers.json").write_text(
        json.dumps(
            {"outcome": asdict(r), "windows": windows, "info": info, "code": args.code},
            indent=2,
            default=str,
        )
    )
    if r.double_escalations or r.timed_out or r.lag_p99_s > 2:
        print("\nWARNING: target missed (see above)")


if __name__ == "__main__":
    sys.exit(main())
