"""Poll IMAP mailboxes (RFC 9051 / 3501) for customers' mail.

An account is a channel account with channel `email` and provider `imap`: `address` is
the mailbox's address; settings `host`, `port` (993 with `ssl`, else 143), `ssl`
(implicit TLS), `starttls`, `mailbox` (default INBOX); secrets `username`, `password`.

Quirks, and what we do about them:
* imaplib is blocking: every command runs in a thread (`asyncio.to_thread`), one
  connection per poll, commands strictly one after another.
* "New" means *unseen* (`UID SEARCH UNSEEN`), oldest UID first, at most `BATCH` a poll.
  The body is fetched with `BODY.PEEK[]`, which does not set `\\Seen`; `\\Seen` is stored
  only after the mail's event is committed. A crash in between leaves it unseen, and the
  next poll's copy is a no-op (the event is keyed by Message-ID). The mailbox must
  therefore be Sahaya's alone: a person reading it in a mail client marks mail seen
  before Sahaya polls it.
* A mail over `MAX_BYTES` (`RFC822.SIZE`) is read by its headers only: the ticket still
  opens, saying the mail was too large.
* The database unreachable: the poll stops, the mail stays unseen, the next poll retries.
  The IMAP server unreachable or refusing the login: logged; the next poll retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sahaya.channels.email import IMAP_PROVIDER, handoff, repository
from sahaya.channels.email.handoff import Inbox
from sahaya.messaging import accounts
from sahaya.messaging.accounts import ChannelAccount
from sahaya.persistence.unreachable import UNREACHABLE

log = logging.getLogger(__name__)

PROVIDER = IMAP_PROVIDER
BATCH = 50
MAX_BYTES = 50 * 1024 * 1024
TIMEOUT = 30.0
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapError(Exception):
    """The IMAP server refused or broke off; the text says what it answered."""


@dataclass(frozen=True, slots=True)
class ImapConfig:
    host: str
    port: int
    username: str
    password: str
    ssl: bool = True
    starttls: bool = False
    mailbox: str = "INBOX"

    @classmethod
    def of(cls, account: ChannelAccount) -> ImapConfig:
        settings: Mapping[str, Any] = account.settings
        implicit = bool(settings.get("ssl", True))
        return cls(
            host=str(settings.get("host", "")),
            port=int(settings.get("port") or (993 if implicit else 143)),
            username=account.secret("username") or account.address,
            password=account.secret("password"),
            ssl=implicit,
            starttls=bool(settings.get("starttls", False)),
            mailbox=str(settings.get("mailbox") or "INBOX"),
        )


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(answer: tuple[str, list[Any]], what: str) -> list[Any]:
    status, data = answer
    if status != "OK":
        raise ImapError(f"{what}: {status} {data!r}")
    return data


class Mailbox:
    """One blocking IMAP session on the account's mailbox (call its methods in a thread)."""

    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self.conn: imaplib.IMAP4 | None = None

    def open(self) -> None:
        c = self.config
        context = ssl.create_default_context()
        if c.ssl:
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                c.host, c.port, ssl_context=context, timeout=TIMEOUT
            )
        else:
            conn = imaplib.IMAP4(c.host, c.port, timeout=TIMEOUT)
            if c.starttls:
                _ok(conn.starttls(ssl_context=context), "STARTTLS")
        self.conn = conn
        _ok(conn.login(c.username, c.password), "LOGIN")
        _ok(conn.select(_quote(c.mailbox)), f"SELECT {c.mailbox}")

    def _conn(self) -> imaplib.IMAP4:
        if self.conn is None:
            raise ImapError("not connected")
        return self.conn

    def unseen(self, limit: int) -> list[int]:
        data = _ok(self._conn().uid("SEARCH", "UNSEEN"), "UID SEARCH UNSEEN")
        found = sorted(int(uid) for uid in (data[0] or b"").split())
        return found[:limit]

    def size(self, uid: int) -> int:
        data = _ok(self._conn().uid("FETCH", str(uid), "(RFC822.SIZE)"), f"FETCH {uid} SIZE")
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            match = _SIZE.search(line) if isinstance(line, bytes) else None
            if match:
                return int(match[1])
        return 0

    def fetch(self, uid: int, *, headers_only: bool = False) -> bytes | None:
        """The raw mail (None: it was expunged meanwhile); `\\Seen` is not set."""
        part = "BODY.PEEK[HEADER]" if headers_only else "BODY.PEEK[]"
        data = _ok(self._conn().uid("FETCH", str(uid), f"({part})"), f"FETCH {uid}")
        return next(
            (item[1] for item in data if isinstance(item, tuple) and isinstance(item[1], bytes)),
            None,
        )

    def mark_seen(self, uid: int) -> None:
        _ok(self._conn().uid("STORE", str(uid), "+FLAGS", "(\\Seen)"), f"STORE {uid}")

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                conn.logout()


@dataclass(slots=True)
class Polled:
    fetched: int = 0
    new: int = 0
    repeated: int = 0
    deferred: int = 0
    error: str | None = None  # why the poll stopped early


async def poll(
    *, inbox: Inbox, account: ChannelAccount, now: datetime, limit: int = BATCH
) -> Polled:
    """Take the account's unseen mail into tickets; see the module docstring."""
    result = Polled()
    mailbox = Mailbox(ImapConfig.of(account))
    try:
        await asyncio.to_thread(mailbox.open)
        for uid in await asyncio.to_thread(mailbox.unseen, limit):
            size = await asyncio.to_thread(mailbox.size, uid)
            oversize = size if size > MAX_BYTES else None
            raw = await asyncio.to_thread(mailbox.fetch, uid, headers_only=oversize is not None)
            if raw is None:
                continue
            result.fetched += 1
            try:
                accepted = await handoff.take(
                    inbox=inbox, account=account, raw=raw, now=now, oversize=oversize
                )
            except UNREACHABLE as exc:
                result.error = f"not accepted, left unseen: {type(exc).__name__}: {exc}"
                log.warning("email account %s: UID %s %s", account.id, uid, result.error)
                break
            result.new += accepted.new
            result.repeated += accepted.repeated
            result.deferred += accepted.deferred
            await asyncio.to_thread(mailbox.mark_seen, uid)
    except (ImapError, imaplib.IMAP4.error, OSError) as exc:
        result.error = f"IMAP {mailbox.config.host}:{mailbox.config.port}: {exc}"
        log.warning("email account %s: %s", account.id, result.error)
    finally:
        await asyncio.to_thread(mailbox.close)
    return result


async def poll_all(*, inbox: Inbox, secret_key: str, now: datetime) -> dict[str, Polled]:
    """Poll every active IMAP account, one after another; one failing stops no other."""
    done: dict[str, Polled] = {}
    for account_id in await repository.active_accounts(database=inbox.database, provider=PROVIDER):
        account = await accounts.by_id(
            database=inbox.database, account_id=account_id, secret_key=secret_key
        )
        if account is None:
            continue
        try:
            done[str(account_id)] = await poll(inbox=inbox, account=account, now=now)
        except Exception as exc:  # a bug with one mail must not stop the other mailboxes
            log.exception("email account %s: poll failed", account_id)
            done[str(account_id)] = Polled(error=f"{type(exc).__name__}: {exc}")
    return done
