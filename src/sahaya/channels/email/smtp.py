"""Send outbox messages as email through an SMTP relay (the messaging `Sender` port).

Quirks, and what we do about them:
* smtplib is blocking: each send runs in a thread (`asyncio.to_thread`) on its own
  connection — EHLO, optional STARTTLS and AUTH, one message, QUIT. A relay that limits
  connections answers 4xx, which is simply retried later.
* "Sent" means the relay accepted the message (250 after DATA). A bounce arrives later as
  mail to the envelope sender; when that mailbox is an email account, its RFC 3464 report
  becomes a receipt (channels.email.automated) for messages sent from that account.
* Reply codes: 4xx → `TransientSendError` (greylisting, mailbox busy, rate limit); 5xx →
  `PermanentSendError` (no such user, rejected content). Authentication refusals (530, 534,
  535) are a configuration problem, not the message's: transient, so the mail goes out once
  the operator fixes the credentials. Refusals at the greeting or EHLO, connection refused,
  timeouts and dropped connections are transient too. A refused recipient is judged by the
  code the server gave for that address.
* Message-ID is `<TICKET.ROWID@domain-of-mail-from>`, derived from the outbox row, so a send
  repeated after a crash carries the same id and mail clients show one message.
* Headers: From (settings), Reply-To, Date, `Content-Language`, `X-Sahaya-Ticket` with the
  ticket number, and `Auto-Submitted: auto-replied` (RFC 3834) on acknowledgements so
  customers' auto-responders do not answer them.
* Threading (channels.email.threads): a mail about a ticket the customer wrote to by email
  answers their latest mail there (`In-Reply-To` its Message-ID, `References` their thread
  and that id), looked up per send by the outbox row; every mail about a ticket also lists
  the ticket's thread id `<AF-000123@domain>` in `References` (the root they all hang
  from) and carries the number in the subject (`[AF-000123]` is added when the subject
  lacks it). A customer's reply then names the ticket twice over, which is how inbound
  mail finds it (channels.email.inbound). Without a database (tests, tools) only the
  ticket's thread id is named.
* Malayalam subjects are RFC 2047-encoded; non-ASCII bodies go base64 so no 8BITMIME
  support is needed from the relay.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr

from sahaya.channels.email import repository, threads
from sahaya.messaging.domain import ACKNOWLEDGEMENT, Capabilities, Channel
from sahaya.messaging.ports import (
    OutboundMessage,
    PermanentSendError,
    SendError,
    SendResult,
    TransientSendError,
)
from sahaya.persistence import Database
from sahaya.settings import Settings
from sahaya.tickets.domain import parse_number

EMAIL_CAPABILITIES = Capabilities(media=True)

_AUTH_CODES = frozenset({530, 534, 535})
_UNSAFE = re.compile(r"[^A-Za-z0-9-]")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 30.0
    mail_from: str = "Sahaya Support <support@sahaya.invalid>"
    reply_to: str = ""


def _by_code(code: int, text: str) -> SendError:
    message = f"{code} {text}".strip()
    if 500 <= code < 600 and code not in _AUTH_CODES:
        return PermanentSendError(message)
    return TransientSendError(message)


def _reason(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def classify(exc: Exception) -> SendError:
    """An smtplib or socket error as the port's transient or permanent refusal."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        address, (code, text) = next(iter(exc.recipients.items()))
        return _by_code(code, f"{_reason(text)} ({address})")
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        # Refused at the greeting or EHLO: about this connection, not this message.
        return TransientSendError(f"{exc.smtp_code} {_reason(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, _reason(exc.smtp_error))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentSendError(f"the relay cannot take this message: {exc}")
    return TransientSendError(f"{type(exc).__name__}: {exc}")


class SmtpSender:
    """The email channel's sender; one per worker process."""

    def __init__(self, config: SmtpConfig, *, database: Database | None = None) -> None:
        self.config = config
        self.database = database
        self._envelope_from = parseaddr(config.mail_from)[1]
        self._domain = self._envelope_from.rpartition("@")[2] or "sahaya"

    @classmethod
    def from_settings(
        cls, settings: Settings, *, database: Database | None = None
    ) -> SmtpSender | None:
        """None when `SAHAYA_SMTP_HOST` is empty: email stays queued until it is set.
        `database`: where the customer's mails are looked up, to answer them in-thread."""
        if not settings.smtp_host:
            return None
        return cls(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value(),
                starttls=settings.smtp_starttls,
                timeout=settings.smtp_timeout,
                mail_from=settings.mail_from,
                reply_to=settings.mail_reply_to,
            ),
            database=database,
        )

    @property
    def channel(self) -> Channel:
        return Channel.EMAIL

    @property
    def capabilities(self) -> Capabilities:
        return EMAIL_CAPABILITIES

    def message_id(self, message: OutboundMessage) -> str:
        left = f"{_UNSAFE.sub('', message.reference)}." if message.reference else ""
        return f"<{left}{message.id.hex}@{self._domain}>"

    def thread_id(self, ticket_number: str) -> str:
        """The per-ticket root id every mail about the ticket references."""
        return f"<{_UNSAFE.sub('', ticket_number)}@{self._domain}>"

    def build(
        self, message: OutboundMessage, now: datetime, answered: threads.Answered | None = None
    ) -> EmailMessage:
        """The mail; `answered` is the customer's mail it replies to, if any."""
        ticket = (
            message.reference if message.reference and parse_number(message.reference) else None
        )
        subject = message.subject
        if ticket is not None and ticket not in subject:
            subject = f"{subject} [{ticket}]"
        mail = EmailMessage(policy=SMTP_POLICY)
        mail["From"] = self.config.mail_from
        mail["To"] = message.recipient
        mail["Reply-To"] = self.config.reply_to or self.config.mail_from
        mail["Subject"] = subject
        mail["Date"] = format_datetime(now)
        mail["Message-ID"] = self.message_id(message)
        root = self.thread_id(ticket).strip("<>") if ticket is not None else None
        in_reply_to, references = threads.headers(root=root, answered=answered)
        if in_reply_to is not None:
            mail["In-Reply-To"] = threads.MessageIds("In-Reply-To", [in_reply_to])
        if references:
            mail["References"] = threads.MessageIds("References", references)
        if message.reference:
            mail["X-Sahaya-Ticket"] = message.reference
        if message.template == ACKNOWLEDGEMENT:
            mail["Auto-Submitted"] = "auto-replied"
        cte = None if message.body.isascii() else "base64"
        mail.set_content(message.body, charset="utf-8", cte=cte)
        mail["Content-Language"] = message.language  # after set_content, which clears Content-*
        for item in message.files:  # a reply's attachments: the mail becomes multipart/mixed
            main, _, sub = item.content_type.partition("/")
            mail.add_attachment(
                item.data,
                maintype=main or "application",
                subtype=sub or "octet-stream",
                filename=item.filename,
            )
        return mail

    async def answered(self, message: OutboundMessage) -> threads.Answered | None:
        """The customer's latest mail on the message's ticket, which this one answers."""
        if self.database is None or not parse_number(message.reference or ""):
            return None
        raw = await repository.answered_mail(database=self.database, outbox_id=message.id)
        return threads.Answered.from_raw(raw) if raw is not None else None

    async def send(self, message: OutboundMessage) -> SendResult:
        mail = self.build(message, datetime.now(UTC), await self.answered(message))
        await asyncio.to_thread(self._transmit, mail, message.recipient)
        return SendResult(provider_message_id=str(mail["Message-ID"]))

    def _transmit(self, mail: EmailMessage, recipient: str) -> None:
        config = self.config
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
                if config.starttls:
                    try:
                        smtp.starttls(context=ssl.create_default_context())
                    except smtplib.SMTPNotSupportedError as exc:  # misconfigured, not the mail
                        raise TransientSendError(f"STARTTLS: {exc}") from exc
                if config.username:
                    smtp.login(config.username, config.password)
                smtp.send_message(mail, from_addr=self._envelope_from, to_addrs=[recipient])
        except SendError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc) from exc
