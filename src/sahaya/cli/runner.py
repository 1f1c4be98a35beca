"""`sahaya run` (what `make run` calls) and `sahaya serve`.

`run` owns the embedded PostgreSQL: it starts it, migrates, seeds the demo once, then starts
`sahaya serve` and `sahaya worker` as child processes pointed at it. Ctrl-C stops the
children, then the database; the data stays under `var/` for the next run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import typer
import uvicorn

from sahaya.cli.common import database_url, default_tenant_id, run, setup_logging, with_uow
from sahaya.demo import seed as demo
from sahaya.persistence import UnitOfWork
from sahaya.persistence.migrate import upgrade
from sahaya.settings import Settings, get_settings


def serve(url: str, *, host: str, port: int, workers: int, var_dir: Path) -> None:
    os.environ["SAHAYA_DATABASE_URL"] = url  # worker processes re-read settings
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # One /metrics across processes: prometheus_client's multiprocess mode.
        metrics_dir = var_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    uvicorn.run(
        "sahaya.web.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
    )


def seed_demo(
    url: str, settings: Settings, *, customers_per_taluk: int = 3
) -> list[demo.DemoLogin]:
    path = settings.var_dir / "demo-credentials.json"
    key_file = settings.var_dir / "demo-exotel.key"
    whatsapp_file = settings.var_dir / demo.WHATSAPP_FILE
    sandbox = f"http://{settings.host}:{settings.port}{demo.WHATSAPP_SANDBOX_PATH}"
    sms_file = settings.var_dir / demo.SMS_FILE
    telegram_file = settings.var_dir / demo.TELEGRAM_FILE
    public = f"http://{settings.host}:{settings.port}"
    Credentials = dict[str, str] | None
    Result = tuple[list[demo.DemoLogin], str | None, dict[Path, Credentials]]

    async def work(uow: UnitOfWork) -> Result:
        tenant_id = await default_tenant_id(uow, settings)
        now = datetime.now(UTC)
        seeded = await demo.seed(uow=uow, tenant_id=tenant_id, now=now)
        if seeded:
            logins = await demo.seed_users(uow=uow, tenant_id=tenant_id)
            await demo.seed_customers(
                uow=uow, tenant_id=tenant_id, now=now, per_taluk=customers_per_taluk
            )
            demo.save_logins(path, logins)
        else:
            logins = demo.load_logins(path)
        key = await demo.ensure_exotel_account(uow=uow, tenant_id=tenant_id, key_file=key_file)
        whatsapp = await demo.ensure_whatsapp_account(
            uow=uow,
            tenant_id=tenant_id,
            file=whatsapp_file,
            api_base_url=sandbox,
            secret_key=settings.secret_key.get_secret_value(),
        )
        sms = await demo.ensure_sms_account(
            uow=uow,
            tenant_id=tenant_id,
            file=sms_file,
            public_base=public,
            secret_key=settings.secret_key.get_secret_value(),
        )
        telegram = await demo.ensure_telegram_account(
            uow=uow,
            tenant_id=tenant_id,
            file=telegram_file,
            api_base_url=f"{public}{demo.TELEGRAM_SANDBOX_PATH}",
            secret_key=settings.secret_key.get_secret_value(),
        )
        return logins, key, {whatsapp_file: whatsapp, sms_file: sms, telegram_file: telegram}

    logins, key, channels = run(with_uow(url, work))
    if key is not None:  # committed: now the file may name it
        demo.save_key(key_file, key)
    for file, credentials in channels.items():
        if credentials is not None:
            demo.save_credentials(file, credentials)
    return logins


def print_logins(logins: list[demo.DemoLogin]) -> None:
    if not logins:
        typer.echo("Demo logins: none recorded (seeded elsewhere); create users with the API.")
        return
    typer.echo("Demo logins (POST /api/v1/auth/login):")
    for login in logins:
        typer.echo(f"  {login.username:<16} {login.password:<20} {login.role:<11} {login.node}")


def _wait_until_up(base: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_all() -> None:
    # `kill` stops as cleanly as Ctrl-C; and Ctrl-C works even when the launching shell
    # started us with SIGINT ignored (background jobs of non-interactive shells).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    settings = get_settings()
    setup_logging(settings)
    url = database_url(settings)
    upgrade(url)
    logins = seed_demo(url, settings)
    env = {**os.environ, "SAHAYA_DATABASE_URL": url}
    command = [sys.executable, "-m", "sahaya"]
    # Own sessions: a terminal's Ctrl-C reaches only `run`, which then stops each child once
    # with SIGTERM (uvicorn re-raises a captured SIGINT after shutting down, which prints a
    # KeyboardInterrupt traceback from the lifespan; SIGTERM ends it quietly).
    children = [
        subprocess.Popen([*command, "serve"], env=env, start_new_session=True),  # noqa: S603
        subprocess.Popen([*command, "worker"], env=env, start_new_session=True),  # noqa: S603
    ]
    base = f"http://{settings.host}:{settings.port}"
    exit_code = 0
    try:
        if _wait_until_up(base):
            typer.echo("")
            typer.echo(f"Sahaya is running: {base}   (API docs: {base}/docs)")
            print_logins(logins)
            typer.echo(
                "Exotel sandbox: sahaya simulate call --from 09847012345"
                "   (flow URLs: /webhooks/exotel/{gate,dial,outcome}?key=… —"
                f" the key is in {settings.var_dir / 'demo-exotel.key'})"
            )
            typer.echo(
                'WhatsApp sandbox: sahaya simulate message --from 09847012345 "my order is late"'
            )
            typer.echo(f"SMS sandbox (app sign-in codes): {base}{demo.SMS_SANDBOX_PATH}/messages")
            typer.echo("Press Ctrl-C to stop; data stays in var/ for the next run.")
        else:
            typer.echo(f"the web server did not answer on {base}; see the log above", err=True)
            exit_code = 1
            raise KeyboardInterrupt
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        failed = [
            name
            for name, child in zip(("serve", "worker"), children, strict=True)
            if child.poll() is not None
        ]
        typer.echo(f"`sahaya {' and '.join(failed)}` stopped unexpectedly; stopping", err=True)
        exit_code = 1
    except KeyboardInterrupt:
        typer.echo("stopping…")
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    raise typer.Exit(exit_code)
