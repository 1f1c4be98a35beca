"""Request bodies within limits: a body too large is refused with 413 before it is read whole.

Uvicorn hands on whatever a client sends. Without a cap, a 20 MB post to the Exotel status
callback, which takes a few hundred bytes, was read into memory and parsed; webhooks that
checked a size did so only after reading everything. Here each path prefix has its limit (a
provider's webhook takes what that provider sends), and any other path takes the server's
`request_max_bytes`. A declared `Content-Length` over the limit is refused at once, without
reading; every body is also counted as it arrives and refused as soon as it passes the limit.
The answer is an RFC 9457 problem (RFC 9110 §15.5.14: 413 Content Too Large).

Not Starlette's `RequestBodyLimitMiddleware` (FastAPI's `max_body_size`; ADR 0015): one limit
per app or per route, route limits do not reach the hot lane (ADR 0010), and it runs the
handler before refusing a declared size, answering in plain text.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sahaya.web.problems import HTTP_TITLES, problem


class BodyTooLarge(HTTPException):
    """A streamed body passed its limit: raised from `receive`, answered by the app's
    handler for HTTP errors as a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _detail(limit))


def _detail(limit: int) -> str:
    return f"the request body is larger than the {limit:,} bytes this endpoint takes"


class BodyLimit:
    """ASGI middleware; `limits` are (path prefix, bytes), the first match wins."""

    def __init__(self, app: ASGIApp, *, default: int, limits: Sequence[tuple[str, int]]) -> None:
        self.app = app
        self.default = default
        self.limits = tuple(limits)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):  # served under a prefix: match as the router does
            path = path[len(root) :]
        limit = self.limit_for(path)
        for name, value in scope["headers"]:
            if name != b"content-length":
                continue
            if value.isdigit() and int(value) > limit:
                answer = problem(
                    413,
                    HTTP_TITLES[413],
                    _detail(limit),
                    slug="content-too-large",
                    instance=scope["path"],
                    headers={"connection": "close"},  # not reading the rest of it
                )
                await answer(scope, receive, send)
                return
            break
        # Counted even when declared: not every server stops at the declared size (h11
        # reads a chunked body sent with a Content-Length too).
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
