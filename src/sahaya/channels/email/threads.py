"""Which mail an email of ours answers, as threading headers (RFC 5322 §3.6.4), without I/O.

* A mail of ours about a ticket the customer wrote to by email answers their latest mail:
  `In-Reply-To` is its Message-ID and `References` its own References (else its single
  In-Reply-To) followed by that id, so the customer's mail client files ours under theirs.
* `References` also starts with the ticket's thread id `<AF-000123@domain>` (no mail has
  it; every mail of ours about the ticket hangs from it), so our mails group even on a
  ticket that never came by email, and a reply to any of them names the ticket.
* Long threads are trimmed to the first id (the thread's root) and the latest ones, as
  mail clients do (our thread id stays first); an id too long for a header line, or not
  a plain token, is left out.
* The `email` package RFC 2047-encodes an unstructured word longer than a line, which would
  break an id of 80+ characters (Outlook writes such ids): `MessageIds` folds between ids
  and never encodes one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.policy import Policy
from typing import Any

MAX_REFERENCES = 10
_MAX_ID = 250
_MSG_ID = re.compile(r"<([^<>\s]+)>")


def _usable(message_id: str) -> bool:
    return 0 < len(message_id) <= _MAX_ID and message_id.isascii() and message_id.isprintable()


def trimmed(message_ids: Sequence[str], limit: int = MAX_REFERENCES) -> tuple[str, ...]:
    """The usable ids, each once, at most `limit`: the first and the latest."""
    found: list[str] = []
    for message_id in message_ids:
        if _usable(message_id) and message_id not in found:
            found.append(message_id)
    if len(found) <= limit:
        return tuple(found)
    return (found[0], *found[len(found) - limit + 1 :])


def thread_of(references: str, in_reply_to: str) -> tuple[str, ...]:
    """The ids (without brackets, oldest first) a mail's References header names, else its
    In-Reply-To: what an answer to it lists before the mail's own id."""
    return trimmed(_MSG_ID.findall(references) or _MSG_ID.findall(in_reply_to))


@dataclass(frozen=True, slots=True)
class Answered:
    """The customer's mail ours answers: its Message-ID and References, without brackets."""

    message_id: str
    references: tuple[str, ...] = ()

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Answered | None:
        """From the fields inbound mail keeps (`inbound_events.payload->'raw'`); None when
        the mail had no usable Message-ID."""
        found = _MSG_ID.findall(str(raw.get("message_id") or ""))
        if not found or not _usable(found[0]):
            return None
        kept = raw.get("references")
        listed = [str(r) for r in kept] if isinstance(kept, list) else []
        return cls(found[0], trimmed(listed))


def headers(*, root: str | None, answered: Answered | None) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) ids without brackets; `root` is the ticket's thread id."""
    ours = [root] if root else []
    if answered is None:
        return root, ours
    theirs = [m for m in (*answered.references, answered.message_id) if m != root]
    return answered.message_id, ours + list(trimmed(theirs, MAX_REFERENCES - len(ours)))


class MessageIds(str):
    """A header of Message-IDs (set on an `EmailMessage` like a string) that folds between
    ids and never RFC 2047-encodes one."""

    name: str

    def __new__(cls, name: str, message_ids: Sequence[str]) -> MessageIds:
        header = super().__new__(cls, " ".join(f"<{m}>" for m in message_ids))
        header.name = name
        return header

    def fold(self, *, policy: Policy) -> str:
        lines = [f"{self.name}:"]
        for word in self.split():
            if len(lines[-1]) + 1 + len(word) > (policy.max_line_length or 998) and (
                lines[-1] != f"{self.name}:"
            ):
                lines.append("")
            lines[-1] += f" {word}"
        return policy.linesep.join(lines) + policy.linesep
