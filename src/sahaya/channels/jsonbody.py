"""Webhook JSON read as PostgreSQL can keep it: NaN and Infinity are refused (JSON has
none; jsonb cannot hold them), and NUL characters — which no text or jsonb column can hold —
are dropped rather than refused, so a message that carries one is still kept."""

from __future__ import annotations

import json
from typing import Any


class BodyError(ValueError):
    """The body is not JSON we can keep; the message says why."""


def _no_constant(name: str) -> float:
    raise BodyError(f"body holds {name}, which is not JSON")


def loads(raw: bytes) -> Any:
    try:
        return json.loads(raw.replace(b"\\u0000", b""), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BodyError(f"body is not JSON: {exc}") from None
