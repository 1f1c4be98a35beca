"""Phone normalisation: every common way of writing an Indian number is one E.164 number,
and the fast path never disagrees with the full `phonenumbers` parser."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sahaya.customers.phones import InvalidPhone, _full_parse, to_e164


@pytest.mark.parametrize(
    "raw",
    [
        "09847012345",
        "9847012345",
        "+91 98470 12345",
        "919847012345",
        "+91-98470-12345",
        "(+91) 98470 12345",
        " 098470 12345 ",
    ],
)
def test_formats_of_one_number_agree(raw: str) -> None:
    assert to_e164(raw) == "+919847012345"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("12345", "not a valid phone number"),
        ("hello", "has letters"),
        ("+()", "not a phone number"),
        ("98470123456789", "not a valid phone number"),
        ("+1 202 555", "not a valid phone number"),
        ("9" * 40, "too long"),
        ("98470abc12", "has letters"),
        ("1-800-FLOWERS", "has letters"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone, match=reason):
        to_e164(raw)


def test_landline_and_foreign_numbers_take_the_full_parser() -> None:
    assert to_e164("0484 2 000000") == "+914842000000"  # Kochi landline
    assert to_e164("+44 20 7946 0958") == "+442079460958"


_mobile = st.from_regex(r"[6-9][0-9]{9}", fullmatch=True)
_prefix = st.sampled_from(["", "0", "91", "+91", "+91 ", "0 "])


@given(number=_mobile, prefix=_prefix)
def test_fast_path_matches_phonenumbers(number: str, prefix: str) -> None:
    raw = prefix + number
    try:
        expected: str | None = _full_parse(raw, "IN")
    except InvalidPhone:
        expected = None
    try:
        actual: str | None = to_e164(raw)
    except InvalidPhone:
        actual = None
    assert actual == expected
    if actual is not None:
        assert phonenumbers.is_valid_number(phonenumbers.parse(actual))
