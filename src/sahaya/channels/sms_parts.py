"""How many SMS parts a text takes, as SMS providers bill it (both SMS fakes count with it)."""

from __future__ import annotations

# GSM 03.38: the basic set counts one septet, the extension set two; anything else → UCS-2.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


def sms_parts(text: str, *, unicode: bool = False) -> int:
    """GSM-7 160 (153 per part when concatenated), else UCS-2 70 (67): `unicode` forces
    UCS-2, and Malayalam is always UCS-2."""
    if not unicode and all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text):
        size, single, multi = sum(2 if ch in _GSM_EXTENSION else 1 for ch in text), 160, 153
    else:
        size, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if size <= single else -(-size // multi)
