"""The port every outbound channel implements (email, WhatsApp, Telegram, SMS).

A sender declares its channel and puts one message on the wire. It reports a refusal by
raising `TransientSendError` (try again later: busy server, SMTP 4xx, HTTP 429 or 5xx,
connection lost) or `PermanentSendError` (never retry: unknown recipient, SMTP 5xx, HTTP
4xx); the delivery service turns
those into retries with backoff or a failed message. Anything else it raises is treated as
transient, so a bug in one adapter cannot roll back the batch of messages already sent.

A sender that puts a message's files on the wire as messages of their own (WhatsApp,
Telegram) sends it in parts through `send_parts`: it skips the `parts_sent` the outbox
says went out on earlier tries, and reports the ids of the parts it sent — on its result,
or on the error that stopped it — so no part is ever sent twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sahaya.messaging.domain import Capabilities, Channel, OutboundKind

log = logging.getLogger(__name__)


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
    parts_sent: int = 0  # parts (the text, then each file) already sent on earlier tries


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str | None
    parts: tuple[str | None, ...] = ()  # sent in parts: the ids of those sent by this call


class SendError(Exception):
    """A provider refused or could not take a message; the text is stored as last_error.
    `sent`: the ids of the parts this call sent before the refusal."""

    sent: tuple[str | None, ...] = ()


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


# One part of a message on the wire: its provider id.
Part = Callable[[], Awaitable[str | None]]


async def send_parts(message: OutboundMessage, parts: Sequence[Part]) -> SendResult:
    """Send the parts not sent yet, in order. A refusal carries the ids of the parts sent
    before it; anything else raised becomes a transient refusal that carries them too."""
    sent: list[str | None] = []
    for index, part in enumerate(parts[message.parts_sent :], start=message.parts_sent):
        try:
            sent.append(await part())
        except SendError as exc:
            exc.sent = tuple(sent)
            raise
        except Exception as exc:  # an adapter bug: retried like the outbox retries any
            log.exception("part %d of message %s failed", index, message.id)
            error = TransientSendError(f"{type(exc).__name__}: {exc}")
            error.sent = tuple(sent)
            raise error from exc
    return SendResult(provider_message_id=sent[0] if sent else None, parts=tuple(sent))
