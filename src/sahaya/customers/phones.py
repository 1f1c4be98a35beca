"""Phone numbers to E.164 with `phonenumbers` (region IN by default).

`09847012345`, `9847012345`, `+91 98470 12345` and `919847012345` are one number. Imports
call this a million times, so the common shape — an Indian mobile written with or without
`0`, `91` or `+91` — takes a fast path that checks the digits against the same metadata
pattern `phonenumbers` uses for Indian mobiles; anything else goes through the full parser.
A property test keeps the two paths in agreement.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat


class InvalidPhone(ValueError):
    """The text is not a valid phone number; the message says why."""


_SEPARATORS = re.compile(r"[\s\-().]")
_LETTERS = re.compile(r"[^\W\d_]")
_INDIAN_MOBILE_SHAPE = re.compile(r"^(?:\+91|91|0)?([6-9]\d{9})$")


@lru_cache(maxsize=1)
def _indian_mobile_pattern() -> re.Pattern[str]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("IN")
    mobile = metadata.mobile if metadata is not None else None
    pattern = mobile.national_number_pattern if mobile is not None else None
    if pattern is None:
        raise RuntimeError("phonenumbers ships no pattern for Indian mobiles")
    return re.compile(f"(?:{pattern})")


def to_e164(raw: str, region: str = "IN") -> str:
    """Normalise `raw` to E.164 or raise `InvalidPhone` with a precise reason."""
    text = raw.strip()
    if not text:
        raise InvalidPhone("phone number is empty")
    if len(text) > 32:
        raise InvalidPhone(f"{raw!r} is too long to be a phone number")
    if _LETTERS.search(text):
        # phonenumbers reads letters as keypad digits ("98470abc12"); a registry must not.
        raise InvalidPhone(f"{raw!r} has letters in it; write the number with digits only")
    if region == "IN":
        compact = _SEPARATORS.sub("", text)
        shape = _INDIAN_MOBILE_SHAPE.match(compact)
        if shape and _indian_mobile_pattern().fullmatch(shape.group(1)):
            return "+91" + shape.group(1)
    return _full_parse(text, region)


def e164_or_none(raw: str | None, region: str = "IN") -> str | None:
    """`to_e164`, or None for a missing or unreadable number (providers send anything)."""
    if not raw:
        return None
    try:
        return to_e164(raw, region)
    except InvalidPhone:
        return None


def _full_parse(text: str, region: str) -> str:
    candidate = text
    digits = _SEPARATORS.sub("", text)
    # "919847012345": a country code written without "+". Only for 12-digit 91 numbers,
    # where a national reading would be too long anyway.
    if region == "IN" and digits.isdigit() and len(digits) == 12 and digits.startswith("91"):
        candidate = "+" + digits
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException as exc:
        raise InvalidPhone(f"{text!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{text!r} is not a valid phone number for region {region}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
