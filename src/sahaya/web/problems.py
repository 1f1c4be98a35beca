"""RFC 9457 problem details for every error the API returns.

Domain errors carry a slug, a title and a precise detail; validation errors list each bad
field with a JSON pointer into the request, as RFC 9457 §3 suggests with its `errors` example.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from sahaya.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    SahayaError,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)

MEDIA_TYPE = "application/problem+json"
HTTP_TITLES = {
    401: "Authentication required",
    404: "Not found",
    405: "Method not allowed",
    413: "Content too large",
}
_STATUS = (
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 422),
    (Forbidden, 403),
    (Unauthenticated, 401),
    (TooManyRequests, 429),
    (Unavailable, 503),
)


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _pointer(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        kind, rest = parts[0], parts[1:]
        return ("#/" if kind == "body" else f"{kind}:") + "/".join(rest)
    return "#/" + "/".join(parts)


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = [
        {"pointer": _pointer(tuple(e.get("loc", ()))), "detail": _message(e)} for e in exc.errors()
    ]
    summary = "; ".join(f"{e['pointer']}: {e['detail']}" for e in errors)
    return problem(
        422,
        "Invalid request",
        summary,
        slug="validation",
        instance=request.url.path,
        extra={"errors": errors},
    )


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SahayaError)  # noqa: S101
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
    extra = {"errors": [{"pointer": f"#/{exc.field}", "detail": exc.detail}]} if exc.field else None
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(
        status,
        exc.title,
        exc.detail,
        slug=exc.slug,
        instance=request.url.path,
        extra=extra,
        headers=headers,
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101
    title = HTTP_TITLES.get(exc.status_code, "Request failed")
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem(
        exc.status_code,
        title,
        detail,
        slug=title.lower().replace(" ", "-"),
        instance=request.url.path,
        headers=dict(exc.headers) if exc.headers else None,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(SahayaError, _domain)
    app.add_exception_handler(HTTPException, _http)
