"""Run a worker process until it is told to stop."""

from __future__ import annotations

import logging

import httpx

from sahaya.channels import registry
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
    config = settings or get_settings()
    database = Database(database_url, pool_size=max(2, concurrency))
    app = build_app(database.url)
    placer = ExotelCalls()
    http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0))
    # One set of senders per process; no SMTP host leaves email queued (messaging.tasks).
    senders = registry.senders(database, config, http)
    try:
        async with app.open_async():
            log.info("worker started (concurrency %s)", concurrency)
            await app.run_worker_async(
                concurrency=concurrency,
                additional_context={
                    "database": database,
                    "senders": senders,
                    "call_placer": placer,
                    "settings": config,
                    # For the retry sweep of channel events (tickets.tasks).
                    "channel_accounts": registry.account_source(database, config),
                    "media_fetcher_for": lambda account: registry.media_fetcher(account, http),
                },
                fetch_job_polling_interval=fetch_job_polling_interval,
                install_signal_handlers=install_signal_handlers,
                # Periodic sweeps run every second; keep only failed jobs for inspection.
                delete_jobs="successful",
            )
    finally:
        await placer.close()
        await http.aclose()
        await database.dispose()
