"""Outbound message rules without I/O: states, channels, the retry schedule, templates.

A message is *queued* until a sender accepts it (*sent*); a delivery receipt, where the
channel has one, makes it *delivered*. A transient refusal keeps it queued with the next try
pushed out along `BACKOFF`; a permanent refusal, or `MAX_ATTEMPTS` transient ones, make it
*failed*. Nothing leaves *sent*, *delivered* or *failed* for another send.

A message with files can go out in parts (the text, then each file, as separate provider
messages); it stays queued until its last part is sent, and a retry resumes with the part
that failed. A message with an expiry (a sign-in code) is never sent after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from string import Template
from typing import Any


class OutboundState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class Channel(StrEnum):
    """Where a message comes from or goes. The app inbox is written directly (being in the
    inbox *is* its delivery); the other channels go through a provider and the outbox."""

    EMAIL = "email"
    APP = "app"
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    SMS = "sms"


# Receipts arrive out of order (WhatsApp may send `read` before `delivered`): a receipt
# only moves a message forward. `failed` ends a message that was not yet delivered.
_PROGRESS = {
    OutboundState.QUEUED: 0,
    OutboundState.SENT: 1,
    OutboundState.DELIVERED: 2,
    OutboundState.READ: 3,
}


def receipt_applies(current: OutboundState, receipt: OutboundState) -> bool:
    """Whether a delivery receipt saying `receipt` changes a message now in `current`. A
    queued message with a receipt is part-way through its parts: only a failure ends it
    early (a delivered text must not stop its files from being sent)."""
    if current == OutboundState.FAILED:
        return False
    if current == OutboundState.QUEUED:
        return receipt == OutboundState.FAILED
    if receipt == OutboundState.FAILED:
        return current in (OutboundState.QUEUED, OutboundState.SENT)
    return _PROGRESS[receipt] > _PROGRESS[current]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can carry; the core decides by these, never by a provider's name.
    `window`: free-form messages are allowed only this long after the customer's last
    message (WhatsApp's 24-hour customer-service window); outside it, templates only."""

    media: bool = False
    templates: bool = False
    buttons: bool = False
    window: timedelta | None = None


class OutboundKind(StrEnum):
    TEXT = "text"
    TEMPLATE = "template"
    BUTTONS = "buttons"
    MEDIA = "media"


def window_refusal(
    capabilities: Capabilities,
    kind: OutboundKind,
    last_inbound_at: datetime | None,
    now: datetime,
) -> str | None:
    """Why this message may not be sent now (None: it may). Templates may always go."""
    if capabilities.window is None or kind == OutboundKind.TEMPLATE:
        return None
    if last_inbound_at is None:
        return "the customer has never written on this channel: only a template may be sent"
    if now - last_inbound_at >= capabilities.window:
        hours = int(capabilities.window.total_seconds() // 3600)
        return (
            f"outside the {hours}-hour window (the customer last wrote at "
            f"{last_inbound_at.isoformat()}): only a template may be sent"
        )
    return None


class InboundKind(StrEnum):
    """A provider's message, normalised. `unsupported` kinds (reactions, stickers, …) are
    acknowledged to the provider and logged, never turned into tickets."""

    TEXT = "text"
    MEDIA = "media"
    LOCATION = "location"
    BUTTON = "button"
    CONTACT = "contact"
    START = "start"  # a chat opened (Telegram's /start): a greeting, not a request
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class InboundMedia:
    provider_id: str  # what the provider's media API fetches it by
    mime_type: str
    filename: str
    sha256: str | None = None


# The longest sender address a conversation keeps: an email address (RFC 5321's 254);
# phone numbers and chat ids are far shorter. Each wire refuses a longer one, so nothing
# is kept that could never be processed.
ADDRESS_MAX = 254
E164_DIGITS = 15  # the most digits an international phone number has (ITU-T E.164)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a customer, the same shape for every channel.

    `address` is where a reply goes on this channel (WhatsApp id, Telegram chat id, phone);
    `phone` is the sender's number when the provider vouches for it (WhatsApp's `from`,
    an SMS sender), which is how a registered customer is recognised."""

    provider_message_id: str
    address: str
    kind: InboundKind
    text: str
    sent_at: datetime
    phone: str | None = None
    name: str | None = None
    media: tuple[InboundMedia, ...] = ()
    button_payload: str | None = None
    location: tuple[float, float] | None = None
    reply_to: str | None = None
    # A phone number the provider vouches is the sender's own (a Telegram contact whose
    # user_id is the sender's): it links the chat to that customer and verifies the number.
    shared_phone: str | None = None
    # A one-time token from a deep link (`/start <token>`) that links the chat.
    link_token: str | None = None
    # Email: the sender's address (how the customer is matched) and the ticket number the
    # message refers to (from the subject or our Message-ID in References).
    email: str | None = None
    ticket_hint: str | None = None
    subject: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        return f"msg:{self.provider_message_id}"

    def describe(self) -> str:
        """The text a ticket thread shows for this message."""
        parts = [self.text.strip()] if self.text.strip() else []
        if self.button_payload is not None:
            parts.append(f"[button: {self.button_payload}]")
        if self.location is not None:
            parts.append(f"[location: {self.location[0]:.6f},{self.location[1]:.6f}]")
        parts.extend(f"[{m.mime_type}: {m.filename}]" for m in self.media)
        return "\n".join(parts) or f"[{self.kind.value}]"


@dataclass(frozen=True, slots=True)
class Receipt:
    """A provider's delivery report on a message we sent."""

    provider_message_id: str
    state: OutboundState
    at: datetime
    error: str | None = None

    @property
    def dedupe_key(self) -> str:
        return f"receipt:{self.provider_message_id}:{self.state.value}"


# An unknown sender is told how to register at most once per this interval.
HINT_INTERVAL = timedelta(hours=24)


def hint_due(last_hint_at: datetime | None, now: datetime) -> bool:
    return last_hint_at is None or now - last_hint_at >= HINT_INTERVAL


# Wait after the n-th failed attempt: 30 s, 2 min, 10 min, 1 h, 6 h; the sixth failure is final.
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(BACKOFF) + 1


def next_attempt_at(
    attempts: int, now: datetime, expires_at: datetime | None = None
) -> datetime | None:
    """When to try again after `attempts` failed tries, or None: give up (→ failed),
    also when the next try would come after the message's expiry."""
    if attempts < 1:
        return now
    if attempts >= MAX_ATTEMPTS:
        return None
    retry_at = now + BACKOFF[attempts - 1]
    if expires_at is not None and retry_at >= expires_at:
        return None
    return retry_at


def expiry_refusal(expires_at: datetime | None, now: datetime) -> str | None:
    """Why a message with this expiry may not be sent now (None: it may)."""
    if expires_at is None or now < expires_at:
        return None
    return f"not sent: it expired at {expires_at.isoformat()} before it could be sent"


def partial_failure(sent: Sequence[str], unsent: Sequence[str], error: str) -> str:
    """The last error of a message some of whose parts reached the customer before the
    rest failed for good: what they got, what they did not, and why."""
    return f"sent: {', '.join(sent)}; not sent: {', '.join(unsent)}: {error}"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


class UnknownTemplate(KeyError):
    """No such template; the message names it."""


ACKNOWLEDGEMENT = "ticket_acknowledgement"
REGISTRATION_HINT = "registration_hint"
# A sign-in code: its text is blanked once sent, so the outbox does not keep live codes.
ONE_TIME_CODE = "otp"
REDACTED = "[one-time code: removed once sent]"
CHANNEL_LINKED = "channel_linked"
LINK_REFUSED = "link_refused"
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
    (REGISTRATION_HINT, "en"): (
        Template("Please register to get support"),
        Template(
            "Hello! We could not find a registered customer for this $channel account. "
            "Please register in the Apnafood app, or call our toll-free number from your "
            "registered mobile number, and then write to us again."
        ),
    ),
    (REGISTRATION_HINT, "ml"): (
        Template("സഹായത്തിന് രജിസ്റ്റർ ചെയ്യുക"),
        Template(
            "നമസ്കാരം! ഈ $channel അക്കൗണ്ടിന് രജിസ്റ്റർ ചെയ്ത ഉപഭോക്താവിനെ കണ്ടെത്താനായില്ല. "
            "ആപ്നഫുഡ് ആപ്പിൽ രജിസ്റ്റർ ചെയ്യുകയോ, രജിസ്റ്റർ ചെയ്ത മൊബൈൽ നമ്പറിൽ നിന്ന് "
            "ടോൾ-ഫ്രീ നമ്പറിൽ വിളിക്കുകയോ ചെയ്ത ശേഷം വീണ്ടും എഴുതുക."
        ),
    ),
    (CHANNEL_LINKED, "en"): (
        Template("This chat is linked to your account"),
        Template(
            "Thank you, $name. This $channel chat is now linked to your Apnafood account: "
            "write to us here any time and we will open a ticket for you."
        ),
    ),
    (CHANNEL_LINKED, "ml"): (
        Template("ഈ ചാറ്റ് നിങ്ങളുടെ അക്കൗണ്ടുമായി ബന്ധിപ്പിച്ചു"),
        Template(
            "നന്ദി, $name. ഈ $channel ചാറ്റ് നിങ്ങളുടെ ആപ്നഫുഡ് അക്കൗണ്ടുമായി ബന്ധിപ്പിച്ചു. "
            "എപ്പോൾ വേണമെങ്കിലും ഇവിടെ എഴുതാം; ഞങ്ങൾ ടിക്കറ്റ് തുറക്കും."
        ),
    ),
    (LINK_REFUSED, "en"): (
        Template("This link cannot be used"),
        Template(
            "This link has expired or was already used. Share your phone number with the "
            "button below, or ask us for a new link."
        ),
    ),
    (LINK_REFUSED, "ml"): (
        Template("ഈ ലിങ്ക് ഉപയോഗിക്കാനാവില്ല"),
        Template(
            "ഈ ലിങ്കിന്റെ കാലാവധി കഴിഞ്ഞു അല്ലെങ്കിൽ ഇതിനകം ഉപയോഗിച്ചു. താഴെയുള്ള ബട്ടൺ "
            "ഉപയോഗിച്ച് ഫോൺ നമ്പർ പങ്കിടുക, അല്ലെങ്കിൽ പുതിയ ലിങ്ക് ചോദിക്കുക."
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


def keepable_text(value: str) -> str:
    """`value` as a text column can keep it: NUL characters dropped, lone UTF-16
    surrogates (JSON's `\\ud800`, a mail in a broken charset) replaced by U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    return value


def keepable(value: Any) -> Any:
    """Every string in a value built of dicts, lists, tuples and dataclasses (keys too)
    through `keepable_text`; what no channel should be able to make us refuse to keep."""
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        return keepable_text(value)
    if isinstance(value, Mapping):
        return {keepable_text(str(k)): keepable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(keepable(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return replace(
            value, **{f.name: keepable(getattr(value, f.name)) for f in fields(value) if f.init}
        )
    return value


def unkeepable(value: Any) -> bool:
    """Whether `keepable` would change anything (most messages: no, and nothing is built)."""
    if isinstance(value, str):
        return "\x00" in value or (not value.isascii() and keepable_text(value) != value)
    if isinstance(value, Mapping):
        return any(unkeepable(str(k)) or unkeepable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(unkeepable(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return any(unkeepable(getattr(value, f.name)) for f in fields(value))
    return False
