"""The mail spool (`var/mail-spool/<sha256>.eml`): where a mail with attachments waits
until its event is processed.

An email's attachments arrive inside the mail, not behind a provider's media API, so the
mail itself is kept on disk — written atomically (temporary file, fsync, rename, fsync of
the directory) *before* its event is accepted — and the media fetcher reads the parts back
from it (`<sha256>#<part index>`). That way an event the retry sweep processes later still
finds its files after the IMAP message was marked seen or the SMTP client got its 250.

A file goes once its event is processed. Files of events still waiting for a retry stay;
`prune` removes any file older than `KEEP` (run by the IMAP poll task), far beyond the
retry backoff of a healthy system.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
import threading
import time
from datetime import timedelta
from email.message import Message
from pathlib import Path

from sahaya.channels.email.inbound import attachment, parts
from sahaya.messaging.ports import MediaFetcher, PermanentSendError
from sahaya.settings import Settings

KEEP = timedelta(days=30)
_SHA = re.compile(r"^[0-9a-f]{64}$")


def spool_dir(settings: Settings) -> Path:
    return settings.var_dir / "mail-spool"


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha: str) -> Path:
        if not _SHA.match(sha):
            raise LookupError(f"not a spooled mail: {sha!r}")
        return self.root / f"{sha}.eml"

    def keep(self, raw: bytes, sha: str) -> bool:
        """Write the mail durably unless it is there already; whether this call wrote it."""
        target = self.path(sha)
        if target.exists():
            with contextlib.suppress(FileNotFoundError):
                os.utime(target)  # in use again: not for `prune` yet
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(raw)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        directory = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself must survive a crash
        finally:
            os.close(directory)
        return True

    def discard(self, sha: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(sha).unlink()

    def fetcher(self) -> MediaFetcher:
        """The media fetcher the ticket pipeline calls for one mail's attachments, by media
        id `<sha256>#<part index>` (file reads and parsing off the event loop). It parses
        the mail once for all of its parts: parsing a mail of 4,000 parts again for each
        attachment took ~1.2 s a time."""
        parsed: dict[str, list[Message]] = {}  # lives as long as this fetcher: one mail
        lock = threading.Lock()

        def part(provider_id: str) -> tuple[bytes, str]:
            sha, _, index = provider_id.partition("#")
            if not index.isdigit():
                raise PermanentSendError(f"not an email attachment id: {provider_id!r}")
            try:
                with lock:
                    if sha not in parsed:
                        parsed[sha] = parts(self.path(sha).read_bytes())
                    return attachment(parsed[sha], int(index))
            except (FileNotFoundError, LookupError) as exc:  # pruned, or no such part
                raise PermanentSendError(f"{provider_id}: {exc}") from exc

        async def fetch(provider_id: str) -> tuple[bytes, str]:
            return await asyncio.to_thread(part, provider_id)

        return fetch

    def prune(self, older_than: timedelta = KEEP) -> int:
        """Remove spooled mails (and stray temporary files) older than `older_than`."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        for entry in self.root.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
        return removed
