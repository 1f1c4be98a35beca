"""Write a unit of work's new rows without the ORM's flush machinery.

A new ticket adds six to eight rows (ticket, thread entry, audit events, SLA clock,
acknowledgements); measured in-process, SQLAlchemy's flush of them was about half of the
intake's Python time. `insert_new` takes the objects the session holds as *new*, detaches
them, and inserts them with plain `INSERT`s on the unit of work's psycopg connection,
chained as data-modifying CTEs in as few statements as psycopg caches the parse of (two for
a ticket) — the same rows, one round trip.

Only for pure inserts: the objects leave the session, so later changes to them are not
written (callers use them read-only afterwards). Column defaults are applied as the ORM
would (scalars and callables without arguments); columns with a server default and no
value are left to the server. A SQL expression as a value (a ticket's search vector) is
an `Expression` written in place with its parameters bound, so every statement stays
preparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import JSONB

from sahaya.persistence.base import Base
from sahaya.persistence.uow import UnitOfWork

_ORDER: dict[Table, int] = {}


def _order(table: Table) -> int:
    if not _ORDER:
        _ORDER.update({t: i for i, t in enumerate(Base.metadata.sorted_tables)})
    return _ORDER[table]


def _default(column: Any) -> Any:
    default = column.default
    if default is None or (not default.is_scalar and not default.is_callable):
        return None
    if default.is_scalar:
        return default.arg
    try:
        return default.arg(None)  # SQLAlchemy wraps zero-argument callables to take a context
    except TypeError:
        return default.arg()


@dataclass(frozen=True, slots=True)
class Expression:
    """A column's value computed by PostgreSQL in the INSERT, e.g. a search vector:
    `Expression("to_tsvector('simple', %s)", (text,))`. Only `insert_new` understands it
    (compiling a SQLAlchemy expression per row cost ~0.1 ms of a ticket's intake)."""

    sql: str
    params: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    attr: str
    source: Any  # the Column, for its default
    server_fills: bool
    json: bool


_PLANS: dict[Table, tuple[_Column, ...]] = {}


def _plan(obj: object) -> tuple[Table, tuple[_Column, ...]]:
    """Per table, once: each column's attribute, default and how its value is bound."""
    table: Table = obj.__table__  # type: ignore[attr-defined]
    plan = _PLANS.get(table)
    if plan is None:
        mapper = obj.__mapper__  # type: ignore[attr-defined]
        plan = tuple(
            _Column(
                name=f'"{c.name}"',
                attr=mapper.get_property_by_column(c).key,
                source=c,
                server_fills=c.server_default is not None or c.identity is not None,
                json=isinstance(c.type, JSONB),
            )
            for c in table.columns
        )
        _PLANS[table] = plan
    return table, plan


@dataclass(slots=True)
class _Insert:
    """One table's INSERT: its column list and a VALUES tuple per row, in the rows' order
    (identity columns such as a thread's `seq` number them in that order)."""

    table: str
    columns: str
    rows: list[str]
    values: list[Any]

    def sql(self) -> str:
        # Names come from our own table metadata, values are bound.
        return f'INSERT INTO "{self.table}" ({self.columns}) VALUES {", ".join(self.rows)}'  # noqa: S608


def _inserts(objects: list[object]) -> list[_Insert]:
    """The rows as INSERTs, consecutive rows of one table with the same columns in one."""
    found: list[_Insert] = []
    for obj in objects:
        table, columns, row, values = _row(obj)
        last = found[-1] if found else None
        if last is not None and last.table == table and last.columns == columns:
            last.rows.append(row)
            last.values.extend(values)
        else:
            found.append(_Insert(table, columns, [row], values))
    return found


def _row(obj: object) -> tuple[str, str, str, list[Any]]:
    """(table, column list, VALUES tuple, values) of one new row."""
    table, plan = _plan(obj)
    names: list[str] = []
    holders: list[str] = []
    values: list[Any] = []
    # Straight from and into the instance's __dict__: the object leaves the session right
    # after, so the ORM's attribute instrumentation (events, history) has nothing to do.
    state = obj.__dict__
    for column in plan:
        value = state.get(column.attr)
        if value is None:
            value = _default(column.source)
            if value is not None:
                state[column.attr] = value
            elif column.server_fills:
                continue  # the server fills it
        names.append(column.name)
        if isinstance(value, Expression):  # e.g. to_tsvector('simple', %s)
            holders.append(value.sql)
            values.extend(value.params)
            continue
        holders.append("%s")
        values.append(Jsonb(value) if column.json and value is not None else value)
    return table.name, ", ".join(names), f"({', '.join(holders)})", values


# psycopg parses a query's placeholders once and caches the result, but only for queries of
# at most 4,096 characters and 50 parameters (psycopg/_queries.py); a longer one is parsed
# again on every execute. A ticket's rows as one statement were ~80 parameters and ~5 kB,
# and that parsing cost more than the round trips saved; so they go in as few statements
# as fit those limits — two for a ticket — still in one round trip.
_PARSE_CACHE_CHARS = 4096
_PARSE_CACHE_PARAMS = 50


def _combined(
    inserts: list[_Insert], last: tuple[str, tuple[object, ...]] | None
) -> list[tuple[str, list[Any]]]:
    """The inserts as few statements: within each, every table's INSERT a data-modifying
    CTE and the last INSERT — or `last`, a SELECT such as a NOTIFY — the main statement.
    PostgreSQL checks foreign keys at the end of each statement, and the rows come in
    foreign-key order, so a parent is never in a later statement than its child. One
    statement costs one send and one result instead of one per row (bench/README.md)."""
    parts: list[tuple[str, list[Any]]] = [(i.sql(), i.values) for i in inserts]
    if last is not None:
        parts.append((last[0], list(last[1])))
    statements: list[list[tuple[str, list[Any]]]] = []
    chars = params = 0
    for sql, values in parts:
        fits = chars + len(sql) + 12 <= _PARSE_CACHE_CHARS
        if not statements or not fits or params + len(values) > _PARSE_CACHE_PARAMS:
            statements.append([])
            chars = params = 0
        statements[-1].append((sql, values))
        chars += len(sql) + 12  # "wNN AS (…), "
        params += len(values)
    return [chain(group) for group in statements]


def chain(group: Sequence[tuple[str, Sequence[Any]]]) -> tuple[str, list[Any]]:
    """Data-modifying statements (INSERT, UPDATE; the last may be a SELECT) as one: all but
    the last as CTEs. One send and one result instead of one each; they all see the same
    snapshot, so none may depend on another's effect — only foreign keys, checked at the
    end of the statement. Keep the result within psycopg's parse cache (see above)."""
    *ctes, (main, _) = group
    values = [v for _, row in group for v in row]
    if not ctes:
        return main, values
    prefix = ", ".join(f"w{i} AS ({sql})" for i, (sql, _) in enumerate(ctes))
    return f"WITH {prefix} {main}", values


async def insert_new(uow: UnitOfWork, *, commit: bool = False) -> None:
    """Insert every object added to the session since the last flush, with the deferred
    NOTIFYs, in one round trip; with `commit`, the COMMIT rides in it too (a lean unit of
    work's commit)."""
    session = uow.session
    pending = sorted(session.new, key=lambda o: _order(o.__table__))
    deferred = uow.take_deferred()
    if not pending and not deferred:
        if commit and uow.has_driver:
            await (await uow.driver()).commit()
        return
    inserts = _inserts(pending)
    for obj in pending:
        session.expunge(obj)
    # A single deferred SELECT (the app inbox's NOTIFY) can end the combined statement.
    last = deferred.pop() if len(deferred) == 1 and deferred[0][0].startswith("SELECT ") else None
    driver = await uow.driver()
    async with driver.pipeline():
        for sql, values in _combined(inserts, last):
            await driver.execute(sql, values, prepare=True)
        for sql, params in deferred:
            await driver.execute(sql, params, prepare=True)
        if commit:
            # As a statement, not `driver.commit()`: that waits for its own Sync, and the
            # pipeline's exit sends another — two round trips where one does.
            await driver.execute("COMMIT")
