"""The procrastinate app: every context's task blueprint, on the same PostgreSQL.

Job names are `<context>:<task>` (procrastinate's namespace separator), e.g. `worker:beat`.
"""

from __future__ import annotations

import procrastinate

from sahaya.worker import tasks as worker_tasks


def build_app(conninfo: str) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    app.add_tasks_from(worker_tasks.blueprint, namespace="worker")
    return app
