"""Run a worker process until it is told to stop."""

from __future__ import annotations

import asyncio
import logging
from email.utils import parseaddr

import httpx

from sahaya.channels import registry
from sahaya.channels.email.handoff import Inbox
from sahaya.channels.email.spool import spool_dir
from sahaya.channels.exotel.api import ExotelCalls
from sahaya.persistence import Database
from sahaya.settings import Settings, get_settings
from sahaya.tickets.attachments import AttachmentStore
from sahaya.worker.app import build_app

log = logging.getLogger(__name__)


async def _start_mail_listener(database: Database, settings: Settings) -> asyncio.Server | None:
    """The SMTP listener for inbound mail, when `SAHAYA_SMTP_LISTEN_PORT` asks for one."""
    if not settings.smtp_listen_port:
        return None
    from sahaya.channels.email import listener  # aiosmtpd: only needed when listening

    inbox = Inbox.from_settings(database, settings)
    handler = listener.MailHandler(
        inbox, listener.account_source(inbox, settings.secret_key.get_secret_value())
    )
    cert, key = settings.smtp_tls_cert, settings.smtp_tls_key
    return await listener.start(
        handler=handler,
        host=settings.smtp_listen_host,
        port=settings.smtp_listen_port,
        hostname=parseaddr(settings.mail_from)[1].rpartition("@")[2] or "sahaya",
        tls=None if cert is None or key is None else listener.tls_context(cert, key),
        require_tls=settings.smtp_require_tls,
    )


async def _stop_mail_listener(server: asyncio.Server) -> None:
    from sahaya.channels.email import listener

    await listener.stop(server)


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
    mail_spool = spool_dir(config)
    mail_listener: asyncio.Server | None = None
    try:
        mail_listener = await _start_mail_listener(database, config)
        async with app.open_async():
            log.info("worker started (concurrency %s)", concurrency)
            await app.run_worker_async(
                concurrency=concurrency,
                additional_context={
                    "database": database,
                    "senders": senders,
                    # Replies' files, read by SHA-256 from the attachment store.
                    "read_file": AttachmentStore(config.var_dir / "attachments").read,
                    "call_placer": placer,
                    "settings": config,
                    # For the retry sweep of channel events (tickets.tasks).
                    "channel_accounts": registry.account_source(database, config),
                    "media_fetcher_for": lambda account: registry.media_fetcher(
                        account, http, mail_spool=mail_spool
                    ),
                },
                fetch_job_polling_interval=fetch_job_polling_interval,
                install_signal_handlers=install_signal_handlers,
                # Periodic sweeps run every second; keep only failed jobs for inspection.
                delete_jobs="successful",
            )
    finally:
        if mail_listener is not None:
            await _stop_mail_listener(mail_listener)
        await placer.close()
        await http.aclose()
        await database.dispose()
