"""Bearer tokens: 256 random bits, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "sah_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def display_prefix(token: str) -> str:
    return token[: len(PREFIX) + 6]
