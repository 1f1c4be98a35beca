"""The hot lane: the endpoints that providers and the call gate hit hardest, dispatched
straight to their handler ahead of FastAPI's router (ADR 0010).

FastAPI matches a request by walking every included router's routes, then solves the
endpoint's dependencies; with ~120 routes that was more than half of a phone lookup's CPU.
A hot endpoint is a plain `(request, **path_params) -> Response` handler, registered with
its FastAPI router as usual (so the OpenAPI document lists it and the router can still
serve it) and also recorded here. The lane finds it by exact path, or by its path pattern
when it has parameters, sets what Starlette's router would set, and runs it under the app's
own exception handlers, so the answer is the same whichever way a request comes in.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI
from starlette.convertors import Convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[..., Awaitable[Response]]
E = TypeVar("E", bound=Endpoint)
Handler = Callable[[Request, Any], Response | Awaitable[Response]]


@dataclass(frozen=True)
class HotRoute:
    method: str
    path: str  # the template, e.g. /webhooks/whatsapp/{account_id}: what metrics label by
    endpoint: Endpoint
    regex: re.Pattern[str]
    convertors: Mapping[str, Convertor[Any]]


class HotRoutes:
    """The registry the routers fill in at import time, and the lane reads."""

    def __init__(self) -> None:
        self.routes: list[HotRoute] = []

    def route(self, router: APIRouter, method: str, path: str, **fastapi: Any) -> Callable[[E], E]:
        def register(endpoint: E) -> E:
            router.add_api_route(path, endpoint, methods=[method], **fastapi)
            full = router.prefix + path
            regex, _, convertors = compile_path(full)
            self.routes.append(HotRoute(method, full, endpoint, regex, convertors))
            return endpoint

        return register


HOT = HotRoutes()


class HotLane:
    """ASGI middleware: a hot route's request goes to its handler, anything else on."""

    def __init__(self, app: ASGIApp, *, owner: FastAPI, routes: Sequence[HotRoute]) -> None:
        self.app = app
        self.owner = owner
        self.exact = {(r.method, r.path): r for r in routes if not r.convertors}
        self.patterned = [r for r in routes if r.convertors]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):  # served under a prefix: match as the router does
                path = path[len(root) :]
            route = self.exact.get((method, path))
            if route is not None:
                await self._run(route, {}, scope, receive, send)
                return
            for route in self.patterned:
                if route.method == method and (match := route.regex.match(path)):
                    params = {
                        k: route.convertors[k].convert(v) for k, v in match.groupdict().items()
                    }
                    await self._run(route, params, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _run(
        self, route: HotRoute, params: dict[str, Any], scope: Scope, receive: Receive, send: Send
    ) -> None:
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = params
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request=request, **params)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Handler | None:
        handlers = self.owner.exception_handlers
        for cls in type(exc).__mro__:
            if cls in handlers:
                handler: Handler = handlers[cls]
                return handler
        return None
