"""What "the database cannot answer" looks like from a request.

`UNREACHABLE`: the connection or the pool failed (also a deadlock or serialisation failure,
which PostgreSQL reports as operational errors): nothing was accepted, and the provider —
or the sending mail server — must retry later. Other database errors (a value PostgreSQL
refuses, a bug) are not retried by the provider: callers keep the event for the retry sweep
instead, where someone can see it.

`DATABASE_FAILURES`: any database error at all, for the call gate, whose fallback policy
must answer Exotel whatever went wrong.
"""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout
from sqlalchemy import exc as sa

UNREACHABLE: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
    sa.OperationalError,
    sa.InterfaceError,
    sa.TimeoutError,  # the SQLAlchemy pool had no connection to give
    TimeoutError,
    OSError,
)
DATABASE_FAILURES: tuple[type[BaseException], ...] = (*UNREACHABLE, psycopg.Error, sa.DBAPIError)
