"""What "the database cannot answer" looks like from a request: the provider (or the
sending mail server) must retry later — nothing was accepted, so nothing is lost."""

from __future__ import annotations

from psycopg import Error as PsycopgError
from psycopg_pool import PoolTimeout
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolExhausted

UNREACHABLE: tuple[type[BaseException], ...] = (
    PsycopgError,
    PoolTimeout,
    DBAPIError,
    PoolExhausted,
    TimeoutError,
    OSError,
)
