"""The procrastinate app: every context's tasks, on the same PostgreSQL.

Job names are dotted `<context>.<task>` (STYLE §7), e.g. `worker.beat`.
"""

from __future__ import annotations

import procrastinate

from sahaya.channels.email import tasks as email_tasks
from sahaya.messaging import tasks as messaging_tasks
from sahaya.tickets import tasks as ticket_tasks
from sahaya.voice import tasks as voice_tasks
from sahaya.worker import tasks as worker_tasks

_REGISTRARS = (
    worker_tasks.register,
    ticket_tasks.register,
    messaging_tasks.register,
    voice_tasks.register,
    email_tasks.register,
)


def build_app(conninfo: str) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    for register in _REGISTRARS:
        register(app)
    return app
