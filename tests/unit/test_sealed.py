"""Credentials sealed at rest: they open with the same secret key, not with another, and
an altered value is refused."""

from __future__ import annotations

import pytest

from sahaya.persistence.sealed import UnsealError, seal, unseal


def test_a_sealed_value_opens_with_the_same_key_only() -> None:
    stored = seal("exotel-api-token-1234", "key one")
    assert "exotel-api-token-1234" not in stored
    assert unseal(stored, "key one") == "exotel-api-token-1234"
    with pytest.raises(UnsealError, match="SAHAYA_SECRET_KEY"):
        unseal(stored, "key two")


def test_altered_or_unsealed_values_are_refused_and_empty_stays_empty() -> None:
    stored = seal("token", "k")
    altered = stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")
    with pytest.raises(UnsealError):
        unseal(altered, "k")
    with pytest.raises(UnsealError, match="not sealed"):
        unseal("plain-token", "k")
    assert seal("", "k") == ""
    assert unseal("", "k") == ""
