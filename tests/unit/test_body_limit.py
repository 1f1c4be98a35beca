"""The body limit counts what arrives, not what the client declared: a server that reads a
chunked body sent with a small Content-Length (uvicorn's h11 does) is still cut off."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

from sahaya.web.bodylimit import BodyLimit, BodyTooLarge


async def _read_all(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body"):
        pass


def test_a_body_longer_than_declared_is_still_cut_off() -> None:
    chunks = [{"type": "http.request", "body": b"x" * 400, "more_body": True}] * 10

    async def receive() -> Message:
        return chunks.pop()

    async def send(message: Message) -> None:
        raise AssertionError("nothing is answered by the stub")

    scope = {
        "type": "http",
        "path": "/api/v1/tickets",
        "headers": [(b"content-length", b"10")],
    }
    limit = BodyLimit(_read_all, default=1000, limits=())
    with pytest.raises(BodyTooLarge):
        asyncio.run(limit(scope, receive, send))
    assert len(chunks) == 7  # stopped at the third chunk, past 1,000 bytes
