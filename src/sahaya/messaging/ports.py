"""The port every outbound channel implements (email, WhatsApp, Telegram, SMS).

A sender declares its channel and puts one message on the wire. It reports a refusal by
raising `TransientSendError` (try again later: busy server, SMTP 4xx, HTTP 429 or 5xx,
connection lost) or `PermanentSendError` (never retry: unknown recipient, SMTP 5xx, HTTP
4xx); the delivery service turns
those into retries with backoff or a failed message. Anything else it raises is treated as
transient, so a bug in one adapter cannot roll back the batch of messages already sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sahaya.messaging.domain import Capabilities, Channel, OutboundKind


@dataclass(frozen=True, slots=True)
class OutboundFile:
    """A file an outbound message carries (an agent reply's attachment)."""

    filename: str
    content_type: str
    data: bytes


# Reads a stored file by its SHA-256 (the attachment store); the worker provides one.
FileReader = Callable[[str], bytes]
# Fetches an inbound medium by the provider's id: (bytes, MIME type). It raises the errors
# above: transient when another try may work, permanent when it cannot.
MediaFetcher = Callable[[str], Awaitable[tuple[bytes, str]]]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What a sender gets: everything it needs to put the message on the wire."""

    id: uuid.UUID
    channel: Channel
    recipient: str
    subject: str
    body: str
    template: str | None
    language: str
    reference: str | None  # the human number the message is about (a ticket number)
    account_id: uuid.UUID | None = None  # the provider account it leaves from
    kind: OutboundKind = OutboundKind.TEXT
    payload: Mapping[str, Any] = field(default_factory=dict)  # template, buttons, media
    files: tuple[OutboundFile, ...] = ()


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str | None


class SendError(Exception):
    """A provider refused or could not take a message; the text is stored as last_error."""


class TransientSendError(SendError):
    """Worth another try later."""


class PermanentSendError(SendError):
    """Retrying cannot help; the message fails."""


class Sender(Protocol):
    @property
    def channel(self) -> Channel: ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def send(self, message: OutboundMessage) -> SendResult: ...
