"""`sahaya` — serve, work, migrate, seed, issue tokens, import customers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer

from sahaya.access import Role
from sahaya.access import services as access
from sahaya.cli import channels, events, imports, runner, simulate
from sahaya.cli.common import database_url, default_tenant_id, run, setup_logging, with_uow
from sahaya.errors import SahayaError
from sahaya.network import services as network
from sahaya.persistence import UnitOfWork
from sahaya.persistence.migrate import upgrade
from sahaya.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Sahaya contact centre", add_completion=False)
demo_app = typer.Typer(no_args_is_help=True, help="Demo data")
token_app = typer.Typer(no_args_is_help=True, help="API tokens")
exotel_app = typer.Typer(no_args_is_help=True, help="Exotel accounts (voice)")
app.add_typer(demo_app, name="demo")
app.add_typer(token_app, name="token")
app.add_typer(exotel_app, name="exotel")
app.add_typer(channels.app, name="channel")
app.add_typer(imports.app, name="import")
app.add_typer(simulate.app, name="simulate")
app.add_typer(events.app, name="events")
app.command("run", help="Database, migrations, demo data, web server and worker, together.")(
    runner.run_all
)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: SAHAYA_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: SAHAYA_PORT")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes; default SAHAYA_WEB_WORKERS")
    ] = None,
) -> None:
    """Run the web server (API, webhooks, console)."""
    settings = get_settings()
    setup_logging(settings)
    runner.serve(
        database_url(settings),
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.web_workers,
        var_dir=settings.var_dir,
    )


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs at once")] = None,
) -> None:
    """Run a background worker (timers, deliveries, sweeps)."""
    from sahaya.worker.runner import run_worker

    settings = get_settings()
    setup_logging(settings)
    asyncio.run(
        run_worker(database_url(settings), concurrency=concurrency or settings.worker_concurrency)
    )


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = get_settings()
    setup_logging(settings)
    upgrade(database_url(settings))
    typer.echo("database is up to date")


@app.command("db-url")
def db_url() -> None:
    """Print the database URL in use (starting the embedded server if needed)."""
    typer.echo(database_url())


@demo_app.command("seed")
def demo_seed(
    customers_per_taluk: Annotated[int, typer.Option(min=0, max=1000)] = 3,
) -> None:
    """Load the demo network, users and customers (once)."""
    settings = get_settings()
    url = database_url(settings)
    upgrade(url)
    logins = runner.seed_demo(url, settings, customers_per_taluk=customers_per_taluk)
    runner.print_logins(logins)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, supervisor or agent")],
    node: Annotated[str, typer.Option(help="Node id or path, e.g. kerala/ernakulam")] = "kerala",
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
) -> None:
    """Create an integration token and print it (it is shown only this once)."""

    try:
        chosen = Role(role)
    except ValueError:
        raise typer.BadParameter(
            f"role must be one of admin, supervisor, agent (got {role!r})"
        ) from None
    settings = get_settings()
    url = database_url(settings)

    async def work(uow: UnitOfWork) -> str:
        tenant_id = await default_tenant_id(uow, settings)
        found = await network.node_or_raise(uow=uow, tenant_id=tenant_id, ref=node)
        issued = await access.issue_token(
            uow=uow, tenant_id=tenant_id, name=name, role=chosen, node=found, now=datetime.now(UTC)
        )
        return issued.token

    try:
        typer.echo(run(with_uow(url, work)))
    except SahayaError as exc:
        raise typer.BadParameter(exc.detail) from None


@exotel_app.command("add")
def exotel_add(
    caller_id: Annotated[str, typer.Option(help="The toll-free ExoPhone, e.g. 04842000000")],
    name: Annotated[str, typer.Option(help="A name for the account")] = "exotel",
    verify_number: Annotated[str, typer.Option(help="ExoPhone for missed-call checks")] = "",
    account_sid: Annotated[str, typer.Option(help="Exotel account SID (callbacks)")] = "",
    api_key: Annotated[str, typer.Option(help="API key (callbacks)")] = "",
    api_token: Annotated[str, typer.Option(help="API token (callbacks)")] = "",
    api_base_url: Annotated[str, typer.Option(help="Cluster")] = "https://api.in.exotel.com",
) -> None:
    """Add an Exotel account and print its webhook key and flow URLs (shown this once)."""
    from sahaya.voice import services as voice

    settings = get_settings()
    url = database_url(settings)

    async def work(uow: UnitOfWork) -> str:
        tenant_id = await default_tenant_id(uow, settings)
        _, key = await voice.create_account(
            uow=uow,
            tenant_id=tenant_id,
            name=name,
            caller_id=caller_id,
            verify_number=verify_number,
            account_sid=account_sid,
            api_base_url=api_base_url,
            api_key=api_key,
            api_token=api_token,
            secret=settings.secret_key.get_secret_value(),
        )
        return key

    key = run(with_uow(url, work))
    base = settings.voice_public_url or f"http://{settings.host}:{settings.port}"
    typer.echo(f"webhook key: {key}")
    for step in ("gate", "dial", "outcome"):
        typer.echo(f"  {step:<8} {base}/webhooks/exotel/{step}?key={key}")
    typer.echo(f"  status   {base}/webhooks/exotel/status?key={key}  (POST)")


def main() -> None:
    app()
