"""`sahaya import customers FILE` and `sahaya import erpnext`."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sahaya.cli.common import database_url, default_tenant_id, with_uow
from sahaya.customers import importing
from sahaya.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Import customers")


def _tenant(url: str) -> uuid.UUID:
    settings = get_settings()
    return asyncio.run(with_uow(url, lambda uow: default_tenant_id(uow, settings)))


@app.command("customers")
def customers_csv(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    report: Annotated[Path | None, typer.Option(help="Where to write rejected rows")] = None,
    skip_existing: Annotated[bool, typer.Option(help="Leave registered numbers untouched")] = False,
) -> None:
    """Import customers from a CSV (name, phone, sub_district[, district, email, language])."""
    url = database_url()
    tenant_id = _tenant(url)
    report_path = report or file.with_suffix(".rejected.csv")
    size = file.stat().st_size
    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
        ) as bar,
        psycopg.connect(url) as conn,
    ):
        task = bar.add_task(f"importing {file.name} ({size / 1e6:.1f} MB)", total=None)
        result = importing.import_csv(
            conn,
            tenant_id=tenant_id,
            path=file,
            report_path=report_path,
            on_existing="skip" if skip_existing else "update",
            progress=lambda n: bar.update(task, completed=n),
        )
    typer.echo(result.summary())
    for reason, count in result.reasons.most_common():
        typer.echo(f"  {count:>8}  {reason}")


@app.command("erpnext")
def erpnext(
    url: Annotated[str, typer.Option(help="ERPNext base URL, e.g. https://erp.example.com")],
    token: Annotated[str, typer.Option(help="API key and secret as KEY:SECRET")],
    report: Annotated[Path, typer.Option(help="Where to write rejected contacts")] = Path(
        "var/erpnext.rejected.csv"
    ),
) -> None:
    """Import customers from ERPNext (Contact + Contact Phone + linked Customer)."""
    import csv

    from sahaya.channels.erpnext import client as erp

    if ":" not in token:
        raise typer.BadParameter("token must be KEY:SECRET")
    key, secret = token.split(":", 1)
    db = database_url()
    tenant_id = _tenant(db)
    report.parent.mkdir(parents=True, exist_ok=True)
    # Contacts that never become records (no Customer link, no phone) go to the same report.
    skipped: list[tuple[str, str]] = []
    try:
        with (
            Progress(
                TextColumn("{task.description}"), TextColumn("{task.completed:,} contacts")
            ) as bar,
            erp.ERPNextClient(url, key, secret) as client,
            psycopg.connect(db) as conn,
            report.open("w", newline="", encoding="utf-8") as handle,
        ):
            task = bar.add_task("importing from ERPNext", total=None)
            result = importing.import_records(
                conn,
                tenant_id=tenant_id,
                records=erp.customer_records(
                    client, rejected=lambda ref, reason: skipped.append((ref, reason))
                ),
                report=handle,
                source="erpnext",
                progress=lambda n: bar.update(task, completed=n),
            )
            csv.writer(handle).writerows([ref, reason, "", "", "", ""] for ref, reason in skipped)
    except erp.ERPNextError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    result.read += len(skipped)
    result.rejected += len(skipped)
    result.reasons.update(reason.split(":")[0] for _, reason in skipped)
    result.report_path = report
    typer.echo(result.summary())
    for reason, count in result.reasons.most_common():
        typer.echo(f"  {count:>8}  {reason}")
