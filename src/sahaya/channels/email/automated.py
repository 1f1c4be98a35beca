"""Mail that a machine wrote: auto-replies, bounces, mailing lists, our own mail coming
back. None of it may open a ticket (an out-of-office answer to our acknowledgement would
otherwise open a ticket, whose acknowledgement gets another out-of-office answer…).

Signals, strongest first:
* RFC 3464 delivery status notifications (`multipart/report; report-type=delivery-status`)
  and RFC 8098 read receipts (`report-type=disposition-notification`).
* A sender of `MAILER-DAEMON@` or `postmaster@` (bounces that are not proper DSNs).
* Our own address as the sender, or our `X-Sahaya-Ticket` header (a loop).
* RFC 3834's `Auto-Submitted` with any value but `no`; the older `X-Autoreply`,
  `X-Autorespond` and `Precedence: bulk | junk | list | auto_reply`.
* Mailing lists (`List-Id`, `List-Unsubscribe`): newsletters are not customers.
* An empty `Return-Path: <>` (RFC 5321's null sender: bounces and well-behaved
  auto-responders).

A DSN also tells which of our messages failed: its `message/rfc822` or
`text/rfc822-headers` part carries the original Message-ID, which is the provider id our
SMTP sender stored on the outbox row. `Action: failed` becomes a *failed* receipt,
`delivered` a *delivered* one; `delayed` and `relayed` say nothing final.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import HeaderParser

from sahaya.messaging.domain import OutboundState, Receipt

_BULK = frozenset({"bulk", "junk", "list", "auto_reply"})
_DAEMONS = frozenset({"mailer-daemon", "postmaster"})
_ERROR_LENGTH = 500


def readable(text: str) -> str:
    """Undecodable bytes in a header (raw 8-bit where RFC 2047 was due) arrive as lone
    surrogates, which no database or JSON encoder takes: read them as UTF-8 instead (and
    drop NULs, which PostgreSQL's text refuses)."""
    readable = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return readable.replace("\x00", "")


def header(mail: Message, name: str) -> str:
    """A header's (decoded) value, or "" when it is missing or cannot be parsed."""
    try:
        value = mail.get(name)
    except Exception:  # a malformed header must not lose the mail
        return ""
    return "" if value is None else readable(" ".join(str(value).split()))


def reason(mail: Message, sender: str, own: frozenset[str]) -> str | None:
    """Why this mail is not a person writing to us (None: it is)."""
    if mail.get_content_type() == "multipart/report":
        report = str(mail.get_param("report-type", "")).lower()
        if report == "delivery-status":
            return "bounce (delivery status notification)"
        if report == "disposition-notification":
            return "read receipt"
        return f"automatic report ({report or 'unknown type'})"
    local = sender.partition("@")[0].lower()
    if local in _DAEMONS:
        return f"bounce (from {local})"
    if sender.lower() in own or header(mail, "X-Sahaya-Ticket"):
        return "our own mail"
    auto = header(mail, "Auto-Submitted").lower().split(";")[0].strip()
    if auto and auto != "no":
        return f"auto-reply (Auto-Submitted: {auto})"
    for name in ("X-Autoreply", "X-Autorespond"):
        if header(mail, name):
            return f"auto-reply ({name})"
    precedence = header(mail, "Precedence").lower()
    if precedence in _BULK:
        return f"auto-reply (Precedence: {precedence})"
    for name in ("List-Id", "List-Unsubscribe"):
        if header(mail, name):
            return f"mailing list ({name})"
    if header(mail, "Return-Path").replace(" ", "") == "<>":
        return "bounce (null return path)"
    return None


def _original_message_id(report: Message) -> str | None:
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            original = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(original, Message):
                found = header(original, "Message-ID")
                if found:
                    return found
        elif kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
            found = header(HeaderParser().parsestr(text), "Message-ID")
            if found:
                return found
    return None


def _recipient_fields(report: Message) -> list[Message]:
    """The per-recipient field groups of the `message/delivery-status` part."""
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            if isinstance(blocks, list):
                return [b for b in blocks[1:] if isinstance(b, Message)]
    return []


def delivery_receipts(report: EmailMessage, at: datetime) -> tuple[Receipt, ...]:
    """What an RFC 3464 report says about the message of ours it names (see above)."""
    if str(report.get_param("report-type", "")).lower() != "delivery-status":
        return ()
    original = _original_message_id(report)
    if original is None:
        return ()
    groups = _recipient_fields(report)
    actions = [header(g, "Action").lower() for g in groups]
    if "failed" in actions:
        failed = groups[actions.index("failed")]
        error = " ".join(
            v
            for v in (
                header(failed, "Final-Recipient"),
                header(failed, "Status"),
                header(failed, "Diagnostic-Code"),
            )
            if v
        )
        state, text = OutboundState.FAILED, f"bounced: {error or 'delivery failed'}"
    elif actions and all(a == "delivered" for a in actions):
        state, text = OutboundState.DELIVERED, ""
    else:
        return ()
    return (
        Receipt(
            provider_message_id=original,
            state=state,
            at=at,
            error=text[:_ERROR_LENGTH] or None,
        ),
    )
