"""Provider credentials at rest: sealed with a key derived from `SAHAYA_SECRET_KEY`
(Fernet: AES-128-CBC + HMAC-SHA256), so a copy of the database alone does not give away
an Exotel API token. Changing the secret key makes sealed values unreadable: `unseal`
then says so instead of handing a provider garbage."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "sealed:v1:"


class UnsealError(ValueError):
    """A sealed value does not open with this secret key (it was changed, or the value
    was altered)."""


def _fernet(secret: str) -> Fernet:
    if not secret:
        raise ValueError("a secret key is required to seal credentials")
    key = hashlib.sha256(b"sahaya-sealed-v1:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(value: str, secret: str) -> str:
    """`value` sealed for storage; the empty string stays empty (nothing to hide)."""
    if not value:
        return ""
    return PREFIX + _fernet(secret).encrypt(value.encode()).decode()


def unseal(stored: str, secret: str) -> str:
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise UnsealError("value is not sealed")
    try:
        return _fernet(secret).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise UnsealError(
            "sealed credential does not open with this SAHAYA_SECRET_KEY (was it changed?)"
        ) from None
