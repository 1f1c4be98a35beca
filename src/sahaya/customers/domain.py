"""Customer registry rules that need no I/O: languages, verification, channel identities."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Language(StrEnum):
    ENGLISH = "en"
    MALAYALAM = "ml"


class Verification(StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"


class VerificationMethod(StrEnum):
    """How a number was proven to belong to the customer (later issues fill these in)."""

    SMS_OTP = "sms_otp"
    MISSED_CALL = "missed_call"
    CONTACT_SHARE = "contact_share"
    IMPORT = "import"
    STAFF = "staff"


class IdentityChannel(StrEnum):
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    APP = "app"


class InvalidCustomer(ValueError):
    """A customer field breaks a registry rule; the message names the field."""


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_IDENTITY = {
    # WhatsApp sends wa_id (digits) or, since 2026, a business-scoped user id like "IN.123…".
    IdentityChannel.WHATSAPP: re.compile(r"^(?:\d{6,20}|[A-Z]{2}\.[A-Za-z0-9_-]{4,80})$"),
    IdentityChannel.TELEGRAM: re.compile(r"^-?\d{1,20}$"),
    IdentityChannel.APP: re.compile(r"^[A-Za-z0-9_.:-]{1,128}$"),
}


def clean_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise InvalidCustomer("name: must not be empty")
    if len(name) > 200:
        raise InvalidCustomer("name: longer than 200 characters")
    return name


def clean_email(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    email = raw.strip()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidCustomer(f"email: {raw!r} is not an email address")
    return email.lower()


def clean_language(raw: str | None) -> Language:
    if raw is None or not raw.strip():
        return Language.ENGLISH
    value = raw.strip().lower()
    aliases = {"english": "en", "malayalam": "ml", "മലയാളം": "ml"}
    value = aliases.get(value, value)
    try:
        return Language(value)
    except ValueError:
        raise InvalidCustomer(f"language: {raw!r} is not one of en, ml") from None


def check_identity(channel: IdentityChannel, external_id: str) -> str:
    value = external_id.strip()
    if not _IDENTITY[channel].match(value):
        raise InvalidCustomer(
            f"{channel.value} id: {external_id!r} is not a valid {channel.value} id"
        )
    return value


@dataclass(frozen=True, slots=True)
class CustomerDraft:
    """Validated fields of a customer before it is stored."""

    name: str
    phone_e164: str
    email: str | None
    language: Language


@dataclass(frozen=True, slots=True)
class CustomerCard:
    """What the call gate and agents see of a customer: the row plus its home node's path."""

    id: uuid.UUID
    name: str
    phone_e164: str
    email: str | None
    language: str
    home_node_id: uuid.UUID
    home_node: str
    verification: str
    verified_at: datetime | None
    verified_via: str | None
    blocked: bool
    source: str
    created_at: datetime
    updated_at: datetime
