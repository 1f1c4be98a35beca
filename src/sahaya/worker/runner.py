"""Run a worker process until it is told to stop."""

from __future__ import annotations

import logging

from sahaya.channels.email.smtp import SmtpSender
from sahaya.channels.exotel.api import ExotelCalls
from sahaya.persistence import Database
from sahaya.settings import Settings, get_settings
from sahaya.worker.app import build_app

log = logging.getLogger(__name__)


async def run_worker(
    database_url: str,
    *,
    concurrency: int = 4,
    fetch_job_polling_interval: float = 5.0,
    install_signal_handlers: bool = True,
    settings: Settings | None = None,
) -> None:
    # One sender per process; None (no SMTP host) leaves email queued, see messaging.tasks.
    sender = SmtpSender.from_settings(settings or get_settings())
    database = Database(database_url, pool_size=max(2, concurrency))
    app = build_app(database.url)
    placer = ExotelCalls()
    try:
        async with app.open_async():
            log.info("worker started (concurrency %s)", concurrency)
            await app.run_worker_async(
                concurrency=concurrency,
                additional_context={
                    "database": database,
                    "sender": sender,
                    "call_placer": placer,
                },
                fetch_job_polling_interval=fetch_job_polling_interval,
                install_signal_handlers=install_signal_handlers,
                # Periodic sweeps run every second; keep only failed jobs for inspection.
                delete_jobs="successful",
            )
    finally:
        await placer.close()
        await database.dispose()
