"""Benchmark: tickets created through osTicket's `POST /api/tickets.json`, with their
acknowledgements queued in the same transaction.

Starts a private embedded PostgreSQL (default settings, fsync on, as an install runs it),
migrates it, loads the tenant, services and Kerala tree, COPYs `--customers` registered
customers (spread over the 78 taluks, `--email-share` of them with an email address), loads
`--history` earlier tickets with `VACUUM ANALYZE` (a helpdesk in operation, as autovacuum
leaves it; `--history 0` measures a fresh database, whose empty-table plans scan), and
starts `sahaya serve --workers 2` with `SAHAYA_TICKET_THREAD_HOURS=0` (no duplicate guard).
`wrk` (1 thread) then posts osTicket JSON bodies — every body a different customer, phones
written the ways people type them, Manglish/Malayalam/English food-delivery complaints —
with the header `X-API-Key` = an agent integration token at `kerala`: a warm-up, then a
measured run per concurrency (default 8, then 1). A Lua `response()` hook writes the number
of every `201` to a file so the database can be checked against what the clients were told:

  * tickets created in the measured window == 201 responses (plus requests wrk cut off at
    its deadline, which the server still completes — at most one per connection);
  * ticket numbers unique and gap-free over the whole table;
  * one acknowledgement e-mail queued (`outbox_messages`) per ticket whose customer has an
    e-mail address, none for the others; one app-inbox item and one SLA clock per ticket.

    .venv/bin/python bench/tickets_intake.py                 # ≈ 2 min
    .venv/bin/python bench/tickets_intake.py --quick         # ≈ 40 s
    .venv/bin/python bench/tickets_intake.py --py-spy /tmp/prof/bin/py-spy   # + profile

This module also holds what the other ticket benchmarks share (bench/ticket_search.py,
bench/sla_timers.py): the complaint vocabulary, the wrk runner and the wait for other
benchmarks to finish.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    prepare_database,
    private_postgres,
    py_spy,
    restore_sigint,
    stop_process_tree,
    table,
    wait_for_http,
    wait_until_quiet,
)
from _dataset import e164, national, taluks
from sahaya.demo.seed import FIRST, LAST

# --------------------------------------------------------------------------- vocabulary

# Complaints as Kerala customers of a food-delivery service write them: English, Manglish
# (Malayalam in Latin letters) and Malayalam script, mixed.
SUBJECTS = (
    ("Cold food", 12),
    ("Late delivery", 10),
    ("Order not received", 9),
    ("Wrong item delivered", 7),
    ("Missing item in order", 7),
    ("Refund not credited", 6),
    ("Food spilled in the packet", 4),
    ("Rider was rude", 3),
    ("Payment deducted twice", 3),
    ("Coupon not applied", 3),
    ("Order cancelled without reason", 3),
    ("Bad quality food", 3),
    ("Food thanuthu poyi", 3),
    ("Order vannilla", 3),
    ("Delivery vaikki", 2),
    ("Paisa thirichu kittiyilla", 2),
    ("ഭക്ഷണം തണുത്തു", 2),
    ("ഓർഡർ കിട്ടിയില്ല", 2),
    ("ഡെലിവറി വൈകി", 2),
    ("Refund venam", 1),
    ("Rider called and cancelled", 1),
    ("Extra charge on bill", 1),
)
OPENERS = (
    "Hi",
    "Hello team",
    "Sir",
    "Chetta",
    "Namaskaram",
    "നമസ്കാരം",
    "Good evening",
    "Dear Apna support",
)
DISHES = (
    "chicken biryani",
    "beef fry",
    "porotta",
    "appam and stew",
    "puttu kadala",
    "masala dosa",
    "idli sambar",
    "kerala meals",
    "fish curry meals",
    "chicken shawarma",
    "alfaham",
    "kuzhimandhi",
    "chicken 65",
    "fried rice",
    "beef biryani",
    "egg curry",
    "chapathi",
    "pazham pori",
    "kappa and fish curry",
    "ghee roast",
    "mutton biryani",
    "veg meals",
    "tea and snacks",
    "falooda",
    "chicken fry",
    "noodles",
    "pizza",
    "burger",
)
OUTLETS = (
    "Paragon",
    "Rahmath",
    "Aryaas",
    "Kayees",
    "Zam Zam",
    "Salkara",
    "Sagar",
    "Buhari",
    "Kulfi Corner",
    "Arabian Nights",
    "Malabar Cafe",
    "Thalassery Kitchen",
    "Annapoorna",
    "Hotel Saravana",
    "Ambis",
    "Bismi",
    "Kalavara",
    "Grand Hotel",
    "Taste of Malabar",
    "Dhe Puttu",
)
COMPLAINTS = (
    "the food was completely cold when it arrived",
    "food was cold and the biryani was dry",
    "delivery was {minutes} minutes late",
    "the order was late by almost an hour",
    "order not received but the app shows delivered",
    "wrong item delivered, I ordered something else",
    "one item is missing from the order",
    "the curry spilled inside the packet",
    "rider did not call and left the food at the gate",
    "the rider was rude on the phone",
    "payment deducted twice from my account",
    "coupon was not applied to the bill",
    "food thanuthu poyi, kazhikkan pattiyilla",
    "order ithuvare vannilla",
    "delivery orupaadu vaikki",
    "item kuravu aanu, oru porotta kittiyilla",
    "bill il extra charge undu",
    "ഭക്ഷണം തണുത്തിരുന്നു",
    "ഓർഡർ ഇതുവരെ കിട്ടിയില്ല",
    "ഡെലിവറി ഒരു മണിക്കൂർ വൈകി",
    "quality very bad, smell undayirunnu",
    "the packet was open when it reached me",
)
REQUESTS = (
    "please refund the amount",
    "need a refund immediately",
    "paisa thirichu tharanam",
    "please replace the order",
    "replace cheyyanam",
    "call me back on {phone}",
    "പണം തിരികെ വേണം",
    "please look into this",
    "this is the second time this week",
    "kindly take action against the restaurant",
)
LANDMARKS = (
    "near the bus stand",
    "opposite the church",
    "near the temple",
    "behind the mosque",
    "near the market",
    "next to the petrol pump",
    "near the railway station",
    "near the KSRTC stand",
    "opposite the school",
    "near the hospital",
)
# Planted rarely (one ticket in ~30 mentions one of them): the "rare word" searches.
RARE = (
    "kozhukatta",
    "unniyappam",
    "kallappam",
    "chattipathiri",
    "neyyappam",
    "elaneer",
    "karimeen",
    "pollichathu",
    "erissery",
    "kaalan",
    "olan",
    "thalassery",
    "kuttanadan",
    "meen",
    "mappas",
    "ishtu",
    "achappam",
    "kuzhalappam",
    "avalose",
    "pathiri",
    "sulaimani",
    "kulukki",
    "upperi",
    "payasam",
    "palada",
    "kumbilappam",
    "ottada",
    "vattayappam",
    "irachi",
    "chemmeen",
    "koonthal",
    "njandu",
    "kakka",
    "thenga",
    "mulaku",
    "inji",
    "vellayappam",
    "idiyappam",
    "puzhukku",
    "kanji",
    "chammanthi",
    "aviyal",
    "thoran",
    "mezhukkupuratti",
    "theeyal",
    "pulissery",
    "moru",
    "rasam",
    "pappadam",
    "kichadi",
    "pachadi",
    "ulli",
    "vada",
    "bonda",
    "samoosa",
    "cutlet",
    "kozhi",
    "tharavu",
    "muyal",
    "kaada",
)
PHRASES = ('"cold food"', '"late delivery"', '"not received"', '"wrong item"', '"refund not"')


class Complaints:
    """Subjects and messages with a realistic mix of words, places and numbers."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.subjects = [s for s, _ in SUBJECTS]
        self.weights = [w for _, w in SUBJECTS]
        self.places = taluks()
        self.names = [f"{f} {last}" for f in FIRST for last in LAST]

    def subject(self) -> str:
        rng = self.rng
        text = rng.choices(self.subjects, self.weights)[0]
        if rng.random() < 0.3:
            text += f" - order #{rng.randrange(100_000, 10_000_000)}"
        return text

    def message(self, place: str, phone: str) -> str:
        rng = self.rng
        parts = []
        if rng.random() < 0.6:
            parts.append(rng.choice(OPENERS) + ",")
        order = rng.randrange(100_000, 10_000_000)
        hour, minute = rng.randrange(7, 12), rng.randrange(60)
        match rng.randrange(4):
            case 0:
                parts.append(
                    f"I ordered {rng.choice(DISHES)} from {rng.choice(OUTLETS)} {place}"
                    f" at {hour}:{minute:02d} pm (order #{order})."
                )
            case 1:
                parts.append(f"ente order #{order} ({rng.choice(DISHES)}) {place} il ninnu.")
            case 2:
                parts.append(f"Order {order} placed at {hour}:{minute:02d} from {place}.")
            case _:
                parts.append(f"ഞാൻ {rng.choice(DISHES)} ഓർഡർ ചെയ്തു, order {order}.")
        for _ in range(rng.randrange(1, 3)):
            parts.append(rng.choice(COMPLAINTS).format(minutes=rng.randrange(20, 95)) + ".")
        if rng.random() < 0.5:
            parts.append(f"Paid Rs {rng.randrange(80, 1800)} by UPI.")
        if rng.random() < 0.034:
            parts.append(f"The {rng.choice(RARE)} was bad.")
        if rng.random() < 0.5:
            parts.append(f"Address: {rng.choice(LANDMARKS)}, {place}.")
        parts.append(rng.choice(REQUESTS).format(phone=phone) + ".")
        if rng.random() < 0.3:
            parts.append(f"- {rng.choice(self.names)}")
        return " ".join(parts)


# --------------------------------------------------------------------------- shared helpers


def other_benchmarks() -> list[str]:
    """Benchmarks (`bench/` in the command line) that are not this process, its parents or
    its children — another helper's run that would disturb a measurement."""
    me = psutil.Process()
    mine = {me.pid, *(p.pid for p in me.parents()), *(p.pid for p in me.children(True))}
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(proc.info["cmdline"] or [])
            if "bench/" in cmd and proc.info["pid"] not in mine and "pgrep" not in cmd:
                found.append(f"{proc.info['pid']} {cmd[:90]}")
    return found


def wait_for_turn(max_wait: float, quiet: float = 60.0) -> float:
    """Before a measured run: wait (up to `max_wait` s) until no other benchmark runs, then
    for the machine to go quiet. Returns seconds waited for other benchmarks."""
    started = time.perf_counter()
    announced = False
    while others := other_benchmarks():
        if time.perf_counter() - started > max_wait:
            log(f"still running after {max_wait:.0f}s, measuring anyway: {others}")
            break
        if not announced:
            log(f"waiting for other benchmarks to finish: {others}")
            announced = True
        time.sleep(5)
    waited = time.perf_counter() - started
    if quiet > 0:
        wait_until_quiet(quiet)
    return waited


WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  local extra = ""
  if bench_extra ~= nil then extra = bench_extra() end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, '
      .. '"p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f%s}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, extra))
end
"""

# POST the lines of a file (one JSON body each) in order, from an offset; record the body
# of every 201 (the ticket number) in a file.
INTAKE_LUA = (
    """
local bodies = {}
local out = nil
local path = "/api/tickets.json"
index = 0
created = 0
other = 0
threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  index = tonumber(args[2]) or 0
  out = io.open(args[3], "w")
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[(index % #bodies) + 1]
  index = index + 1
  return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
    out:write(body, "\\n")
    out:flush()
  else
    other = other + 1
  end
end

function bench_extra()
  local t = threads[1]
  return string.format(', "created": %d, "other": %d, "next_index": %d',
    t:get("created"), t:get("other"), t:get("index"))
end
"""
    + WRK_DONE
)

# GET the lines of a file (paths) round-robin from a random start.
PATHS_LUA = (
    """
local paths = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  index = math.random(#paths) - 1
end

function request()
  local path = paths[(index % #paths) + 1]
  index = index + 1
  return wrk.format(nil, path)
end
"""
    + WRK_DONE
)


def run_wrk(
    base: str,
    script: Path,
    script_args: list[str],
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str],
    timeout: float = 30.0,
) -> tuple[dict[str, float], float]:
    """Run wrk once (1 thread); return its BENCH_JSON figures and its own CPU seconds."""
    command = [
        "wrk",
        "--threads=1",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={timeout:g}s",
        "--latency",
        "--script",
        str(script),
        *(x for k, v in headers.items() for x in ("--header", f"{k}: {v}")),
        base,
        "--",
        *script_args,
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        output = proc.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    except BaseException:
        stop_process_tree(proc)  # type: ignore[arg-type]
        raise
    line = next((x for x in output.splitlines() if x.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{output}")
    return json.loads(line.removeprefix("BENCH_JSON ")), usage.ru_utime + usage.ru_stime


def start_serve(
    pg: Postgres, workers: int, var_dir: Path, log_name: str, **env: str
) -> tuple[subprocess.Popen[bytes], str]:
    """`sahaya serve` on a free port, in its own process group; waits for /healthz."""
    port = free_port()
    full_env = clean_env(
        SAHAYA_DATABASE_URL=pg.url,
        SAHAYA_DEFAULT_TENANT=TENANT,
        SAHAYA_VAR_DIR=str(var_dir),
        SAHAYA_LOG_LEVEL="WARNING",
        **env,
    )
    argv = [str(SAHAYA), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)]
    with (OUT / log_name).open("wb") as out:
        server = subprocess.Popen(
            argv, env=full_env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        seconds = wait_for_http(base + "/healthz", timeout=90, proc=server)
    except BaseException:
        stop_process_tree(server)
        raise
    log(f"sahaya serve --workers {workers} answered /healthz after {seconds:.1f}s")
    return server, base


class WaitSampler(threading.Thread):
    """Samples `pg_stat_activity` every `interval` s while a load runs: how many of the
    database's client backends are running, waiting for a lock, for WAL, or for the
    application (idle in transaction = Python is between two statements of a transaction)."""

    QUERY = """SELECT state, wait_event_type, wait_event, left(query, 40)
               FROM pg_stat_activity
               WHERE backend_type = 'client backend' AND datname = current_database()
                 AND pid <> pg_backend_pid()"""

    def __init__(self, url: str, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.interval = interval
        self.samples = 0
        self.tally: Counter[str] = Counter()
        self._halt = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._halt.wait(self.interval):
                rows = conn.execute(self.QUERY).fetchall()
                self.samples += 1
                for state, kind, event, query in rows:
                    if state == "idle":
                        continue  # an idle pooled connection: nobody is using it
                    if kind is None:
                        key = "running (CPU)" if state == "active" else str(state)
                    elif kind == "Lock":
                        key = f"Lock:{event} on {' '.join(str(query).split())[:28]}…"
                    elif state == "idle in transaction":
                        key = "idle in transaction (waiting for Python)"
                    else:
                        key = f"{kind}:{event}"
                    self.tally[key] += 1

    def stop(self) -> dict[str, float]:
        self._halt.set()
        self.join(timeout=5)
        n = max(1, self.samples)
        return {k: round(v / n, 2) for k, v in self.tally.most_common()}


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle (all processes, all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Customer:
    index: int
    name: str
    email: str | None
    place: str  # taluk name
    path: str


def copy_customers(
    pg: Postgres, tenant_id: uuid.UUID, count: int, email_share: float, seed: int = 7
) -> list[Customer]:
    """COPY `count` customers spread uniformly over the taluks; returns them."""
    rng = random.Random(seed)
    places = taluks()
    now = datetime.now(UTC)
    found: list[Customer] = []
    started = time.perf_counter()
    with psycopg.connect(pg.url) as conn:
        node_ids = dict(
            conn.execute(
                "SELECT path, id FROM nodes WHERE tenant_id = %s AND level = 'sub_district'",
                (tenant_id,),
            ).fetchall()
        )
        with conn.cursor().copy(
            "COPY customers (id, tenant_id, name, phone_e164, email, home_node_id, language,"
            " verification, blocked, source, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(count):
                place = places[rng.randrange(len(places))]
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
                email = (
                    f"{name.split()[0].lower()}.{i}@example.in"
                    if rng.random() < email_share
                    else None
                )
                copy.write_row(
                    (
                        uuid.uuid4(),
                        tenant_id,
                        name,
                        e164(i),
                        email,
                        node_ids[place.path],
                        ("ml", "en")[i % 2],
                        "verified",
                        False,
                        "bench",
                        now,
                        now,
                    )
                )
                found.append(Customer(i, name, email, place.name, place.path))
        conn.commit()
        conn.execute("ANALYZE customers")
    log(f"COPY {count:,} customers in {time.perf_counter() - started:.1f}s")
    return found


def written_phone(number: str, style: int) -> str:
    a, b = number[:5], number[5:]
    return (f"+91 {a} {b}", f"0{number}", number, f"+91{number}", f"91{number}")[style % 5]


def write_bodies(path: Path, customers: list[Customer], seed: int = 11) -> None:
    """One osTicket JSON body per line, one per customer, in a shuffled order."""
    rng = random.Random(seed)
    words = Complaints(seed)
    order = list(range(len(customers)))
    rng.shuffle(order)
    with path.open("w", encoding="utf-8") as out:
        for k in order:
            c = customers[k]
            number = national(c.index)
            body: dict[str, Any] = {
                "name": c.name,
                # osTicket requires an email; the ticket is matched to the customer by phone.
                "email": c.email or f"caller.{c.index}@example.in",
                "phone": written_phone(number, k),
                "subject": words.subject(),
                "message": words.message(c.place, number),
                "source": ("API", "Phone", "Web")[k % 3],
                "priorityId": (2, 2, 2, 3, 1)[k % 5],
                "ip": f"10.0.{k % 250}.{k % 200 + 1}",
                "order_id": str(rng.randrange(100_000, 10_000_000)),
            }
            out.write(json.dumps(body, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- measurement


@dataclass
class Run:
    connections: int
    seconds: float
    requests: int
    created_201: int
    other_status: int
    socket_errors: int
    tickets_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    tickets_in_window: int
    cut_off: int
    numbers_match: bool
    server_cpu_ms: float
    pg_cpu_ms: float
    wrk_cpu_ms: float
    cpu_busy_pct: float
    other_cpu_pct: float
    waited_for_others_s: float
    backends: dict[str, float] = field(default_factory=dict)


def counter(conn: psycopg.Connection, tenant_id: uuid.UUID) -> int:
    """The highest ticket number committed so far (whatever hands numbers out)."""
    row = conn.execute(
        "SELECT coalesce(max(split_part(number, '-', 2)::int), 0) FROM tickets"
        " WHERE tenant_id = %s",
        (tenant_id,),
    ).fetchone()
    return int(row[0]) if row else 0


def continue_numbering(
    conn: psycopg.Connection, tenant_id: uuid.UUID, prefix: str, last: int
) -> None:
    """After COPYing tickets numbered up to `last`: make intake continue after it, with the
    counter row (up to migration 0011) or the per-prefix sequence (0012 on)."""
    if conn.execute("SELECT to_regclass('ticket_counters')").fetchone() != (None,):
        conn.execute(
            """INSERT INTO ticket_counters (id, tenant_id, prefix, last)
               VALUES (gen_random_uuid(), %s, %s, %s)
               ON CONFLICT (tenant_id, prefix) DO UPDATE SET last = EXCLUDED.last""",
            (tenant_id, prefix, last),
        )
        return
    from sahaya.tickets import repository

    name = repository.sequence_name(tenant_id, prefix)
    conn.execute(f'CREATE SEQUENCE IF NOT EXISTS "{name}"')
    conn.execute("SELECT setval(%s, %s)", (f'"{name}"', last))


def settle(conn: psycopg.Connection, tenant_id: uuid.UUID) -> int:
    """Wait until the ticket counter stops moving (requests wrk cut off still complete)."""
    last = counter(conn, tenant_id)
    while True:
        time.sleep(1.0)
        now = counter(conn, tenant_id)
        if now == last:
            return now
        last = now


def measure(
    *,
    base: str,
    lua: Path,
    bodies: Path,
    offset: int,
    connections: int,
    args: argparse.Namespace,
    server: subprocess.Popen[bytes],
    pg: Postgres,
    tenant_id: uuid.UUID,
    headers: dict[str, str],
    work: Path,
) -> tuple[Run, int, int]:
    """Warm-up, then a measured run; returns the run, the next body offset, and the 201s
    seen in total (warm-up included)."""
    numbers = work / f"numbers-c{connections}.txt"
    seen = 0
    if args.warmup > 0:
        figures, _ = run_wrk(
            base,
            lua,
            [str(bodies), str(offset), str(work / "warmup.txt")],
            seconds=args.warmup,
            connections=connections,
            headers=headers,
        )
        offset = int(figures["next_index"])
        seen += int(figures["created"])
    with psycopg.connect(pg.url, autocommit=True) as conn:
        settle(conn, tenant_id)
        waited = wait_for_turn(args.wait_others, args.quiet_wait)
        master = pg.postmaster()
        meter = CpuMeter(
            roots={"server": [psutil.Process(server.pid)], "pg": [master] if master else []}
        )
        before = counter(conn, tenant_id)
        busy0 = busy_seconds()
        meter.start()
        sampler = WaitSampler(pg.url)
        sampler.start()
        figures, wrk_cpu = run_wrk(
            base,
            lua,
            [str(bodies), str(offset), str(numbers)],
            seconds=args.duration,
            connections=connections,
            headers=headers,
        )
        backends = sampler.stop()
        used = meter.stop()
        busy1 = busy_seconds()
        after = settle(conn, tenant_id)
        window = conn.execute(
            """SELECT number FROM tickets WHERE tenant_id = %s
               AND split_part(number, '-', 2)::int > %s
               AND split_part(number, '-', 2)::int <= %s""",
            (tenant_id, before, after),
        ).fetchall()
    offset = int(figures["next_index"])
    created = int(figures["created"])
    seen += created
    got = [x for x in numbers.read_text().split() if x]
    in_window = {r[0] for r in window}
    wall = figures["duration_us"] / 1e6
    per = 1000 / max(1, created)
    cores = psutil.cpu_count() or 1
    run = Run(
        connections=connections,
        seconds=wall,
        requests=int(figures["requests"]),
        created_201=created,
        other_status=int(figures["other"]),
        socket_errors=int(
            figures["connect_errors"]
            + figures["read_errors"]
            + figures["write_errors"]
            + figures["timeouts"]
        ),
        tickets_per_s=created / wall,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        tickets_in_window=after - before,
        cut_off=(after - before) - created,
        numbers_match=(
            len(got) == created == len(set(got))
            and set(got) <= in_window
            and len(in_window) == after - before
        ),
        server_cpu_ms=used["server"] * per,
        pg_cpu_ms=used["pg"] * per,
        wrk_cpu_ms=wrk_cpu * per,
        cpu_busy_pct=100 * (used["server"] + used["pg"] + wrk_cpu) / (wall * cores),
        other_cpu_pct=max(0.0, 100 * (busy1 - busy0 - sum(used.values()) - wrk_cpu))
        / (wall * cores),
        waited_for_others_s=waited,
        backends=backends,
    )
    log(
        f"c{connections}: {run.tickets_per_s:,.0f} tickets/s, p50 {run.p50_ms:.1f} ms, p99"
        f" {run.p99_ms:.1f} ms, non-201 {run.other_status}, in window {run.tickets_in_window}"
        f" (cut off {run.cut_off}), numbers match {run.numbers_match}"
    )
    return run, offset, seen


def sanity(base: str, key: str, customers: list[Customer], pg: Postgres) -> None:
    """One ticket by hand: 201 with a number, the ticket belongs to the right customer."""
    c = next(x for x in customers if x.email)
    body = {
        "name": c.name,
        "email": c.email,
        "phone": f"+91 {national(c.index)[:5]} {national(c.index)[5:]}",
        "subject": "Sanity check",
        "message": "Cold food, order #1",
    }
    with httpx.Client(base_url=base, timeout=10) as http:
        response = http.post(
            "/api/tickets.json", content=json.dumps(body), headers={"X-API-Key": key}
        )
        assert response.status_code == 201, response.text
        stranger = dict(body, phone="9000000001", email="nobody@example.com")
        denied = http.post(
            "/api/tickets.json", content=json.dumps(stranger), headers={"X-API-Key": key}
        )
        assert denied.status_code == 403, denied.text
    with psycopg.connect(pg.url) as conn:
        row = conn.execute(
            """SELECT c.phone_e164, o.recipient FROM tickets t JOIN customers c
               ON c.id = t.customer_id JOIN outbox_messages o ON o.ticket_id = t.id
               WHERE t.number = %s""",
            (response.text,),
        ).fetchone()
    assert row == (e164(c.index), c.email), row
    log(f"sanity: {response.text} created for {c.name}, acknowledgement queued to {c.email}")


def verify(pg: Postgres, tenant_id: uuid.UUID, history: int) -> dict[str, Any]:
    """The whole table: numbers unique and gap-free; one acknowledgement per ticket created
    through the API (numbers after the `history` loaded beforehand)."""
    with psycopg.connect(pg.url) as conn:
        one = conn.execute(
            """SELECT count(*), count(DISTINCT number),
                      min(split_part(number, '-', 2)::int), max(split_part(number, '-', 2)::int)
               FROM tickets WHERE tenant_id = %s""",
            (tenant_id,),
        ).fetchone()
        assert one is not None
        tickets, distinct, low, high = one
        acks = conn.execute(
            """SELECT
                 count(*) FILTER (WHERE c.email IS NOT NULL),
                 count(*) FILTER (WHERE c.email IS NOT NULL AND a.n = 1),
                 count(*) FILTER (WHERE c.email IS NOT NULL AND coalesce(a.n, 0) <> 1),
                 count(*) FILTER (WHERE c.email IS NULL AND coalesce(a.n, 0) <> 0),
                 count(*) FILTER (WHERE i.n = 1),
                 count(*) FILTER (WHERE k.ticket_id IS NOT NULL)
               FROM tickets t
               JOIN customers c ON c.id = t.customer_id
               LEFT JOIN (SELECT ticket_id, count(*) AS n FROM outbox_messages
                          WHERE template = 'ticket_acknowledgement' GROUP BY 1) a
                 ON a.ticket_id = t.id
               LEFT JOIN (SELECT ticket_id, count(*) AS n FROM app_inbox GROUP BY 1) i
                 ON i.ticket_id = t.id
               LEFT JOIN sla_ticket_clocks k ON k.ticket_id = t.id
               WHERE t.tenant_id = %s AND split_part(t.number, '-', 2)::int > %s""",
            (tenant_id, history),
        ).fetchone()
        assert acks is not None
        outbox = conn.execute("SELECT count(*) FROM outbox_messages").fetchone()
        repeat = conn.execute(
            """SELECT count(*) FROM (SELECT customer_id FROM tickets
               WHERE split_part(number, '-', 2)::int > %s GROUP BY 1 HAVING count(*) > 1) x""",
            (history,),
        ).fetchone()
        assert outbox is not None
        assert repeat is not None
    created = int(tickets) - history
    result = {
        "tickets": int(tickets),
        "history": history,
        "distinct_numbers": int(distinct),
        "numbers": f"{low}..{high}",
        "gap_free": bool(tickets == distinct == high and low == 1),
        "tickets_customer_with_email": int(acks[0]),
        "acks_exactly_one": int(acks[1]),
        "with_email_not_one_ack": int(acks[2]),
        "without_email_but_ack": int(acks[3]),
        "app_inbox_exactly_one": int(acks[4]),
        "sla_clocks": int(acks[5]),
        "outbox_rows": int(outbox[0]),
        "customers_with_several_tickets": int(repeat[0]),
    }
    result["acks_ok"] = bool(
        result["acks_exactly_one"] == result["tickets_customer_with_email"] == result["outbox_rows"]
        and result["with_email_not_one_ack"] == 0
        and result["without_email_but_ack"] == 0
        and result["app_inbox_exactly_one"] == created
        and result["sla_clocks"] == created
    )
    return result


def statements_per_ticket(pg: Postgres, base: str, key: str, bodies: Path, start: int) -> Any:
    """Switch on log_statement = all briefly; count what one ticket sends to PostgreSQL."""
    from lookup import logged_statements

    lines = bodies.read_text(encoding="utf-8").splitlines()
    log_file = pg.pgdata / "log"
    repeat = 20
    kinds: dict[str, int] = {}
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
        try:
            with httpx.Client(base_url=base, timeout=10) as http:
                headers = {"X-API-Key": key, "Content-Type": "application/json"}
                offset = log_file.stat().st_size
                for k in range(repeat):
                    line = lines[(start + k) % len(lines)].encode()
                    http.post("/api/tickets.json", content=line, headers=headers)
                time.sleep(0.5)
                with log_file.open("rb") as handle:
                    handle.seek(offset)
                    text = handle.read().decode(errors="replace")
        finally:
            conn.execute("ALTER SYSTEM RESET log_statement")
            conn.execute("SELECT pg_reload_conf()")
    for stmt in logged_statements(text):
        key_text = " ".join(stmt.split())[:60]
        kinds[key_text] = kinds.get(key_text, 0) + 1
    total = sum(kinds.values()) / repeat
    return {
        "per_ticket": total,
        "kinds": {k: v / repeat for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])},
        "requests": repeat,
    }


def profile(
    args: argparse.Namespace,
    base: str,
    lua: Path,
    bodies: Path,
    offset: int,
    server: subprocess.Popen[bytes],
    headers: dict[str, str],
    work: Path,
) -> tuple[int, int]:
    """py-spy on the server's processes during a c8 run (separately: py-spy costs CPU)."""
    out = OUT / "tickets_intake.pyspy.txt"
    seconds = max(5, round(args.duration / 2))
    spy = py_spy(args.py_spy, server.pid, seconds, out, children=True)
    try:
        figures, _ = run_wrk(
            base,
            lua,
            [str(bodies), str(offset), str(work / "profile.txt")],
            seconds=seconds,
            connections=8,
            headers=headers,
        )
        spy.wait(timeout=120)
    finally:
        if spy.poll() is None:
            stop_process_tree(spy)  # type: ignore[arg-type]
    log(
        f"profiled c8 ({figures['created'] / figures['duration_us'] * 1e6:,.0f} tickets/s"
        f" under py-spy) -> {out}; summarise with bench/pyspy_top.py {out}"
    )
    return int(figures["next_index"]), int(figures["created"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--email-share", type=float, default=0.9)
    parser.add_argument(
        "--history",
        type=int,
        default=100_000,
        help="earlier tickets loaded (and analysed) first, as in a helpdesk already running;"
        " 0 measures a fresh database, before autovacuum has analysed the new tables",
    )
    parser.add_argument("--concurrency", default="8,1", help="comma-separated wrk connections")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds")
    parser.add_argument("--workers", type=int, default=2, help="sahaya serve --workers")
    parser.add_argument("--unsafe", action="store_true", help="PostgreSQL with fsync off")
    parser.add_argument("--quick", action="store_true", help="5,000 customers, 5 s runs")
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    parser.add_argument(
        "--wait-others",
        type=float,
        default=1800.0,
        help="before each measured run, wait up to this long for other benchmarks to end",
    )
    parser.add_argument("--py-spy", help="py-spy binary: profile the server at c8")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.duration, args.warmup = 5_000, 5.0, 2.0
        args.history = min(args.history, 20_000)
    restore_sigint()
    if not shutil.which("wrk"):
        parser.error("wrk is required (apt-get install wrk)")
    args.code = code_version()
    OUT.mkdir(parents=True, exist_ok=True)
    wait_for_turn(args.wait_others, quiet=0)  # do not load the machine under another run
    work = Path(tempfile.mkdtemp(prefix="sahaya-bench-intake-data-"))
    runs: list[Run] = []
    info: dict[str, Any] = {}
    try:
        with private_postgres("sahaya-bench-intake-", fast_and_unsafe=args.unsafe) as pg:
            tenant_id = prepare_database(pg.url)
            customers = copy_customers(pg, tenant_id, args.customers, args.email_share)
            if args.history:
                from ticket_search import load_tickets  # it imports this module's helpers

                info["history_load"] = load_tickets(pg, tenant_id, customers, args.history)
            key = issue_token(pg.url, tenant_id, "agent", "kerala")
            bodies = work / "bodies.jsonl"
            write_bodies(bodies, customers)
            lua = work / "intake.lua"
            lua.write_text(INTAKE_LUA)
            server, base = start_serve(
                pg,
                args.workers,
                work / "var",
                "tickets_intake-serve.log",
                SAHAYA_TICKET_THREAD_HOURS="0",
            )
            headers = {"X-API-Key": key}
            offset, seen = 0, 1
            try:
                sanity(base, key, customers, pg)
                info["statements"] = statements_per_ticket(pg, base, key, bodies, offset)
                offset += info["statements"]["requests"]
                seen += info["statements"]["requests"]
                for connections in (int(c) for c in args.concurrency.split(",")):
                    run, offset, created = measure(
                        base=base,
                        lua=lua,
                        bodies=bodies,
                        offset=offset,
                        connections=connections,
                        args=args,
                        server=server,
                        pg=pg,
                        tenant_id=tenant_id,
                        headers=headers,
                        work=work,
                    )
                    runs.append(run)
                    seen += created
                if args.py_spy:
                    offset, created = profile(
                        args, base, lua, bodies, offset, server, headers, work
                    )
                    seen += created
            finally:
                code = stop_process_tree(server)
                log(f"server stopped, exit code {code}")
            info["bodies_posted"] = offset
            info["bodies_distinct"] = len(customers)
            info["check"] = verify(pg, tenant_id, args.history)
            info["created_seen_by_clients"] = seen
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(runs, info, args)
    return 0


def report(runs: list[Run], info: dict[str, Any], args: argparse.Namespace) -> None:
    check = info["check"]
    print()
    print(
        f"## tickets intake: POST /api/tickets.json, {args.customers:,} customers"
        f" ({args.email_share:.0%} with email), sahaya serve --workers {args.workers},"
        f" wrk 1 thread, {args.duration:g}s after {args.warmup:g}s warm-up,"
        f" PostgreSQL fsync {'off' if args.unsafe else 'on'}, {psutil.cpu_count()} cores shared"
    )
    print(code_line(args.code))
    print(
        f"{args.history:,} earlier tickets loaded and analysed first"
        if args.history
        else "fresh database: the ticket tables are empty and not yet analysed"
    )
    print()
    print(
        table(
            [
                "concurrency",
                "tickets/s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "201",
                "non-2xx",
                "sock err",
                "tickets in window (cut off)",
                "numbers = 201 bodies",
                "server CPU ms/ticket",
                "PG CPU ms/ticket",
                "wrk CPU ms/ticket",
                "CPU busy %",
                "other procs CPU %",
            ],
            [
                (
                    r.connections,
                    round(r.tickets_per_s),
                    r.p50_ms,
                    r.p90_ms,
                    r.p99_ms,
                    r.max_ms,
                    r.created_201,
                    r.other_status,
                    r.socket_errors,
                    f"{r.tickets_in_window:,} ({r.cut_off})",
                    "yes" if r.numbers_match else "NO",
                    r.server_cpu_ms,
                    r.pg_cpu_ms,
                    r.wrk_cpu_ms,
                    round(r.cpu_busy_pct),
                    round(r.other_cpu_pct),
                )
                for r in runs
            ],
        )
    )
    print()
    print(
        table(
            ["check (whole table, warm-ups included)", "value"],
            [
                ("tickets (earlier ones loaded first)", f"{check['tickets']:,} ({args.history:,})"),
                ("201 responses seen by clients", info["created_seen_by_clients"]),
                ("distinct numbers / range", f"{check['distinct_numbers']:,} / {check['numbers']}"),
                ("numbers unique and gap-free", "yes" if check["gap_free"] else "NO"),
                ("new tickets whose customer has email", check["tickets_customer_with_email"]),
                ("… with exactly one acknowledgement queued", check["acks_exactly_one"]),
                ("… without (or with more)", check["with_email_not_one_ack"]),
                ("tickets of customers without email that got one", check["without_email_but_ack"]),
                ("outbox_messages rows", check["outbox_rows"]),
                ("app inbox items: exactly one per ticket", check["app_inbox_exactly_one"]),
                ("SLA clocks", check["sla_clocks"]),
                ("acknowledgements correct", "yes" if check["acks_ok"] else "NO"),
                (
                    "bodies posted / distinct customers",
                    f"{info['bodies_posted']:,} / {info['bodies_distinct']:,}",
                ),
            ],
        )
    )
    print()
    print("PostgreSQL client backends during each measured run (mean number in each state,")
    print("sampled every 50 ms from pg_stat_activity; idle pooled connections left out):")
    for r in runs:
        print(f"  c{r.connections}: " + "; ".join(f"{v:g} {k}" for k, v in r.backends.items()))
    stmts = info.get("statements")
    if stmts:
        print()
        print(f"SQL statements per ticket (log_statement=all, {stmts['requests']} tickets,")
        print(f"c1): {stmts['per_ticket']:g}")
        for text, count in stmts["kinds"].items():
            print(f"  {count:5.2f} × {text}")
    (OUT / "tickets_intake.json").write_text(
        json.dumps(
            {"runs": [asdict(r) for r in runs], "info": info, "code": args.code},
            indent=2,
            default=str,
            ensure_ascii=False,
        )
    )
    bad = [r for r in runs if not r.numbers_match or r.other_status or r.socket_errors]
    if bad or not check["gap_free"] or not check["acks_ok"]:
        print("\nWARNING: a check failed, see above")


if __name__ == "__main__":
    sys.exit(main())
