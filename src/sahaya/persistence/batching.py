"""Coalesced statements: keys asked for while a fetch is in flight share the next one.

The DataLoader pattern, for the hot single-row statements (a caller's customer card, the
gate's call row). Alone, a request costs the one statement it always did; under load a
worker sends one statement for every request that arrived during the previous round trip,
instead of one each — and a batch of writes is one commit. Every batch goes to PostgreSQL:
nothing is cached between batches, and a request is answered only after its batch is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
# What a fetch found per key; an exception fails that key's requests alone.
Fetch = Callable[[list[K]], Awaitable[Mapping[K, V | Exception]]]


class Batcher(Generic[K, V]):
    """`await batcher.get(key)` → the value `fetch` found for `key`, or None.

    One fetch runs at a time per batcher (per process): the keys that queue up behind it
    form the next batch, so batches grow with load and latency does not. A failed fetch
    fails every request of its batch, not later ones.
    """

    def __init__(self, fetch: Fetch[K, V], *, max_batch: int = 256) -> None:
        self.fetch = fetch
        self.max_batch = max_batch
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._draining = False
        self._drainer: asyncio.Task[None] | None = None  # held: the loop keeps only weak refs

    async def get(self, key: K) -> V | None:
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if not self._draining:
            self._draining = True
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._take()
                try:
                    found = await self.fetch(list(batch))
                except asyncio.CancelledError:
                    for futures in batch.values():
                        for future in futures:
                            future.cancel()
                    raise
                except Exception as exc:
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():  # one that gave up (timeout) is skipped
                                future.set_exception(exc)
                    continue
                for key, futures in batch.items():
                    value = found.get(key)
                    for future in futures:
                        if future.done():
                            continue
                        if isinstance(value, Exception):
                            future.set_exception(value)
                        else:
                            future.set_result(value)
        finally:
            self._draining = False
            # Cancelled mid-batch (shutdown): nobody still waiting is left hanging.
            for futures in self._waiting.values():
                for future in futures:
                    future.cancel()
            self._waiting = {}

    def _take(self) -> dict[K, list[asyncio.Future[V | None]]]:
        if len(self._waiting) <= self.max_batch:
            batch, self._waiting = self._waiting, {}
            return batch
        keys = list(self._waiting)[: self.max_batch]
        return {key: self._waiting.pop(key) for key in keys}
