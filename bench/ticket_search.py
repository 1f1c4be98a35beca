"""Benchmark: full-text ticket search (`GET /api/v1/tickets/search?q=…`) with 1,000,000
tickets.

Starts a private embedded PostgreSQL (fsync off: the workload only reads), migrates it,
loads the tenant, services and Kerala tree, COPYs `--customers` customers and then
`--tickets` tickets: Manglish/Malayalam/English food-delivery complaints (the vocabulary
of bench/tickets_intake.py) with order numbers, amounts, times and the 78 taluks' names.
Each ticket's `search` vector is built in SQL exactly as intake builds it —
`to_tsvector('simple', number subject name phone_e164 national message)` — while copying
from an unlogged stage table; the secondary indexes (the GIN on `search` among them) are
dropped for the load and recreated with their own definitions, then `VACUUM (ANALYZE)`.

`sahaya serve --workers 2` is then driven with `wrk` per query kind, for an admin at
`kerala` (sees all tickets) and an agent at one taluk (sees ~1/78), at concurrency 1 and 4:

  * rare word     — a dish name that ~100 tickets mention
  * common word   — `order`, `food`, `delivery`, … (a third to most of all tickets)
  * phone         — a customer's 10-digit number (their ~5 tickets)
  * ticket number — `AF-012345`
  * phrase        — `"cold food"`, `"late delivery"`, … (quoted: words adjacent)

Reported: p50/p95/p99 per kind and scope (target p95 ≤ 50 ms), matches per query, and the
`EXPLAIN (ANALYZE, BUFFERS)` of the worst cell's query (the SQL the repository builds), with
the same query timed without ranking, to show where the time goes.

    .venv/bin/python bench/ticket_search.py                  # ≈ 12 min
    .venv/bin/python bench/ticket_search.py --quick          # 100k tickets, ≈ 3 min
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psutil
import psycopg

from _common import (
    OUT,
    Postgres,
    code_line,
    code_version,
    issue_token,
    log,
    median,
    prepare_database,
    private_postgres,
    restore_sigint,
    stop_process_tree,
    table,
)
from _dataset import national
from tickets_intake import (
    PATHS_LUA,
    PHRASES,
    RARE,
    Complaints,
    continue_numbering,
    copy_customers,
    run_wrk,
    start_serve,
    wait_for_turn,
)

SEARCH = "/api/v1/tickets/search?q="
COMMON = ("order", "food", "delivery", "please", "refund", "late", "cold", "rider")
KINDS = ("rare word", "common word", "phone", "ticket number", "phrase")
_STATUSES = (
    ("closed", 60),
    ("resolved", 15),
    ("open", 10),
    ("assigned", 8),
    ("new", 3),
    ("pending_customer", 4),
)
_CHANNELS = (("voice", 35), ("whatsapp", 25), ("app", 20), ("email", 8), ("api", 7), ("web", 5))
_SEVERITIES = (("minor", 70), ("major", 25), ("critical", 5))


# --------------------------------------------------------------------------- load


def _weighted(pairs: tuple[tuple[str, int], ...], rng: random.Random, n: int) -> list[str]:
    return rng.choices([p for p, _ in pairs], [w for _, w in pairs], k=n)


def _stage_lines(
    tenant_nodes: dict[str, uuid.UUID],
    customers: list[Any],
    customer_ids: list[uuid.UUID],
    count: int,
    seed: int,
    now: datetime,
) -> Any:
    """Stage rows as COPY text lines, oldest ticket first (numbers follow creation time)."""
    rng = random.Random(seed)
    words = Complaints(seed)
    start = now - timedelta(days=730)
    step = (now - start) / max(1, count)
    statuses = _weighted(_STATUSES, rng, count)
    channels = _weighted(_CHANNELS, rng, count)
    severities = _weighted(_SEVERITIES, rng, count)
    for i in range(count):
        k = rng.randrange(len(customers))
        c = customers[k]
        number = national(c.index)
        created = start + step * i
        resolved = (
            (created + timedelta(hours=rng.randrange(1, 72))).isoformat()
            if statuses[i] in ("closed", "resolved")
            else "\\N"
        )
        fields = (
            str(uuid.uuid4()),
            f"AF-{i + 1:06d}",
            str(customer_ids[k]),
            str(tenant_nodes[c.path]),
            channels[i],
            words.subject(),
            severities[i],
            statuses[i],
            c.name,
            c.email or "\\N",
            "+91" + number,
            number,
            words.message(c.place, number),
            created.isoformat(),
            resolved,
        )
        yield "\t".join(fields) + "\n"


STAGE = """CREATE UNLOGGED TABLE bench_stage (
    id uuid, number text, customer_id uuid, node_id uuid, channel text, subject text,
    severity text, status text, contact_name text, contact_email text, contact_phone text,
    national text, message text, created_at timestamptz, resolved_at timestamptz)"""

# The same words, in the same order, as tickets.services.open_ticket indexes at intake.
MOVE = """INSERT INTO tickets (id, tenant_id, number, customer_id, service_code, channel,
        node_id, subject, severity, status, tags, contact_name, contact_email, contact_phone,
        custom_fields, approval, search, created_at, updated_at, first_responded_at,
        resolved_at, closed_at)
    SELECT id, %(tenant)s, number, customer_id, 'apnafood', channel, node_id, subject,
        severity, status, '{}', contact_name, contact_email, contact_phone, '{}'::jsonb,
        'not_needed',
        to_tsvector('simple', concat_ws(' ', number, subject, contact_name, contact_phone,
                                        national, message)),
        created_at, coalesce(resolved_at, created_at), created_at + interval '20 minutes',
        resolved_at, CASE WHEN status = 'closed' THEN resolved_at END
    FROM bench_stage WHERE (get_byte(uuid_send(id), 15) %% %(parts)s) = %(part)s"""


def load_tickets(
    pg: Postgres,
    tenant_id: uuid.UUID,
    customers: list[Any],
    count: int,
    *,
    ending: datetime | None = None,
) -> dict:
    """COPY into a stage table, then INSERT … SELECT with to_tsvector in two parallel
    parts, without secondary indexes; recreate them; VACUUM ANALYZE. The tickets span the
    two years before `ending` (default: now)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with psycopg.connect(pg.url) as conn:
        nodes = dict(
            conn.execute(
                "SELECT path, id FROM nodes WHERE tenant_id = %s AND level = 'sub_district'",
                (tenant_id,),
            ).fetchall()
        )
        ids = dict(
            conn.execute(
                "SELECT phone_e164, id FROM customers WHERE tenant_id = %s", (tenant_id,)
            ).fetchall()
        )
        customer_ids = [ids["+91" + national(c.index)] for c in customers]
        conn.execute(STAGE)
        with conn.cursor().copy("COPY bench_stage FROM STDIN") as copy:
            chunk: list[str] = []
            lines = _stage_lines(
                nodes, customers, customer_ids, count, 20261123, ending or datetime.now(UTC)
            )
            for line in lines:
                chunk.append(line)
                if len(chunk) >= 5_000:
                    copy.write("".join(chunk).encode())
                    chunk = []
            if chunk:
                copy.write("".join(chunk).encode())
        conn.commit()
        timings["generate + COPY stage (s)"] = time.perf_counter() - started
        log(f"staged {count:,} tickets in {timings['generate + COPY stage (s)']:.1f}s")
        indexes = conn.execute(
            """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tickets'
               AND indexname NOT IN ('pk_tickets')"""
        ).fetchall()
        constraints = {
            r[0]
            for r in conn.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'tickets'::regclass"
            )
        }
        for name, _ in indexes:
            if name in constraints:
                conn.execute(f'ALTER TABLE tickets DROP CONSTRAINT "{name}"')
            else:
                conn.execute(f'DROP INDEX "{name}"')
        conn.commit()
    step = time.perf_counter()
    errors: list[BaseException] = []

    def move(part: int, parts: int) -> None:
        try:
            with psycopg.connect(pg.url) as c:
                c.execute("SET session_replication_role = replica")  # no FK triggers
                c.execute(MOVE, {"tenant": tenant_id, "parts": parts, "part": part})
                c.commit()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    parts = max(1, min(2, psutil.cpu_count() or 1))
    threads = [threading.Thread(target=move, args=(p, parts)) for p in range(parts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    timings["INSERT … to_tsvector (s)"] = time.perf_counter() - step
    log(f"moved into tickets with to_tsvector in {timings['INSERT … to_tsvector (s)']:.1f}s")
    step = time.perf_counter()
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("DROP TABLE bench_stage")
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        for name, definition in indexes:
            if name in constraints:
                columns = definition.split("USING btree ", 1)[1]
                conn.execute(f'ALTER TABLE tickets ADD CONSTRAINT "{name}" UNIQUE {columns}')
            else:
                conn.execute(definition)
        timings["recreate indexes (s)"] = time.perf_counter() - step
        log(f"indexes recreated in {timings['recreate indexes (s)']:.1f}s")
        step = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) tickets")
        conn.execute("VACUUM (ANALYZE) customers")
        timings["VACUUM ANALYZE (s)"] = time.perf_counter() - step
        continue_numbering(conn, tenant_id, "AF", count)
        sizes = conn.execute(
            """SELECT pg_table_size('tickets'), pg_relation_size('ix_tickets_search'),
                      pg_total_relation_size('tickets')"""
        ).fetchone()
        assert sizes is not None
        now_defs = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tickets'"
            )
        }
    same = all(now_defs.get(name) == definition for name, definition in indexes)
    if not same:
        raise RuntimeError(f"indexes differ after the load: {now_defs}")
    timings["total load (s)"] = time.perf_counter() - started
    return {
        "timings": timings,
        "table_mb": sizes[0] / 1e6,
        "gin_mb": sizes[1] / 1e6,
        "total_mb": sizes[2] / 1e6,
    }


# --------------------------------------------------------------------------- queries


@dataclass
class Query:
    kind: str
    text: str
    matches: int = -1


_COUNT = "SELECT count(*) FROM tickets WHERE search @@ websearch_to_tsquery('simple', %(q)s)"
_COUNT_UNDER = (
    _COUNT  # noqa: S608 - constant text
    + " AND node_id IN (SELECT id FROM nodes WHERE path = %(path)s OR path LIKE %(under)s)"
)


def count_matches(conn: psycopg.Connection, text: str, path: str) -> int:
    """Tickets matching `text` at or under `path` (every ticket is under `kerala`)."""
    row = conn.execute(
        _COUNT if path == "kerala" else _COUNT_UNDER,
        {"q": text, "path": path, "under": path + "/%"},
    ).fetchone()
    return int(row[0]) if row else 0


def pick_queries(
    pg: Postgres, tenant_id: uuid.UUID, taluk: str, per_kind: int, seed: int = 5
) -> dict[str, dict[str, list[Query]]]:
    """Per scope (`kerala`, the taluk) and kind: the query texts, with match counts."""
    rng = random.Random(seed)
    out: dict[str, dict[str, list[Query]]] = {"kerala": {}, taluk: {}}
    with psycopg.connect(pg.url, autocommit=True) as conn:
        rare = [(w, count_matches(conn, w, "kerala")) for w in RARE]
        rare = [(w, n) for w, n in rare if 20 <= n <= 1_000]
        tickets_total = conn.execute("SELECT count(*) FROM tickets").fetchone()
        assert tickets_total is not None
        counted = sorted(
            ((w, count_matches(conn, w, "kerala")) for w in COMMON), key=lambda x: -x[1]
        )
        # Common, but not in (nearly) every ticket: a word someone would type.
        common = [(w, n) for w, n in counted if 0.05 <= n / tickets_total[0] <= 0.6][:4]
        common = common or counted[:4]
        for scope in ("kerala", taluk):
            where = "TRUE" if scope == "kerala" else "n.path = %(taluk)s"
            numbers = [
                r[0]
                for r in conn.execute(
                    f"""SELECT t.number FROM tickets t JOIN nodes n ON n.id = t.node_id
                        WHERE {where} ORDER BY random() LIMIT %(n)s""",  # noqa: S608
                    {"taluk": taluk, "n": per_kind},
                )
            ]
            phones = [
                r[0].removeprefix("+91")
                for r in conn.execute(
                    f"""SELECT DISTINCT t.contact_phone FROM tickets t
                        JOIN nodes n ON n.id = t.node_id
                        WHERE {where} AND t.id IN (
                            SELECT id FROM tickets TABLESAMPLE SYSTEM (5))
                        LIMIT %(n)s""",  # noqa: S608
                    {"taluk": taluk, "n": per_kind},
                )
            ]
            rng.shuffle(phones)
            kinds = {
                "rare word": [Query("rare word", w) for w, _ in rare],
                "common word": [Query("common word", w) for w, _ in common],
                "phone": [Query("phone", p) for p in phones],
                "ticket number": [Query("ticket number", n) for n in numbers],
                "phrase": [Query("phrase", p) for p in PHRASES],
            }
            for kind, queries in kinds.items():
                sample = queries if kind in ("common word", "phrase") else queries[:10]
                for q in sample:
                    q.matches = count_matches(conn, q.text, scope)
            out[scope] = kinds
    log(
        "queries: rare "
        + ", ".join(f"{w} {n}" for w, n in rare[:6])
        + " …; common "
        + ", ".join(f"{w} {n:,}" for w, n in common)
        + f" (of {tickets_total[0]:,})"
    )
    return out


def write_paths(path: Path, queries: list[Query]) -> Path:
    with path.open("w") as out:
        for q in queries:
            out.write(SEARCH + quote(q.text, safe="") + "\n")
    return path


def sanity(base: str, tokens: dict[str, str], queries: dict[str, dict[str, list[Query]]]) -> None:
    """The searches find what they should, inside the caller's subtree."""
    taluk = next(s for s in queries if s != "kerala")
    with httpx.Client(base_url=base, timeout=60) as http:

        def get(scope: str, text: str) -> list[dict[str, Any]]:
            headers = {"Authorization": f"Bearer {tokens[scope]}"}
            response = http.get(SEARCH + quote(text, safe=""), headers=headers)
            assert response.status_code == 200, response.text
            return list(response.json())

        number = queries["kerala"]["ticket number"][0].text
        found = get("kerala", number)
        assert found, number
        assert found[0]["number"] == number, (number, found[:1])
        phone = queries["kerala"]["phone"][0]
        found = get("kerala", phone.text)
        assert len(found) == min(20, phone.matches), (phone, len(found))
        local = get(taluk, queries[taluk]["ticket number"][0].text)
        assert len(local) == 1, local
        assert local[0]["node"] == taluk, local
        assert all(t["node"] == taluk for t in get(taluk, "order"))
        outsider = next(
            q.text
            for q in queries["kerala"]["ticket number"]
            if q.text not in {x.text for x in queries[taluk]["ticket number"]}
        )
        elsewhere = get(taluk, outsider)
        assert all(t["node"] == taluk for t in elsewhere), elsewhere
        rare = queries["kerala"]["rare word"][0]
        assert len(get("kerala", rare.text)) == min(20, rare.matches)
    log("sanity: numbers, phones, words and the taluk scope answer as they should")


# --------------------------------------------------------------------------- timing


@dataclass
class Cell:
    scope: str
    kind: str
    concurrency: int
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    errors: int
    matches_median: float
    distinct_queries: int


def measure(
    base: str,
    lua: Path,
    paths: Path,
    queries: list[Query],
    token: str,
    scope: str,
    concurrency: int,
    args: argparse.Namespace,
) -> Cell:
    headers = {"Authorization": f"Bearer {token}"}
    seconds = args.duration
    if args.warmup > 0:
        warm, _ = run_wrk(
            base,
            lua,
            [str(paths)],
            seconds=args.warmup,
            connections=concurrency,
            headers=headers,
            timeout=60,
        )
        # Slow queries: stretch the cell so it still collects ~`min_samples` latencies.
        if warm["requests"]:
            per_request = warm["mean_us"] / 1e6 / concurrency
            seconds = min(args.max_cell, max(seconds, per_request * args.min_samples))
    wait_for_turn(args.wait_others, args.quiet_wait)
    figures, _ = run_wrk(
        base,
        lua,
        [str(paths)],
        seconds=seconds,
        connections=concurrency,
        headers=headers,
        timeout=60,
    )
    counted = [q.matches for q in queries if q.matches >= 0]
    cell = Cell(
        scope=scope,
        kind=queries[0].kind,
        concurrency=concurrency,
        requests=int(figures["requests"]),
        rps=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p95_ms=figures["p95_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        non_2xx=int(figures["status_errors"]),
        errors=int(
            figures["connect_errors"]
            + figures["read_errors"]
            + figures["write_errors"]
            + figures["timeouts"]
        ),
        matches_median=median(counted),
        distinct_queries=len(queries),
    )
    log(
        f"{scope} {cell.kind} c{concurrency}: {cell.requests} requests, p50 {cell.p50_ms:.1f}"
        f" p95 {cell.p95_ms:.1f} p99 {cell.p99_ms:.1f} ms, matches ~{cell.matches_median:,.0f}"
    )
    return cell


def search_sql(
    tenant_id: uuid.UUID, node_ids: list[uuid.UUID] | None, text: str
) -> tuple[str, dict[str, Any]]:
    """The statement `TicketRepository.search` sends, compiled for psycopg, with params
    (`node_ids`: the scope's nodes as `tickets.services.search` passes them; None = all)."""
    from sqlalchemy.dialects.postgresql import psycopg as dialect

    from sahaya.tickets.repository import TicketRepository

    class Capture:
        statement: Any = None

        async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
            self.statement = statement

            class Empty:
                def all(self) -> list[Any]:
                    return []

            return Empty()

    capture = Capture()
    asyncio.run(
        TicketRepository(capture).search(  # type: ignore[arg-type]
            tenant_id=tenant_id, node_ids=node_ids, query=text, limit=20
        )
    )
    compiled = capture.statement.compile(
        dialect=dialect.dialect(), compile_kwargs={"render_postcompile": True}
    )
    return compiled.string, dict(compiled.params)


def explain_worst(
    pg: Postgres,
    tenant_id: uuid.UUID,
    cell: Cell,
    queries: list[Query],
    taluk: str,
) -> dict[str, Any]:
    """For a (worst) cell: its slowest query (each of up to 12 timed once) under
    EXPLAIN (ANALYZE, BUFFERS); that query timed as shipped, ranked by ts_rank and newest
    first; how long counting and ranking every match takes. Statements are not prepared
    (psycopg's prepare_threshold=None), so each run is planned for its own values, as
    EXPLAIN plans it; the server's connections prepare a statement after 5 executions and
    PostgreSQL may then switch to a generic plan."""
    root = "kerala" if cell.scope == "kerala" else taluk
    found: dict[str, Any] = {"scope": cell.scope, "kind": cell.kind, "p95_ms": cell.p95_ms}
    with psycopg.connect(pg.url, autocommit=True, prepare_threshold=None) as conn:
        inside = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM nodes WHERE tenant_id = %s AND (path = %s OR path LIKE %s)",
                (tenant_id, root, root + "/%"),
            ).fetchall()
        ]
        total = conn.execute("SELECT count(*) FROM nodes WHERE tenant_id = %s", (tenant_id,))
        all_nodes = int(total.fetchone()[0])  # type: ignore[index]
        node_ids = None if len(inside) == all_nodes else inside

        def timed(statement: str, params: dict[str, Any], runs: int = 3) -> float:
            took = []
            for _ in range(runs):
                t0 = time.perf_counter()
                conn.execute(statement, params).fetchall()
                took.append((time.perf_counter() - t0) * 1000)
            return median(took)

        slowest = max(
            queries[:12], key=lambda q: timed(*search_sql(tenant_id, node_ids, q.text), runs=1)
        )
        sql, params = search_sql(tenant_id, node_ids, slowest.text)
        found["query"] = slowest.text
        found["matches"] = count_matches(conn, slowest.text, root)
        found["shipped_order"] = sql[sql.index("ORDER BY") :].split("\n")[0].strip()
        for _ in range(2):  # the second run is the warm one
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
        found["plan"] = [r[0] for r in plan]
        variants = {"as shipped": sql}
        tsquery = re.search(r"@@ (websearch_to_tsquery\(.*?::VARCHAR\))", sql)
        if tsquery is not None:  # a full-text query: its orderings
            head = sql[: sql.index("ORDER BY")]
            limit = "\n LIMIT %(param_1)s::INTEGER"
            variants["ranked: ORDER BY ts_rank DESC, created_at DESC"] = (
                head
                + f"ORDER BY ts_rank(tickets.search, {tsquery.group(1)}) DESC,"
                + " tickets.created_at DESC"
                + limit
            )
            variants["newest first: ORDER BY created_at DESC"] = (
                head + "ORDER BY tickets.created_at DESC" + limit
            )
        found["variants_ms"] = {name: timed(text, params) for name, text in variants.items()}
        if tsquery is not None:
            found["count_all_ms"] = timed(
                "SELECT count(*) FROM tickets WHERE search @@ " + tsquery.group(1),  # noqa: S608
                params,
            )
            rank_all = f"SELECT max(ts_rank(search, {tsquery.group(1)})) FROM tickets WHERE "  # noqa: S608
            found["rank_all_ms"] = timed(rank_all + f"search @@ {tsquery.group(1)}", params)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--taluk", default="kerala/ernakulam/kochi")
    parser.add_argument("--concurrency", default="1,4", help="comma-separated wrk connections")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds a cell")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds a cell")
    parser.add_argument("--workers", type=int, default=2, help="sahaya serve --workers")
    parser.add_argument("--min-samples", type=int, default=40, help="stretch slow cells")
    parser.add_argument("--max-cell", type=float, default=60.0, help="… up to this many s")
    parser.add_argument("--per-kind", type=int, default=200, help="distinct phones/numbers")
    parser.add_argument("--quick", action="store_true", help="100k tickets, 5 s cells")
    parser.add_argument("--quiet-wait", type=float, default=30.0)
    parser.add_argument("--wait-others", type=float, default=1800.0)
    args = parser.parse_args()
    if args.quick:
        args.tickets, args.customers, args.duration = 100_000, 20_000, 5.0
    restore_sigint()
    if not shutil.which("wrk"):
        parser.error("wrk is required (apt-get install wrk)")
    args.code = code_version()
    OUT.mkdir(parents=True, exist_ok=True)
    wait_for_turn(args.wait_others, quiet=0)
    work = Path(tempfile.mkdtemp(prefix="sahaya-bench-search-data-"))
    cells: list[Cell] = []
    info: dict[str, Any] = {}
    try:
        with private_postgres("sahaya-bench-search-", fast_and_unsafe=True) as pg:
            tenant_id = prepare_database(pg.url)
            customers = copy_customers(pg, tenant_id, args.customers, email_share=0.5)
            info["load"] = load_tickets(pg, tenant_id, customers, args.tickets)
            del customers
            queries = pick_queries(pg, tenant_id, args.taluk, args.per_kind)
            tokens = {
                "kerala": issue_token(pg.url, tenant_id, "admin", "kerala"),
                args.taluk: issue_token(pg.url, tenant_id, "agent", args.taluk),
            }
            lua = work / "paths.lua"
            lua.write_text(PATHS_LUA)
            server, base = start_serve(pg, args.workers, work / "var", "ticket_search-serve.log")
            try:
                sanity(base, tokens, queries)
                for scope, kinds in queries.items():
                    for kind in KINDS:
                        paths = write_paths(work / f"{kind}.txt", kinds[kind])
                        for c in (int(x) for x in args.concurrency.split(",")):
                            cells.append(
                                measure(
                                    base, lua, paths, kinds[kind], tokens[scope], scope, c, args
                                )
                            )
            finally:
                code = stop_process_tree(server)
                log(f"server stopped, exit code {code}")
            info["worst"] = []
            for scope in queries:
                worst = max((c for c in cells if c.scope == scope), key=lambda c: c.p95_ms)
                info["worst"].append(
                    explain_worst(pg, tenant_id, worst, queries[scope][worst.kind], args.taluk)
                )
            with psycopg.connect(pg.url) as conn:
                row = conn.execute(
                    """SELECT avg(pg_column_size(search)), avg(length(search)),
                              current_setting('shared_buffers')
                       FROM tickets TABLESAMPLE SYSTEM (1)"""
                ).fetchone()
                assert row is not None
                info["tsvector_bytes_avg"], info["lexemes_avg"] = float(row[0]), float(row[1])
                info["shared_buffers"] = row[2]
            info["queries"] = {
                scope: {k: [asdict(q) for q in v[:12]] for k, v in kinds.items()}
                for scope, kinds in queries.items()
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(cells, info, args)
    return 0


def report(cells: list[Cell], info: dict[str, Any], args: argparse.Namespace) -> None:
    load = info["load"]
    print()
    print(
        f"## ticket search: {args.tickets:,} tickets ({load['table_mb']:,.0f} MB heap+toast,"
        f" GIN {load['gin_mb']:,.0f} MB, {load['total_mb']:,.0f} MB with indexes),"
        f" sahaya serve --workers {args.workers}, wrk 1 thread,"
        f" {args.duration:g}s a cell (slow ones up to {args.max_cell:g}s) after"
        f" {args.warmup:g}s warm-up,"
        f" {psutil.cpu_count()} cores shared; target p95 ≤ 50 ms"
    )
    print(code_line(args.code))
    print()
    print(
        table(
            [
                "scope",
                "kind",
                "conc",
                "requests",
                "req/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "matches (median)",
                "distinct queries",
                "non-2xx",
                "p95 ≤ 50",
            ],
            [
                (
                    "admin at kerala" if c.scope == "kerala" else f"agent at {c.scope}",
                    c.kind,
                    c.concurrency,
                    c.requests,
                    round(c.rps, 1),
                    c.p50_ms,
                    c.p95_ms,
                    c.p99_ms,
                    c.max_ms,
                    round(c.matches_median),
                    c.distinct_queries,
                    c.non_2xx + c.errors,
                    "yes" if c.p95_ms <= 50 else "NO",
                )
                for c in cells
            ],
        )
    )
    print()
    print(table(["load step", "seconds"], [(k, round(v, 1)) for k, v in load["timings"].items()]))
    print(
        f"\ntsvector {info['tsvector_bytes_avg']:.0f} bytes / {info['lexemes_avg']:.0f} lexemes"
        f" per ticket on average; shared_buffers {info['shared_buffers']} of"
        f" {load['total_mb']:,.0f} MB of tickets: the rest comes from the OS page cache"
    )
    for worst in info["worst"]:
        print()
        print(
            f"Worst cell at {worst['scope']}: {worst['kind']} (p95 {worst['p95_ms']:.0f} ms)."
            f" Its slowest query {worst['query']!r} matches {worst['matches']:,} tickets in"
            f" scope; shipped order: {worst['shipped_order']}"
        )
        if "count_all_ms" in worst:
            print(
                f"Counting every match state-wide {worst['count_all_ms']:.0f} ms; ts_rank of"
                f" every match {worst['rank_all_ms']:.0f} ms."
            )
        print(
            table(
                ["same query from psycopg, not prepared (median of 3)", "ms"],
                [(k, round(v, 1)) for k, v in worst["variants_ms"].items()],
            )
        )
        print("EXPLAIN (ANALYZE, BUFFERS), as shipped:")
        for line in worst["plan"]:
            print("  " + line)
    (OUT / "ticket_search.json").write_text(
        json.dumps(
            {"cells": [asdict(c) for c in cells], "info": info, "code": args.code},
            indent=2,
            default=str,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
