"""Receive customers' mail over SMTP (RFC 5321), for MX setups that deliver to us directly.

The listener runs inside each worker process when `SAHAYA_SMTP_LISTEN_PORT` is set
(several workers share the port through SO_REUSEPORT) and serves on the worker's event
loop, so it uses the worker's database pool. It accepts mail only for the addresses of
active email accounts (any provider; an account that exists only for the listener has
provider `smtp`). `RCPT` for any other address is refused with 550: this is not a relay.

A 250 after DATA means the mail's event is committed (`handoff.take`); when the database
cannot be reached the answer is 451, and the sending server keeps the mail and retries.
A mail for several of our addresses is taken once per account. With a certificate
(`SAHAYA_SMTP_TLS_CERT`, `SAHAYA_SMTP_TLS_KEY`) STARTTLS is offered, as delivering MTAs
expect, and `SAHAYA_SMTP_REQUIRE_TLS` refuses mail (530) over a plain connection. There is
no authentication: run it behind the organisation's MX (which checks SPF, DKIM and DMARC)
or on a private network.

The envelope sender is recorded as `Return-Path` (as a delivering MTA does), so a bounce's
null sender `<>` is recognised like in a mailbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from sahaya.channels.email import LISTENER_PROVIDER, handoff, repository
from sahaya.channels.email.handoff import Inbox
from sahaya.messaging import accounts
from sahaya.messaging.accounts import ChannelAccount
from sahaya.persistence.unreachable import UNREACHABLE

log = logging.getLogger(__name__)

PROVIDER = LISTENER_PROVIDER
MAX_BYTES = 50 * 1024 * 1024
AccountFor = Callable[[str], Awaitable[ChannelAccount | None]]
Clock = Callable[[], datetime]

TRY_LATER = "451 4.3.0 Temporarily unable to accept mail; try again later"
NO_SUCH_USER = "550 5.1.1 No such mailbox here"


def _now() -> datetime:
    return datetime.now(UTC)


def account_source(inbox: Inbox, secret_key: str) -> AccountFor:
    """The active email account for a recipient address (cached for seconds per process)."""
    database = inbox.database

    async def find(address: str) -> ChannelAccount | None:
        key = ("email_account_for", address.strip().lower())

        async def load() -> uuid.UUID | None:
            return await repository.account_for_address(database=database, address=address)

        account_id = await database.reference_cache.get(key, load, keep_none=False)
        if account_id is None:
            return None
        return await accounts.by_id(database=database, account_id=account_id, secret_key=secret_key)

    return find


class MailHandler:
    """aiosmtpd's handler: RCPT checks the address, DATA hands the mail over."""

    def __init__(self, inbox: Inbox, account_for: AccountFor, clock: Clock = _now) -> None:
        self.inbox = inbox
        self.account_for = account_for
        self.clock = clock

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        try:
            account = await self.account_for(address)
        except UNREACHABLE as exc:
            log.warning("SMTP RCPT %s deferred, database unreachable: %s", address, exc)
            return TRY_LATER
        if account is None:
            return NO_SUCH_USER
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options or [])
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content or "").encode()
        sender = (envelope.mail_from or "").strip().strip("<>")  # aiosmtpd keeps "<>" as is
        stamped = f"Return-Path: <{sender}>\r\n".encode() + raw
        try:
            seen: set[uuid.UUID] = set()
            for address in envelope.rcpt_tos:
                account = await self.account_for(address)
                if account is None or account.id in seen:
                    continue
                seen.add(account.id)
                await handoff.take(inbox=self.inbox, account=account, raw=stamped, now=self.clock())
        except UNREACHABLE as exc:
            log.warning("SMTP mail from %s deferred (451): %s", envelope.mail_from, exc)
            return TRY_LATER
        return "250 2.0.0 OK: queued as a ticket event"


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server side of STARTTLS (TLS 1.2 or later), from a PEM chain and its key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


async def start(
    *,
    handler: MailHandler,
    host: str,
    port: int,
    hostname: str,
    reuse_port: bool = True,
    tls: ssl.SSLContext | None = None,
    require_tls: bool = False,
) -> asyncio.Server:
    """Listen on `host:port` in the running event loop; close the returned server to stop.
    With `tls`, STARTTLS is offered; with `require_tls` too, nothing but EHLO, STARTTLS,
    NOOP and QUIT is accepted before it."""
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=MAX_BYTES,
            enable_SMTPUTF8=True,
            hostname=hostname,
            ident="Sahaya",
            loop=loop,
            tls_context=tls,
            require_starttls=require_tls and tls is not None,
        )

    server = await loop.create_server(protocol, host=host, port=port, reuse_port=reuse_port)
    log.info("SMTP listener on %s:%s", host, port)
    return server


async def stop(server: asyncio.Server, grace: float = 5.0) -> None:
    server.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), grace)
