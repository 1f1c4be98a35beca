"""An inbound mail (RFC 5322 bytes) as the channel-neutral `InboundMessage`, without I/O.

* `provider_message_id` is the Message-ID without its angle brackets (a repeat of the same
  mail — a second poll, a second delivery — is then a no-op); a mail without one is keyed
  by the SHA-256 of its bytes.
* The sender is the From address, lower-cased: it is how a registered customer is found
  (`email`) and where a registration hint goes (`address`). From is not authenticated
  here; SPF/DKIM/DMARC are the receiving MX's job (docs/operations.md).
* `ticket_hint` is the ticket the mail answers: one of our Message-IDs in In-Reply-To or
  References (`<AF-000123.…@…>`, or the per-ticket thread id `<AF-000123@…>` our sender
  puts in every mail about a ticket), else a number in the subject (`[AF-000123]` first).
  A reply to the customer's own earlier mail is threaded by `references` (the caller looks
  those Message-IDs up).
* Headers are RFC 2047-decoded and bodies charset-decoded by the `email` package
  (`policy.default`); the text is `body.text_of` the text/plain part, else the HTML one.
* Attachments become `InboundMedia` whose `provider_id` is `<sha256 of the mail>#<index of
  the part in walk order>`: the bytes stay inside the mail, which the caller keeps in the
  spool, and `attachment()` reads the part back. Files the ticket store would refuse
  (type, size, count) are named in the text instead, so the mail still opens its ticket.
* `raw` keeps the Message-ID and the thread the mail belongs to (its References, trimmed), so
  our answer can name both (channels.email.threads).
* Machine-written mail (`automated.reason`) becomes `UNSUPPORTED` with the reason as its
  text; a delivery report also yields receipts for the message of ours it names.
* Nothing here raises on a malformed mail: what cannot be read becomes `UNSUPPORTED`.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr

from sahaya.channels.email import automated, body, threads
from sahaya.messaging.domain import (
    ADDRESS_MAX,
    InboundKind,
    InboundMedia,
    InboundMessage,
    Receipt,
)
from sahaya.tickets.attachments import ALLOWED_TYPES, MIME_TYPE, Limits

_NUMBER = r"[A-Z]{2,4}-\d{6,}"
_BRACKETED = re.compile(rf"\[({_NUMBER})\]", re.I)
_BARE = re.compile(rf"\b({_NUMBER})\b", re.I)
_OUR_ID = re.compile(rf"^({_NUMBER})[.@]")
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|fwd?|aw|wg|sv)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
_MAX_REFERENCES = 20
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+$")
UNKNOWN_SENDER = "unknown@invalid"
_MAX_NOTES = 20  # "[not kept: …]" lines in the text; the rest are counted


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message: InboundMessage
    sha256: str  # of the raw bytes: the spool's file name
    receipts: tuple[Receipt, ...] = ()
    # Message-IDs this mail answers, most recent first (In-Reply-To, then References).
    references: tuple[str, ...] = ()


def _parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)  # noqa: S101 - policy.default makes EmailMessage
    return parsed


def _sender(mail: EmailMessage) -> tuple[str | None, str]:
    """(display name, lower-cased address) of From; the address is "" when there is none."""
    try:
        addresses = getattr(mail["From"], "addresses", ())
    except Exception:  # a malformed From: fall back to the plain parser
        addresses = ()
    if addresses:
        name = automated.readable(addresses[0].display_name)
        found = (name or None, automated.readable(addresses[0].addr_spec).lower())
    else:
        name, address = parseaddr(automated.header(mail, "From"))
        found = (name or None, address.lower())
    usable = len(found[1]) <= ADDRESS_MAX and _ADDRESS.match(found[1])
    return found if usable else (found[0], "")


def _sent_at(mail: EmailMessage, now: datetime) -> datetime:
    try:
        found = getattr(mail["Date"], "datetime", None)
    except Exception:
        found = None
    if not isinstance(found, datetime):
        return now
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def references(mail: Message) -> tuple[str, ...]:
    """Message-IDs (without brackets) of In-Reply-To, then References newest first."""
    found: list[str] = []
    ordered = _MSG_ID.findall(automated.header(mail, "In-Reply-To")) + list(
        reversed(_MSG_ID.findall(automated.header(mail, "References")))
    )
    for message_id in ordered:
        if message_id not in found:
            found.append(message_id)
    return tuple(found[:_MAX_REFERENCES])


def ticket_hint(subject: str, answered: tuple[str, ...]) -> str | None:
    """The ticket number the mail refers to: our Message-IDs first, then the subject."""
    for message_id in answered:
        match = _OUR_ID.match(message_id)
        if match:
            return match[1].upper()
    match = _BRACKETED.search(subject) or _BARE.search(subject)
    return match[1].upper() if match else None


def clean_subject(subject: str) -> str | None:
    """The subject without Re:/Fwd: prefixes (a new ticket's subject); None when empty."""
    cleaned = " ".join(_REPLY_PREFIX.sub("", subject).split())
    return cleaned or None


def _mime_of(part: Message, filename: str) -> str:
    declared = part.get_content_type()
    if not MIME_TYPE.match(declared):  # e.g. a NUL inside: PostgreSQL could not keep it
        declared = "application/octet-stream"
    if declared == "application/octet-stream" and filename:
        return mimetypes.guess_type(filename)[0] or declared
    return declared


def _safe_name(name: str | None, mime: str, index: int) -> str:
    """A plain file name the ticket store accepts (no path, at most 200 characters)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if not base:
        base = f"attachment-{index}{mimetypes.guess_extension(mime) or '.bin'}"
    if len(base) > 200:
        stem, ext = os.path.splitext(base)
        base = stem[: 200 - len(ext)] + ext if len(ext) < 20 else base[:200]
    return base


def _is_attachment(part: Message, chosen: Message | None) -> bool:
    if part.is_multipart() or part is chosen:
        return False
    if part.get_content_disposition() == "attachment" or part.get_filename():
        return True
    return part.get_content_maintype() not in ("text", "multipart", "message")


def _attachments(
    mail: EmailMessage, chosen: Message | None, sha: str, limits: Limits
) -> tuple[tuple[InboundMedia, ...], list[str]]:
    kept: list[InboundMedia] = []
    refused: list[str] = []
    for index, part in enumerate(mail.walk()):
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            subject = automated.header(first, "Subject") if isinstance(first, Message) else ""
            refused.append(f"[not kept: an attached mail, {subject or 'no subject'!r}]")
            continue
        if not _is_attachment(part, chosen):
            continue
        data = part.get_payload(decode=True)
        size = len(data) if isinstance(data, bytes) else 0
        filename = _safe_name(part.get_filename(), part.get_content_type(), index)
        mime = _mime_of(part, filename)
        why = None
        if not mime.startswith(ALLOWED_TYPES):
            why = "type not accepted"
        elif size == 0:
            why = "empty"
        elif size > limits.max_bytes:
            why = f"over the {limits.max_bytes:,}-byte limit"
        elif len(kept) >= limits.max_files:
            why = f"more than {limits.max_files} files"
        if why is not None:
            refused.append(f"[not kept: {filename} ({mime}, {size:,} bytes): {why}]")
            continue
        assert isinstance(data, bytes)  # noqa: S101 - size > 0
        digest = hashlib.sha256(data).hexdigest()
        kept.append(InboundMedia(f"{sha}#{index}", mime, filename, digest))
    if len(refused) > _MAX_NOTES:  # a mail of 4,000 parts once added 280 KB of these
        more = len(refused) - _MAX_NOTES
        refused[_MAX_NOTES:] = [f"[not kept: {more:,} more parts]"]
    return tuple(kept), refused


def parts(raw: bytes) -> list[Message]:
    """A kept mail's parts in walk order, which `InboundMedia.provider_id` indexes."""
    return list(_parse(raw).walk())


def attachment(parts: list[Message], index: int) -> tuple[bytes, str]:
    """The bytes and MIME type of the part `index` (walk order) of a kept mail."""
    if not 0 <= index < len(parts) or parts[index].is_multipart():
        raise LookupError(f"the mail has no attachment at part {index}")
    part = parts[index]
    data = part.get_payload(decode=True)
    filename = _safe_name(part.get_filename(), part.get_content_type(), index)
    return (data if isinstance(data, bytes) else b""), _mime_of(part, filename)


def _raw_fields(mail: EmailMessage, sha: str, size: int, why: str | None) -> dict[str, object]:
    return {
        "message_id": automated.header(mail, "Message-ID"),
        # What an answer to this mail lists before its id (channels.email.threads).
        "references": list(
            threads.thread_of(
                automated.header(mail, "References"), automated.header(mail, "In-Reply-To")
            )
        ),
        "from": automated.header(mail, "From"),
        "to": automated.header(mail, "To"),
        "date": automated.header(mail, "Date"),
        "sha256": sha,
        "size": size,
        "automated": why,
    }


def parse(
    raw: bytes,
    *,
    now: datetime,
    limits: Limits,
    own: frozenset[str] = frozenset(),
    oversize: int | None = None,
) -> ParsedMail:
    """The mail as an `InboundMessage` (see the module docstring). `own`: our addresses
    (mail from them is a loop). `oversize`: only the headers were read, the whole mail
    having this many bytes."""
    sha = hashlib.sha256(raw).hexdigest()
    try:
        return _read(raw, sha, now, limits, own, oversize)
    except Exception as exc:  # a mail the email package chokes on is kept, not lost
        message = InboundMessage(
            provider_message_id=f"sha256:{sha}",
            address=UNKNOWN_SENDER,
            kind=InboundKind.UNSUPPORTED,
            text=f"unreadable mail ({type(exc).__name__}: {exc})"[:500],
            sent_at=now,
            raw={"sha256": sha, "size": len(raw)},
        )
        return ParsedMail(message, sha)


def _read(
    raw: bytes,
    sha: str,
    now: datetime,
    limits: Limits,
    own: frozenset[str],
    oversize: int | None,
) -> ParsedMail:
    mail = _parse(raw)
    name, sender = _sender(mail)
    message_id = next(iter(_MSG_ID.findall(automated.header(mail, "Message-ID"))), "")
    answered = references(mail)
    subject = automated.header(mail, "Subject")
    sent_at = _sent_at(mail, now)
    why = automated.reason(mail, sender, own) if sender else "no sender address"
    message = InboundMessage(
        provider_message_id=message_id or f"sha256:{sha}",
        address=sender or UNKNOWN_SENDER,
        kind=InboundKind.UNSUPPORTED,
        text=why or "",
        sent_at=sent_at,
        name=name,
        email=sender or None,
        subject=clean_subject(subject),
        raw=_raw_fields(mail, sha, oversize or len(raw), why),
    )
    if why is not None:
        return ParsedMail(message, sha, automated.delivery_receipts(mail, sent_at))
    if oversize is not None:
        text = (
            f"[a mail of {oversize:,} bytes, too large to read: only its headers were kept; "
            "please ask the customer to send the files separately]"
        )
        media: tuple[InboundMedia, ...] = ()
    else:
        chosen = body.body_part(mail)
        media, refused = _attachments(mail, chosen, sha, limits)
        text = "\n".join([body.text_of(chosen), *refused]).strip()
    message = replace(
        message,
        kind=InboundKind.MEDIA if media else InboundKind.TEXT,
        text=text,
        media=media,
        ticket_hint=ticket_hint(subject, answered),
    )
    return ParsedMail(message, sha, references=answered)
