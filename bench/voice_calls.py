"""Benchmark: Exotel's call-flow webhooks (gate, dial, outcome) with 10,000 and 1,000,000
registered customers and the whole Kerala tree staffed, at concurrency 32.

For each size: a private embedded PostgreSQL (default settings, fsync on), migrations, the
tenant and Kerala tree, `--customers` customers by COPY (uniform over the 78 taluks), a
franchisee on every node with two executives (one at the state) on shift around the clock,
an Exotel account; then `sahaya serve --workers 2`. The load comes from this script: an
asyncio HTTP/1.1 keep-alive client written for the job (a few dozen µs of CPU per request;
wrk cannot time the steps of a call separately), `--connections` virtual callers in a
closed loop, each on its own connection. Runs, each after a warm-up:

  * bare     — `GET /livez`: the same server and middleware, no database;
  * gate     — `GET /webhooks/exotel/gate` alone, a new CallSid each time (writes a call row);
  * call     — whole calls: gate → dial → outcome (answered by the first number offered, or
               not connected when nobody is free), timed per step;
  * paced    — the same whole calls in an open loop: `--rate` new calls per second (default
               100, i.e. 360,000 an hour) on at most `--connections` connections — the
               latency at a given load rather than at saturation.

Callers' numbers are real customers' written as Exotel sends them (`0…`, bare 10 digits,
`+91…`), 5 % unknown numbers (the gate hangs up on them: 302). Reported per size: requests/s
and latency percentiles per endpoint, gate and dial throughput as a share of bare, how many
dial lists were non-empty, server/PostgreSQL/client CPU per request; then the p99 ratio
between the two sizes (target: gate and dial p99 ≤ 20 ms, ≥ 40 % of bare, sizes within 20 %).

    .venv/bin/python bench/voice_calls.py                 # ≈ 4 min
    .venv/bin/python bench/voice_calls.py --quick         # 10,000 / 100,000, 5 s runs
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg

from _common import (
    OUT,
    Connection,
    CpuMeter,
    Postgres,
    code_line,
    code_version,
    log,
    median,
    prepare_database,
    private_postgres,
    restore_sigint,
    stop_process_tree,
    table,
)
from _dataset import e164
from sahaya.network.domain import WeeklyHours
from tickets_intake import busy_seconds, copy_customers, start_serve, wait_for_turn

ALWAYS = WeeklyHours.always().to_mapping()


def staff_tree(pg: Postgres, tenant_id: uuid.UUID) -> int:
    """A franchisee on every node; two executives each (one at the state), always on shift."""
    count = 0
    with psycopg.connect(pg.url) as conn:
        nodes = conn.execute(
            "SELECT id, level, name FROM nodes WHERE tenant_id = %s ORDER BY path", (tenant_id,)
        ).fetchall()
        for node_id, level, name in nodes:
            franchisee = uuid.uuid4()
            conn.execute(
                "INSERT INTO franchisees (id, tenant_id, name) VALUES (%s, %s, %s)",
                (franchisee, tenant_id, f"{name} franchisee"),
            )
            conn.execute("UPDATE nodes SET franchisee_id = %s WHERE id = %s", (franchisee, node_id))
            for rank in (1,) if level == "state" else (1, 2):
                count += 1
                conn.execute(
                    """INSERT INTO executives (id, tenant_id, franchisee_id, name, rank,
                       phone_e164, services, working_hours, timezone, availability)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'Asia/Kolkata', 'available')""",
                    (
                        uuid.uuid4(),
                        tenant_id,
                        franchisee,
                        f"{name} #{rank}",
                        rank,
                        f"+9194{count:08d}",
                        ["apnafood"],
                        json.dumps(ALWAYS),
                    ),
                )
    return count


def create_account(url: str, tenant_id: uuid.UUID) -> str:
    async def go() -> str:
        from sahaya.persistence import Database, UnitOfWork
        from sahaya.voice import services as voice

        database = Database(url, pool_size=1)
        try:
            async with UnitOfWork(database) as uow:
                _, key = await voice.create_account(
                    uow=uow, tenant_id=tenant_id, name="bench", caller_id="04842000000"
                )
                await uow.commit()
                return key
        finally:
            await database.dispose()

    return asyncio.run(go())


# ------------------------------------------------------------------------ load generator


@dataclass
class Timings:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    nonempty_dials: int = 0
    dials: int = 0
    calls: int = 0
    late_starts: int = 0  # paced mode: calls that started > 10 ms after their due time

    def add(self, kind: str, seconds: float, status: int) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        counts = self.statuses.setdefault(kind, {})
        counts[status] = counts.get(status, 0) + 1


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def drive(
    host: str,
    port: int,
    mode: str,
    key: str,
    phones: list[str],
    connections: int,
    seconds: float,
    seed: int,
    rate: float = 0.0,
) -> Timings:
    timings = Timings()
    deadline = time.perf_counter() + seconds
    rng = random.Random(seed)

    async def one_call(conn: Connection) -> None:
        """gate → dial → outcome, each timed (or the gate alone in `gate` mode)."""
        sid = uuid.uuid4().hex
        phone = phones[rng.randrange(len(phones))]
        query = f"key={key}&CallSid={sid}&CallFrom={phone}&CallTo=04842000000"
        t = time.perf_counter()
        status, _ = await conn.get(f"/webhooks/exotel/gate?{query}&Direction=incoming")
        timings.add("gate", time.perf_counter() - t, status)
        if mode == "gate":
            return
        t = time.perf_counter()
        status, body = await conn.get(f"/webhooks/exotel/dial?{query}")
        timings.add("dial", time.perf_counter() - t, status)
        numbers = json.loads(body)["destination"]["numbers"] if status == 200 else []
        timings.dials += 1
        timings.nonempty_dials += bool(numbers)
        end = (
            f"&CallType=completed&DialCallStatus=completed&DialWhomNumber={quote(numbers[0])}"
            f"&DialCallDuration={rng.randrange(30, 300)}"
            if numbers
            else "&CallType=incomplete"
        )
        t = time.perf_counter()
        status, _ = await conn.get(f"/webhooks/exotel/outcome?{query}{end}")
        timings.add("outcome", time.perf_counter() - t, status)
        timings.calls += 1

    async def caller(index: int) -> None:
        conn = Connection(host, port)
        try:
            while time.perf_counter() < deadline:
                if mode == "bare":
                    t = time.perf_counter()
                    status, _ = await conn.get("/livez")
                    timings.add("bare", time.perf_counter() - t, status)
                    continue
                await one_call(conn)
        finally:
            conn.close()

    if mode != "paced":
        await asyncio.gather(*(caller(i) for i in range(connections)))
        return timings

    # Open loop: a new call every 1/rate s, whatever the server's speed, on at most
    # `connections` connections; a call that finds none free starts late (counted).
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(host, port))
    tasks: set[asyncio.Task[None]] = set()

    async def placed(conn: Connection) -> None:
        try:
            await one_call(conn)
        finally:
            idle.put_nowait(conn)

    start = time.perf_counter()
    for n in itertools.count():
        due = start + n / rate
        if due >= deadline:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        conn = await idle.get()
        if time.perf_counter() - due > 0.010:
            timings.late_starts += 1
        task = asyncio.create_task(placed(conn))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    return timings


@dataclass
class Run:
    size: int
    mode: str
    seconds: float
    timings: Timings
    cpu: dict[str, float]
    client_cpu: float
    other_pct: float = 0.0  # CPU used by anything but server, PostgreSQL and this client
    steal_pct: float = 0.0  # CPU the hypervisor took from this VM
    repeat: int = 1  # which of `--repeat` measured runs of this mode and size


def measure(
    base: str,
    mode: str,
    key: str,
    phones: list[str],
    args: argparse.Namespace,
    meter_roots: dict[str, list[psutil.Process]],
    size: int,
) -> Run:
    host, port = base.removeprefix("http://").split(":")
    rate = args.rate
    asyncio.run(drive(host, int(port), mode, key, phones, args.connections, args.warmup, 1, rate))
    meter = CpuMeter(roots=meter_roots)
    meter.start()
    busy0, steal0 = busy_seconds(), getattr(psutil.cpu_times(), "steal", 0.0)
    c0 = time.process_time()
    t0 = time.perf_counter()
    timings = asyncio.run(
        drive(host, int(port), mode, key, phones, args.connections, args.duration, 2, rate)
    )
    wall = time.perf_counter() - t0
    client = time.process_time() - c0
    used = meter.stop()
    cores = psutil.cpu_count() or 1
    busy = busy_seconds() - busy0
    steal = getattr(psutil.cpu_times(), "steal", 0.0) - steal0
    other = max(0.0, busy - steal - sum(used.values()) - client)
    log(f"{size:,} customers, {mode}: {sum(len(v) for v in timings.latencies.values()):,} requests")
    return Run(
        size,
        mode,
        wall,
        timings,
        used,
        client,
        other_pct=100 * other / (wall * cores),
        steal_pct=100 * steal / (wall * cores),
    )


def phone_list(count: int, unknown_share: float = 0.05, sample: int = 100_000) -> list[str]:
    rng = random.Random(3)
    phones = []
    for _ in range(min(sample, count)):
        number = e164(rng.randrange(count)).removeprefix("+91")
        if rng.random() < unknown_share:
            number = "70" + number[2:]  # outside the registered range
        style = rng.randrange(3)
        phones.append(quote(("0" + number, number, "+91" + number)[style]))
    return phones


def one_size(size: int, args: argparse.Namespace) -> list[Run]:
    runs: list[Run] = []
    with (
        tempfile.TemporaryDirectory(prefix="sahaya-bench-voice-var-") as var,
        private_postgres("sahaya-bench-voice-") as pg,
    ):
        tenant_id = prepare_database(pg.url)
        copy_customers(pg, tenant_id, size, 0.5)
        staffed = staff_tree(pg, tenant_id)
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
            conn.execute("CHECKPOINT")  # not during the bare run (it skewed one, 1.7k vs 2.9k/s)
        key = create_account(pg.url, tenant_id)
        log(f"{size:,} customers, {staffed} executives on 93 nodes")
        server, base = start_serve(pg, args.workers, Path(var), f"voice_calls-{size}.log")
        try:
            master = pg.postmaster()
            roots = {
                "server": [psutil.Process(server.pid)],
                "pg": [master] if master else [],
            }
            phones = phone_list(size)
            for mode in ("bare", "gate", "call") + (("paced",) if args.rate else ()):
                for repeat in range(1, args.repeat + 1):
                    wait_for_turn(args.wait_others, args.quiet_wait)
                    run = measure(base, mode, key, phones, args, roots, size)
                    run.repeat = repeat
                    runs.append(run)
        finally:
            code = stop_process_tree(server)
            log(f"server stopped, exit code {code}")
    return runs


def report(runs: list[Run], args: argparse.Namespace) -> None:
    print()
    workers = args.workers
    print(f"## Voice webhooks at concurrency {args.connections}, sahaya serve --workers {workers}")
    print(code_line(args.code))
    print()
    rows = []
    bare_rates: dict[int, list[float]] = {}
    for run in runs:
        if run.mode == "bare":
            rate = len(run.timings.latencies["bare"]) / run.seconds
            bare_rates.setdefault(run.size, []).append(rate)
    bare_rate = {size: median(rates) for size, rates in bare_rates.items()}
    for run in runs:
        total = sum(len(v) for v in run.timings.latencies.values())
        for kind, values in run.timings.latencies.items():
            rate = len(values) / run.seconds
            statuses = ", ".join(
                f"{k}: {v:,}" for k, v in sorted(run.timings.statuses[kind].items())
            )
            share = "" if kind == "bare" else f"{100 * rate / bare_rate[run.size]:.0f} %"
            rows.append(
                (
                    f"{run.size:,}",
                    run.mode + (f" {run.repeat}" if args.repeat > 1 else ""),
                    kind,
                    f"{rate:,.0f}",
                    share,
                    f"{1000 * pct(values, 50):.2f}",
                    f"{1000 * pct(values, 90):.2f}",
                    f"{1000 * pct(values, 99):.2f}",
                    f"{1000 * max(values):.1f}",
                    statuses,
                    f"{1e6 * run.cpu.get('server', 0) / total:,.0f}",
                    f"{1e6 * run.cpu.get('pg', 0) / total:,.0f}",
                    f"{1e6 * run.client_cpu / total:,.0f}",
                    f"{run.other_pct:.0f} / {run.steal_pct:.0f}",
                )
            )
    print(
        table(
            (
                "customers",
                "run",
                "endpoint",
                "req/s",
                "of bare",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "statuses",
                "server µs/req",
                "PG µs/req",
                "client µs/req",
                "other / steal CPU %",
            ),
            rows,
        )
    )
    print()
    for run in runs:
        if run.mode in ("call", "paced"):
            t = run.timings
            late = f"; started late (> 10 ms) {t.late_starts:,}" if run.mode == "paced" else ""
            print(
                f"{run.size:,} customers, {run.mode}: {t.calls / run.seconds:,.0f} whole calls/s; "
                f"non-empty dial lists {t.nonempty_dials:,} of {t.dials:,}{late}"
            )
    sizes = sorted({r.size for r in runs})
    if len(sizes) == 2:
        small, large = sizes
        pairs = [("gate", "gate"), ("gate", "call"), ("dial", "call")]
        if args.rate:
            pairs += [("gate", "paced"), ("dial", "paced")]
        for kind, mode in pairs:
            each: dict[int, list[float]] = {}
            for r in runs:
                if r.mode == mode and kind in r.timings.latencies:
                    each.setdefault(r.size, []).append(pct(r.timings.latencies[kind], 99))
            p = {size: median(values) for size, values in each.items()}
            spread = "".join(
                f"; runs at {size:,}: " + ", ".join(f"{1000 * v:.1f}" for v in values)
                for size, values in each.items()
                if len(values) > 1
            )
            print(
                f"p99 {kind} ({mode} run{', median' if args.repeat > 1 else ''}): "
                f"{1000 * p[small]:.2f} ms at {small:,} → {1000 * p[large]:.2f} ms at {large:,} "
                f"({100 * (p[large] / p[small] - 1):+.0f} %){spread}"
            )
    data = [
        {
            "size": r.size,
            "mode": r.mode,
            "repeat": r.repeat,
            "seconds": r.seconds,
            "latencies": {k: sorted(v) for k, v in r.timings.latencies.items()},
            "statuses": r.timings.statuses,
            "cpu": r.cpu,
            "client_cpu": r.client_cpu,
        }
        for r in runs
    ]
    (OUT / "voice_calls.json").write_text(json.dumps(data))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=1, help="measured runs per mode and size; medians shown"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="paced run: whole calls started per second, open loop (0: no paced run)",
    )
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    parser.add_argument("--wait-others", type=float, default=1800.0)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.duration, args.warmup = "10000,100000", 5.0, 1.0
    restore_sigint()
    args.code = code_version()
    OUT.mkdir(parents=True, exist_ok=True)
    wait_for_turn(args.wait_others, quiet=0)
    runs: list[Run] = []
    for size in (int(s) for s in args.sizes.split(",")):
        runs.extend(one_size(size, args))
    report(runs, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
