"""`sahaya events …`: the provider events kept but not processed yet — what /healthz's
backlog counts — and making them due again once their cause is fixed. Nothing accepted
is dropped (ADR 0009); this is how an operator "looks" at what keeps failing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer

from sahaya.cli.common import database_url, run, with_uow
from sahaya.messaging import inbound
from sahaya.persistence import UnitOfWork

app = typer.Typer(no_args_is_help=True, help="Provider events kept but not processed yet")


@app.command("pending")
def pending(
    failing: Annotated[bool, typer.Option(help="Only those whose processing failed")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """List unprocessed events, oldest first, with why the last try failed."""

    async def work(uow: UnitOfWork) -> list[str]:
        rows = await inbound.unprocessed_events(uow=uow, failing_only=failing, limit=limit)
        return [
            f"{row.id}  {row.kind:<8} received {row.received_at:%Y-%m-%d %H:%M:%S}Z"
            f"  tries {row.attempts}"
            + (f"  next {row.next_attempt_at:%H:%M:%S}Z" if row.next_attempt_at else "")
            + (f"\n    last error: {row.last_error}" if row.last_error else "")
            for row in rows
        ]

    lines = run(with_uow(database_url(), work, commit=False))
    typer.echo("\n".join(lines) if lines else "no unprocessed events")


@app.command("retry")
def retry(
    event_ids: Annotated[list[uuid.UUID] | None, typer.Argument(help="Events to retry")] = None,
    all_failing: Annotated[bool, typer.Option(help="Every event that failed")] = False,
) -> None:
    """Make events due now; the worker's next sweep (every 5 s) processes them."""
    if not event_ids and not all_failing:
        raise typer.BadParameter("name events to retry, or pass --all-failing")
    ids = None if all_failing else event_ids

    async def work(uow: UnitOfWork) -> int:
        return await inbound.retry_now(uow=uow, event_ids=ids, now=datetime.now(UTC))

    count = run(with_uow(database_url(), work))
    typer.echo(f"{count} event(s) due now; the worker takes them within seconds")
