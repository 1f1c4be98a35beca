"""Accepting a webhook's events without losing any: keep, process, commit — then 2xx.

A single message (the usual webhook) is kept by one statement that also threads it when it
is the commonest case, a known customer writing again (`tickets.fast_thread`, ADR 0012).
Any other message is then processed at once, in a transaction of its own, as the retry
sweep would; if that fails the event stays kept with the error, the provider still gets its
2xx, and the sweep (`retry_pending`, run by the worker) processes it later. Other webhooks
(several events, delivery receipts) take one transaction: each event is inserted under its
provider key (a repeat finds it and does nothing) and processed right there; if processing
fails, that transaction is rolled back and the events are kept alone, unprocessed, with
the error. If the database cannot be reached before an event is kept, the exception
propagates: the webhook answers 503 and the provider retries — nothing was accepted, so
nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sahaya.customers import CustomerRow
from sahaya.messaging import inbound as events
from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import InboundMessage, Receipt
from sahaya.messaging.ports import MediaFetcher
from sahaya.network import NodeRow
from sahaya.persistence import Database, UnitOfWork
from sahaya.persistence.uow import NeedsSession
from sahaya.tickets import fast_thread
from sahaya.tickets.inbound import InboundConfig, Received, receive, service_code_for

log = logging.getLogger(__name__)

FetcherFor = Callable[[ChannelAccount], MediaFetcher | None]
AccountSource = Callable[[uuid.UUID], Awaitable[ChannelAccount | None]]
# Errors that mean "the database is not there": the provider must retry, not us.
Unreachable = tuple[type[BaseException], ...]


@dataclass(slots=True)
class Accepted:
    new: int = 0
    repeated: int = 0
    deferred: int = 0  # kept unprocessed for the retry sweep
    outcomes: list[Received] = field(default_factory=list)


Event = InboundMessage | Receipt


def _row(event: Event) -> tuple[str, str, dict[str, object]]:
    if isinstance(event, InboundMessage):
        return "message", event.dedupe_key, events.message_payload(event)
    return "receipt", event.dedupe_key, events.receipt_payload(event)


async def _process(
    uow: UnitOfWork,
    account: ChannelAccount,
    event_id: uuid.UUID,
    event: Event,
    now: datetime,
    config: InboundConfig,
    fetch_media: MediaFetcher | None,
    attempts: int = 0,
    conversation: events.Conversation | None = None,
    sender: tuple[CustomerRow, NodeRow] | None = None,
) -> Received:
    """One kept event's effect; `conversation`: a message's, when the caller touched it;
    `sender`: the customer, when the caller has read them already."""
    if isinstance(event, Receipt):
        return await _receipt(uow, account, event_id, event, now, attempts)
    # The conversation row first, on every path: the same lock order (conversation, then
    # ticket) as tickets.fast_thread, so simultaneous messages cannot deadlock.
    if conversation is None:
        conversation = await events.touch_conversation(
            uow=uow, account=account, message=event, now=now
        )
    received = await receive(
        uow=uow,
        account=account,
        message=event,
        now=now,
        config=config,
        fetch_media=fetch_media,
        conversation=conversation,
        sender=sender,
        failed_tries=attempts,
    )
    await events.finish_event(
        uow=uow,
        event_id=event_id,
        outcome=received.outcome,
        now=now,
        customer_id=received.customer_id,
        ticket_id=received.ticket_id,
    )
    return received


async def _receipt(
    uow: UnitOfWork,
    account: ChannelAccount,
    event_id: uuid.UUID,
    receipt: Receipt,
    now: datetime,
    attempts: int,
) -> Received:
    """Apply a delivery report. One that names no message yet is kept for later: the
    provider can report a send before the sender's transaction has committed its id."""
    if await events.apply_receipt(uow=uow, account=account, receipt=receipt):
        outcome = "receipt_applied"
    elif await events.receipt_target_exists(uow=uow, account=account, receipt=receipt):
        outcome = "receipt_unchanged"  # late or repeated: the message has moved on
    elif attempts < len(events.RETRY):
        await events.postpone_event(
            uow=uow,
            event_id=event_id,
            attempts=attempts + 1,
            error="no message with this id yet (its send may not be committed)",
            now=now,
        )
        return Received("receipt_pending")
    else:
        outcome = "receipt_unmatched"
    await events.finish_event(uow=uow, event_id=event_id, outcome=outcome, now=now)
    return Received(outcome)


async def _keep(
    uow: UnitOfWork, account: ChannelAccount, batch: Sequence[Event], now: datetime
) -> list[tuple[uuid.UUID | None, Event]]:
    """Insert each event under its provider key: (its new id, or None for a repeat)."""
    kept = []
    for event in batch:
        kind, key, payload = _row(event)
        event_id = await events.record_event(
            uow=uow, account=account, kind=kind, dedupe_key=key, payload=payload, now=now
        )
        kept.append((event_id, event))
    return kept


class _Seen:
    """What this process has just committed or is committing, by (account, event key): a
    provider's copy of an event this process already kept is answered without a
    transaction (Meta sends copies concurrently; the second used to wait on the unique key
    holding a pooled connection, then answer "repeated"). Only a shortcut: the unique key
    in `inbound_events` stays the guarantee, and a copy of an event whose first attempt
    failed goes the normal way."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self.done: OrderedDict[tuple[uuid.UUID, str], None] = OrderedDict()
        self.running: dict[tuple[uuid.UUID, str], asyncio.Future[bool]] = {}

    def remember(self, key: tuple[uuid.UUID, str]) -> None:
        self.done[key] = None
        if len(self.done) > self.size:
            self.done.popitem(last=False)


_SEEN = _Seen()


async def accept(
    *,
    database: Database,
    account: ChannelAccount,
    batch: Sequence[Event],
    now: datetime,
    config: InboundConfig,
    fetch_media: MediaFetcher | None,
    unreachable: Unreachable = (),
) -> Accepted:
    """Keep and process a webhook's events; see the module docstring for the guarantees."""

    async def work() -> Accepted:
        return await _accept(
            database=database,
            account=account,
            batch=batch,
            now=now,
            config=config,
            fetch_media=fetch_media,
            unreachable=unreachable,
        )

    if len(batch) != 1:
        return await work()
    key = (account.id, batch[0].dedupe_key)
    first = _SEEN.running.get(key)
    if key in _SEEN.done or (first is not None and await asyncio.shield(first)):
        return Accepted(repeated=1)
    mine: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    _SEEN.running[key] = mine
    kept = False
    try:
        result = await work()
        kept = result.new + result.repeated + result.deferred > 0
        return result
    finally:
        if kept:
            _SEEN.remember(key)
        _SEEN.running.pop(key, None)
        mine.set_result(kept)


async def _keep_and_process(
    unit: UnitOfWork,
    account: ChannelAccount,
    batch: Sequence[Event],
    now: datetime,
    config: InboundConfig,
    fetch_media: MediaFetcher | None,
) -> Accepted:
    result = Accepted()
    async with unit as uow:
        for event_id, event in await _keep(uow, account, batch, now):
            if event_id is None:
                result.repeated += 1
                continue
            result.new += 1
            result.outcomes.append(
                await _process(uow, account, event_id, event, now, config, fetch_media)
            )
        await uow.commit()
    return result


async def _accept(
    *,
    database: Database,
    account: ChannelAccount,
    batch: Sequence[Event],
    now: datetime,
    config: InboundConfig,
    fetch_media: MediaFetcher | None,
    unreachable: Unreachable = (),
) -> Accepted:
    """Keep and process a webhook's events; see the module docstring for the guarantees."""
    if len(batch) == 1 and isinstance(batch[0], InboundMessage):
        message = batch[0]
        event_id = uuid.uuid4()
        try:
            kept = await _keep_or_thread(database, account, event_id, message, now, config)
        except unreachable:
            raise
        except Exception:  # a value PostgreSQL refuses: the general path keeps it with the error
            log.exception("keeping a message of account %s failed", account.id)
        else:
            if not kept.new:
                return Accepted(repeated=1)
            if (threaded := kept.threaded) is not None:
                received = Received(
                    "threaded", threaded.customer_id, threaded.ticket_id, threaded.number
                )
                return Accepted(new=1, outcomes=[received])
            return await _process_kept(
                database, account, event_id, message, now, config, fetch_media, unreachable
            )
    try:
        return await _lean_first(
            database,
            lambda unit: _keep_and_process(unit, account, batch, now, config, fetch_media),
        )
    except unreachable:
        raise
    except Exception as exc:  # keep the events; the sweep retries them
        log.exception("processing %s event(s) of account %s failed", len(batch), account.id)
        error = f"{type(exc).__name__}: {exc}"
    result = Accepted()
    async with UnitOfWork(database) as uow:
        for kept_id, _ in await _keep(uow, account, batch, now):
            if kept_id is None:
                result.repeated += 1
                continue
            result.deferred += 1
            await events.postpone_event(uow=uow, event_id=kept_id, attempts=1, error=error, now=now)
        await uow.commit()
    return result


async def _lean_first(
    database: Database, work: Callable[[UnitOfWork], Awaitable[Accepted]]
) -> Accepted:
    """`work` in a lean unit of work (ADR 0011), most messages only insert; if it needs the
    ORM, nothing was committed, so all of it again in a full one."""
    try:
        return await work(UnitOfWork(database, lean=True))
    except NeedsSession:
        return await work(UnitOfWork(database))


async def _keep_or_thread(
    database: Database,
    account: ChannelAccount,
    event_id: uuid.UUID,
    message: InboundMessage,
    now: datetime,
    config: InboundConfig,
) -> fast_thread.Kept:
    async with UnitOfWork(database, lean=True) as uow:  # a cached read, no connection
        service_code = await service_code_for(uow, account)
    async with database.reading() as connection:  # autocommit: the statement commits itself
        return await fast_thread.keep_or_thread(
            connection,
            account=account,
            event_id=event_id,
            message=message,
            payload=events.message_payload(message),
            service_code=service_code,
            window=config.thread_window,
            now=now,
            retry_at=now + events.RETRY[0],  # the sweep's turn, if this process dies first
        )


async def _process_kept(
    database: Database,
    account: ChannelAccount,
    event_id: uuid.UUID,
    message: InboundMessage,
    now: datetime,
    config: InboundConfig,
    fetch_media: MediaFetcher | None,
    unreachable: Unreachable,
) -> Accepted:
    """Process a message just kept, as the retry sweep would: already accepted, so any
    failure leaves it to the sweep and the provider still gets its 2xx."""
    try:
        return await _lean_first(
            database,
            lambda unit: _claim_and_process(
                unit, account, event_id, message, now, config, fetch_media
            ),
        )
    except unreachable as exc:  # kept with its retry time: the sweep processes it
        log.warning("message %s of account %s kept, not processed: %s", event_id, account.id, exc)
        return Accepted(deferred=1)
    except Exception as exc:
        log.exception("processing message %s of account %s failed", event_id, account.id)
        async with UnitOfWork(database) as uow:
            await events.postpone_event(
                uow=uow,
                event_id=event_id,
                attempts=1,
                error=f"{type(exc).__name__}: {exc}",
                now=now,
            )
            await uow.commit()
        return Accepted(deferred=1)


async def _claim_and_process(
    unit: UnitOfWork,
    account: ChannelAccount,
    event_id: uuid.UUID,
    message: InboundMessage,
    now: datetime,
    config: InboundConfig,
    fetch_media: MediaFetcher | None,
) -> Accepted:
    async with unit as uow:
        claimed = await fast_thread.claim_and_recognise(
            await uow.driver(), account=account, event_id=event_id, message=message, now=now
        )
        if claimed is None:
            return Accepted(new=1)  # the sweep processed it meanwhile
        received = await _process(
            uow,
            account,
            event_id,
            message,
            now,
            config,
            fetch_media,
            conversation=claimed.conversation,
            sender=claimed.sender,
        )
        await uow.commit()
    return Accepted(new=1, outcomes=[received])


async def retry_pending(
    *,
    database: Database,
    accounts: AccountSource,
    fetcher_for: FetcherFor,
    config: InboundConfig,
    now: datetime,
    limit: int = 50,
) -> int:
    """Process kept-but-unprocessed events whose retry is due; each in a savepoint, so one
    that fails again is postponed along the backoff and the others still commit."""
    handled = 0
    async with UnitOfWork(database) as uow:
        for row in await events.pending_events(uow=uow, now=now, limit=limit):
            # Read before the savepoint: a rolled-back savepoint expires the row.
            row_id, attempts = row.id, row.attempts + 1
            account = await accounts(row.account_id)
            if account is None:
                await events.postpone_event(
                    uow=uow,
                    event_id=row_id,
                    attempts=attempts,
                    error="the channel account is gone or inactive",
                    now=now,
                )
                continue
            payload, kind = row.payload, row.kind
            try:
                # Rebuilt inside the try: an event that cannot be read is postponed like
                # any other failure, and the sweep goes on to the next.
                event: Event = (
                    events.message_from_payload(payload)
                    if kind == "message"
                    else events.receipt_from_payload(payload)
                )
                async with uow.session.begin_nested():
                    await _process(
                        uow,
                        account,
                        row_id,
                        event,
                        now,
                        config,
                        fetcher_for(account),
                        attempts - 1,
                    )
                    await uow.run_deferred()  # inside the savepoint, with the rest
            except Exception as exc:
                uow.take_deferred()  # what the failed attempt deferred is undone too
                log.warning("event %s failed again: %s", row_id, exc)
                await events.postpone_event(
                    uow=uow,
                    event_id=row_id,
                    attempts=attempts,
                    error=f"{type(exc).__name__}: {exc}",
                    now=now,
                )
                continue
            handled += 1
        await uow.commit()
    return handled
