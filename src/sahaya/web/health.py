"""`/healthz`: is the database reachable, when did a worker last run a job, and what work
kept for the worker is still owed (`worker.backlog`).
`/livez`: is this process answering at all (no database; a load balancer's probe)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from sahaya.persistence import Database, UnitOfWork
from sahaya.web.hotlane import HOT
from sahaya.worker import services as worker
from sahaya.worker.backlog import backlog

router = APIRouter(tags=["operations"])


@HOT.route(router, "GET", "/livez")
async def livez(request: Request) -> Response:
    """The process is up and its event loop turns. The benchmarks' bare endpoint too."""
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    database: Database = request.app.state.database
    try:
        async with UnitOfWork(database) as uow:
            await uow.session.execute(text("SELECT 1"))
            beat = await worker.last_beat(uow=uow, source="periodic")
        async with database.reading() as connection:
            owed = await backlog(connection)
    except (SQLAlchemyError, OSError, psycopg.Error) as exc:
        return JSONResponse(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"},
            status_code=503,
        )
    now = datetime.now(UTC)
    worker_state = (
        {
            "last_beat": beat.beat_at.isoformat(),
            "age_seconds": round((now - beat.beat_at).total_seconds()),
        }
        if beat
        else {"last_beat": None}
    )
    return JSONResponse(
        {
            "status": "ok",
            "database": "ok",
            "worker": worker_state,
            "backlog": owed.as_json(now),  # informational: a backlog is not "unhealthy"
        }
    )
