"""Screen-pops as Server-Sent Events: one LISTEN connection per process fans PostgreSQL
NOTIFY events out to the executives' open streams, so a pop published by any process (the
one that answered Exotel's dial request) reaches the console connected to any other."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from psycopg import AsyncConnection

from sahaya.voice.repository import SCREEN_POP_CHANNEL

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0


class ScreenPops:
    """Subscribers per executive; the listener starts with the first one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._queues: dict[uuid.UUID, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def _listen(self) -> None:
        while True:
            try:
                async with await AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {SCREEN_POP_CHANNEL}")
                    self._ready.set()
                    async for notice in conn.notifies():
                        self._dispatch(notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: reconnect, keep the streams
                log.exception("screen-pop listener lost its connection; reconnecting")
                await asyncio.sleep(1.0)

    def _dispatch(self, payload: str) -> None:
        try:
            event = json.loads(payload)
            executive = uuid.UUID(str(event["executive_id"]))
        except (ValueError, KeyError, TypeError):
            log.warning("malformed screen-pop payload ignored: %.200s", payload)
            return
        for queue in self._queues.get(executive, ()):
            queue.put_nowait(event)

    async def subscribe(self, executive_id: uuid.UUID) -> asyncio.Queue[dict[str, Any]]:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen())
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
        self._queues.setdefault(executive_id, set()).add(queue)
        await asyncio.wait_for(self._ready.wait(), timeout=10)
        return queue

    def unsubscribe(self, executive_id: uuid.UUID, queue: asyncio.Queue[dict[str, Any]]) -> None:
        found = self._queues.get(executive_id)
        if found is not None:
            found.discard(queue)
            if not found:
                del self._queues[executive_id]

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def stream(self, executive_id: uuid.UUID) -> AsyncIterator[bytes]:
        """`text/event-stream` lines: a `screen-pop` event per offered call, and a comment
        line every few seconds so proxies keep the connection open."""
        queue = await self.subscribe(executive_id)
        try:
            yield b": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                data = json.dumps(event, separators=(",", ":"))
                sid = event.get("call_sid", "")
                yield f"event: screen-pop\nid: {sid}\ndata: {data}\n\n".encode()
        finally:
            self.unsubscribe(executive_id, queue)
