"""Coalesced reads: requests that queue behind a fetch share the next one, each gets its
own answer, a failure reaches only its batch, and a request that gives up is skipped."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from sahaya.persistence.batching import Batcher


class Source:
    """A fetch that waits until released, and records the batches it was asked for."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail_next = False

    async def fetch(self, keys: list[str]) -> Mapping[str, str]:
        self.batches.append(sorted(keys))
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("database went away")
        return {k: k.upper() for k in keys if k != "unknown"}


async def test_a_lone_request_is_one_fetch_of_one_key() -> None:
    source = Source()
    source.release.set()
    batcher: Batcher[str, str] = Batcher(source.fetch)
    assert await batcher.get("a") == "A"
    assert await batcher.get("unknown") is None
    assert source.batches == [["a"], ["unknown"]]


async def test_requests_behind_a_fetch_share_the_next_one() -> None:
    source = Source()
    batcher: Batcher[str, str] = Batcher(source.fetch)
    first = asyncio.create_task(batcher.get("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the first fetch is now in flight
    rest = [asyncio.create_task(batcher.get(k)) for k in ("b", "c", "b", "unknown")]
    await asyncio.sleep(0)
    source.release.set()
    assert await first == "A"
    assert [await t for t in rest] == ["B", "C", "B", None]
    assert source.batches == [["a"], ["b", "c", "unknown"]]  # the repeated key asked once


async def test_a_failed_fetch_fails_its_batch_only() -> None:
    source = Source()
    batcher: Batcher[str, str] = Batcher(source.fetch)
    source.fail_next = True
    doomed = [asyncio.create_task(batcher.get(k)) for k in ("a", "b")]
    await asyncio.sleep(0)
    source.release.set()
    for task in doomed:
        with pytest.raises(ConnectionError):
            await task
    assert await batcher.get("c") == "C"


async def test_a_request_that_gives_up_does_not_disturb_the_others() -> None:
    source = Source()
    batcher: Batcher[str, str] = Batcher(source.fetch)
    impatient = asyncio.create_task(batcher.get("a"))
    patient = asyncio.create_task(batcher.get("b"))
    await asyncio.sleep(0)
    impatient.cancel()
    source.release.set()
    assert await patient == "B"
    assert impatient.cancelled()


async def test_batches_are_capped() -> None:
    source = Source()
    batcher: Batcher[str, str] = Batcher(source.fetch, max_batch=2)
    tasks = [asyncio.create_task(batcher.get(k)) for k in "abcde"]
    source.release.set()
    assert [await t for t in tasks] == list("ABCDE")
    assert [len(b) for b in source.batches] == [2, 2, 1]
