"""Attachment files on disk, named by their SHA-256 (`var/attachments/ab/cd/abcd…`).

Files are written (atomically: temp file, then rename) before the database row that points
at them is committed. A crash in between leaves an unreferenced file, never a row without
its file; identical uploads share one file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sahaya.tickets.errors import InvalidTicket

ALLOWED_TYPES = (
    "image/",
    "audio/",
    "video/",
    "text/plain",
    "text/csv",
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
)

# A MIME type as RFC 6838 writes one, within ticket_attachments.content_type (120): a
# provider's odd header or payload value is refused (and named), not failed on every retry.
MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$", re.I)
MIME_TYPE_LENGTH = 120


@dataclass(frozen=True, slots=True)
class NewAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 10 * 1024 * 1024
    max_files: int = 10


def check(attachments: tuple[NewAttachment, ...], limits: Limits) -> None:
    if len(attachments) > limits.max_files:
        raise InvalidTicket(f"attachments: at most {limits.max_files} files", field="attachments")
    for item in attachments:
        name = item.filename.strip()
        if not name or "/" in name or "\\" in name or len(name) > 200:
            raise InvalidTicket(f"attachment name {item.filename!r} is not a plain file name")
        if len(item.content_type) > MIME_TYPE_LENGTH or not MIME_TYPE.match(item.content_type):
            raise InvalidTicket(f"{name}: {item.content_type[:60]!r} is not a MIME type")
        if not item.content_type.startswith(ALLOWED_TYPES):
            raise InvalidTicket(f"{name}: files of type {item.content_type} are not accepted")
        if len(item.data) > limits.max_bytes:
            raise InvalidTicket(
                f"{name}: {len(item.data):,} bytes is over the limit of {limits.max_bytes:,}"
            )
        if not item.data:
            raise InvalidTicket(f"{name}: the file is empty")


class AttachmentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        return digest

    def read(self, digest: str) -> bytes:
        return self._path(digest).read_bytes()
