"""Outbound message rules without I/O: states, channels, the retry schedule, templates.

A message is *queued* until a sender accepts it (*sent*); a delivery receipt, where the
channel has one, makes it *delivered*. A transient refusal keeps it queued with the next try
pushed out along `BACKOFF`; a permanent refusal, or `MAX_ATTEMPTS` transient ones, make it
*failed*. Nothing leaves *sent*, *delivered* or *failed* for another send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from string import Template


class OutboundState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class Channel(StrEnum):
    """Where an outbound message goes. The app inbox is written directly (being in the inbox
    *is* its delivery), so only channels with a remote provider wait in the outbox."""

    EMAIL = "email"
    APP = "app"


# Wait after the n-th failed attempt: 30 s, 2 min, 10 min, 1 h, 6 h; the sixth failure is final.
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(BACKOFF) + 1


def next_attempt_at(attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed tries, or None: give up (→ failed)."""
    if attempts < 1:
        return now
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + BACKOFF[attempts - 1]


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


class UnknownTemplate(KeyError):
    """No such template; the message names it."""


ACKNOWLEDGEMENT = "ticket_acknowledgement"
LANGUAGES = ("en", "ml")

_TEMPLATES: dict[tuple[str, str], tuple[Template, Template]] = {
    (ACKNOWLEDGEMENT, "en"): (
        Template("We have received your request — ticket $number"),
        Template(
            "Dear $name,\n\n"
            "We have received your request and opened ticket $number.\n"
            "Subject: $subject\n\n"
            "Our team will get back to you soon. To add details, reply to this message "
            "or call us and quote ticket $number.\n\n"
            "Thank you,\n"
            "Sahaya Support\n"
        ),
    ),
    (ACKNOWLEDGEMENT, "ml"): (
        Template("നിങ്ങളുടെ പരാതി ലഭിച്ചു — ടിക്കറ്റ് $number"),
        Template(
            "പ്രിയ $name,\n\n"
            "നിങ്ങളുടെ പരാതി ഞങ്ങൾക്ക് ലഭിച്ചു. ടിക്കറ്റ് നമ്പർ: $number\n"
            "വിഷയം: $subject\n\n"
            "ഞങ്ങളുടെ ടീം ഉടൻ നിങ്ങളെ ബന്ധപ്പെടും. കൂടുതൽ വിവരങ്ങൾ അറിയിക്കാൻ ഈ സന്ദേശത്തിന് "
            "മറുപടി നൽകുകയോ, ടിക്കറ്റ് നമ്പർ $number പറഞ്ഞ് ഞങ്ങളെ വിളിക്കുകയോ ചെയ്യാം.\n\n"
            "നന്ദി,\n"
            "സഹായ സപ്പോർട്ട്\n"
        ),
    ),
}


def language_or_default(language: str | None) -> str:
    """Templates exist in English and Malayalam; anything else gets English."""
    return language if language in LANGUAGES else "en"


def render(template: str, language: str | None, **values: str) -> Rendered:
    """Fill a template in the customer's language. Values are inserted verbatim (a `$` in a
    ticket subject stays a `$`); a missing value is a programming error and raises."""
    try:
        subject, body = _TEMPLATES[(template, language_or_default(language))]
    except KeyError:
        raise UnknownTemplate(template) from None
    return Rendered(subject=subject.substitute(values), body=body.substitute(values))
