"""One raw mail into the ticket pipeline, the same way whether IMAP fetched it or the SMTP
listener received it: parse, thread, keep its attachments in the spool, accept.

`take` returns only once the event is committed (`channel_events.accept`); only then may
the IMAP poller mark the message seen or the listener answer 250. When the database
cannot be reached it raises one of `UNREACHABLE` and nothing was accepted: the message
stays unseen, or the sending server gets a 451 and tries again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sahaya.channels.email import repository
from sahaya.channels.email.inbound import parse
from sahaya.channels.email.spool import Spool, spool_dir
from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import InboundKind, keepable, unkeepable
from sahaya.persistence import Database
from sahaya.persistence.unreachable import UNREACHABLE
from sahaya.settings import Settings
from sahaya.tickets import channel_events
from sahaya.tickets.inbound import InboundConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inbox:
    """Everything a mail needs to become a ticket in this process."""

    database: Database
    config: InboundConfig
    spool: Spool

    @classmethod
    def from_settings(cls, database: Database, settings: Settings) -> Inbox:
        return cls(
            database=database,
            config=InboundConfig.from_settings(settings),
            spool=Spool(spool_dir(settings)),
        )


async def take(
    *,
    inbox: Inbox,
    account: ChannelAccount,
    raw: bytes,
    now: datetime,
    oversize: int | None = None,
) -> channel_events.Accepted:
    """Keep and process one mail for `account`; see the module docstring."""
    parsed = parse(
        raw,
        now=now,
        limits=inbox.config.limits,
        own=frozenset({account.address.strip().lower()}),
        oversize=oversize,
    )
    if unkeepable(parsed):  # a NUL or a lone surrogate (a broken charset): not storable
        parsed = keepable(parsed)
    message = parsed.message
    if message.kind == InboundKind.UNSUPPORTED:
        log.info(
            "email account %s: %s from %s not turned into a ticket (%s)",
            account.id,
            message.provider_message_id,
            message.address,
            message.text,
        )
    elif message.ticket_hint is None and parsed.references:
        number = await repository.ticket_answered(
            database=inbox.database, account_id=account.id, message_ids=parsed.references
        )
        if number is not None:
            message = replace(message, ticket_hint=number)
    wrote = False
    if message.media:
        wrote = await asyncio.to_thread(inbox.spool.keep, raw, parsed.sha256)
    accepted = await channel_events.accept(
        database=inbox.database,
        account=account,
        batch=[message, *parsed.receipts],
        now=now,
        config=inbox.config,
        fetch_media=inbox.spool.fetcher(),
        unreachable=UNREACHABLE,
    )
    # Processed now, or a repeat whose first copy did not need this file: it can go. A
    # deferred event, or a repeat of one that may still be waiting, keeps it.
    if message.media and not accepted.deferred and (accepted.new or wrote):
        inbox.spool.discard(parsed.sha256)
    return accepted
