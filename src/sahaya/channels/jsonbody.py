"""Webhook input read as PostgreSQL can keep it: NaN and Infinity are refused (JSON has
none; jsonb cannot hold them), nesting too deep to read is refused, and characters no text
or jsonb column can hold — NUL, and lone UTF-16 surrogates that JSON's `\\ud800` escapes
produce — are dropped or replaced rather than refused, so a message that carries one is
still kept (found by fuzzing the webhooks: each made the keep fail with a 500)."""

from __future__ import annotations

import json
import re
from typing import Any

from sahaya.messaging.domain import keepable


class BodyError(ValueError):
    """The body is not JSON we can keep; the message says why."""


def _no_constant(name: str) -> float:
    raise BodyError(f"body holds {name}, which is not JSON")


# In valid JSON a NUL or a lone surrogate can only come from a `\u` escape; most bodies
# have none, and cleaning every string of every body cost ~40 µs per webhook.
_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def loads(raw: bytes) -> Any:
    try:
        value = json.loads(raw, parse_constant=_no_constant)
        return keepable(value) if _ESCAPES.search(raw) else value
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BodyError(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise BodyError("body is not JSON we read: nested too deeply") from None
