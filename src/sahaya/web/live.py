"""Live feeds as Server-Sent Events: one LISTEN connection per feed and process fans
PostgreSQL NOTIFY events out to the open streams of the subscriber they name, so an event
published by any process reaches a stream connected to any other. Two feeds: screen-pops
for executives (published when Exotel's dial request offers them a call) and replies for
customers in the app (published when an inbox item is written)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from psycopg import AsyncConnection

from sahaya.messaging.services import APP_CHANNEL
from sahaya.voice.repository import SCREEN_POP_CHANNEL

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0


class LiveFeed:
    """Subscribers per key (an executive, a customer); the listener starts with the first.
    `key` names the payload field that says whose event it is, `event` the SSE event name
    and `id_field` the payload field used as the SSE id."""

    def __init__(self, url: str, *, channel: str, key: str, event: str, id_field: str) -> None:
        self.url = url
        self.channel = channel
        self.key = key
        self.event = event
        self.id_field = id_field
        self._queues: dict[uuid.UUID, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def _listen(self) -> None:
        while True:
            try:
                async with await AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {self.channel}")
                    self._ready.set()
                    async for notice in conn.notifies():
                        self._dispatch(notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: reconnect, keep the streams
                log.exception("%s listener lost its connection; reconnecting", self.event)
                await asyncio.sleep(1.0)

    def _dispatch(self, payload: str) -> None:
        try:
            event = json.loads(payload)
            subscriber = uuid.UUID(str(event[self.key]))
        except (ValueError, KeyError, TypeError):
            log.warning("malformed %s payload ignored: %.200s", self.event, payload)
            return
        for queue in self._queues.get(subscriber, ()):
            queue.put_nowait(event)

    async def subscribe(self, subscriber: uuid.UUID) -> asyncio.Queue[dict[str, Any]]:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen())
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
        self._queues.setdefault(subscriber, set()).add(queue)
        await asyncio.wait_for(self._ready.wait(), timeout=10)
        return queue

    def unsubscribe(self, subscriber: uuid.UUID, queue: asyncio.Queue[dict[str, Any]]) -> None:
        found = self._queues.get(subscriber)
        if found is not None:
            found.discard(queue)
            if not found:
                del self._queues[subscriber]

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def stream(self, subscriber: uuid.UUID) -> AsyncIterator[bytes]:
        """`text/event-stream` lines: one event per notification, and a comment line every
        few seconds so proxies keep the connection open."""
        queue = await self.subscribe(subscriber)
        try:
            yield b": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                data = json.dumps(event, separators=(",", ":"))
                sid = event.get(self.id_field, "")
                yield f"event: {self.event}\nid: {sid}\ndata: {data}\n\n".encode()
        finally:
            self.unsubscribe(subscriber, queue)


def screen_pops(url: str) -> LiveFeed:
    """A screen-pop per call offered to an executive (voice.dialling publishes them)."""
    return LiveFeed(
        url, channel=SCREEN_POP_CHANNEL, key="executive_id", event="screen-pop", id_field="call_sid"
    )


def app_replies(url: str) -> LiveFeed:
    """A `reply` per item written to a customer's app inbox (messaging publishes them)."""
    return LiveFeed(url, channel=APP_CHANNEL, key="customer_id", event="reply", id_field="id")
