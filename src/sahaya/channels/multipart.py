"""`multipart/form-data` bodies read with the standard library's email parser, for the local
provider fakes that receive file uploads (Telegram's sendDocument, WhatsApp's media upload),
so no multipart dependency is needed. Binary parts come through byte for byte."""

from __future__ import annotations

import email.message
import email.parser
import email.policy
from dataclasses import dataclass


@dataclass(frozen=True)
class Upload:
    file_name: str
    content_type: str
    data: bytes


def parse_multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    """The form's plain fields and its files; ValueError when it is not multipart."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise ValueError("can't parse multipart/form-data")
    params: dict[str, str] = {}
    uploads: dict[str, Upload] = {}
    for part in message.get_payload():
        if not isinstance(part, email.message.Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if (file_name := part.get_filename()) is not None:
            uploads[name] = Upload(file_name, part.get_content_type(), data)
        else:
            params[name] = data.decode("utf-8")
    return params, uploads
