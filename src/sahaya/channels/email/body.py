"""The readable text of an inbound mail: the plain-text part (else the HTML part, tags
stripped), with the quoted history of earlier messages cut off so a ticket thread shows
each message once.

Quirks:
* Mail clients quote in different ways: Gmail and Apple Mail write "On <date>, <name>
  wrote:" (Gmail's Malayalam UI: "… എഴുതി:"), wrapped over up to three lines; Outlook
  writes "-----Original Message-----" or a line of underscores followed by "From:"; plain
  clients prefix quoted lines with ">". The cut is deliberately crude: everything from the
  first such marker on goes, and a mail that would be left empty keeps its full text.
* A signature after RFC 3676's "-- " line goes too.
* `format=flowed` text (RFC 3676) is unwrapped: a line ending in a space continues.
* Text that does not decode in its declared charset (or an unknown charset, or 8-bit text
  declared as ASCII) is read as UTF-8, with replacement characters if need be, rather than
  losing the message.
"""

from __future__ import annotations

import re
from email.message import EmailMessage, Message, MIMEPart
from html import unescape
from html.parser import HTMLParser

_ATTRIBUTION = re.compile(r"^\s*On\b.{0,400}?(?:wrote|എഴുതി)\s*:\s*$")
_LOCAL_ATTRIBUTION = re.compile(r"(?:wrote|എഴുതി)\s*:\s*$")
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(?:Original Message|Forwarded message)\s*-{2,}", re.I)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_HEADERISH = re.compile(r"^\s*(?:From|Sent|Date|To|Subject)\s*:", re.I)
_BLANKS = re.compile(r"\n{3,}")


def _decoded(part: Message) -> str:
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return ""
    # The declared charset, else UTF-8 (clients that send 8-bit text without declaring it
    # send UTF-8 nowadays), else UTF-8 with replacement characters.
    for charset in (part.get_content_charset() or "us-ascii", "utf-8"):
        try:
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("utf-8", "replace")


def unflow(text: str, *, delsp: bool = False) -> str:
    """Undo RFC 3676 soft line breaks (a line ending in a space continues on the next)."""
    out: list[str] = []
    pending = ""
    for line in text.split("\n"):
        if line.startswith(" ") and not line.startswith(" >"):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line != "-- ":
            pending += line[:-1] if delsp else line
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return "\n".join(out)


class _Text(HTMLParser):
    """Tags out, block elements as line breaks, quotes (`<blockquote>`) and scripts out."""

    _SKIP = frozenset({"script", "style", "head", "title", "blockquote"})
    _BREAK = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data.replace("\r", " ").replace("\n", " "))  # HTML whitespace


def html_to_text(html: str) -> str:
    """A crude but safe rendering of an HTML mail as plain text."""
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:  # pathological markup: fall back to dropping anything tag-like
        return unescape(re.sub(r"<[^>]*>", " ", html))
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _attribution_at(lines: list[str], index: int) -> bool:
    """ "On <date>, <name> wrote:" (wrapped over up to three lines), or a localised one
    that names the address ("…, Sahaya <support@…> എഴുതി:")."""
    line = lines[index]
    if line.lstrip().startswith("On "):
        return any(_ATTRIBUTION.match(" ".join(lines[index : index + n])) for n in (1, 2, 3))
    return "@" in line and bool(_LOCAL_ATTRIBUTION.search(line))


def strip_quotes(text: str) -> str:
    """The new part of a reply: no quoted history, no signature (see the module docstring)."""
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line in ("-- ", "--"):  # RFC 3676's signature separator
            break
        if _ORIGINAL.match(line) or _attribution_at(lines, index):
            break
        if _RULE.match(line) and index + 1 < len(lines) and _HEADERISH.match(lines[index + 1]):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    result = _BLANKS.sub("\n\n", "\n".join(kept)).strip()
    return result or text.strip()


def body_part(mail: EmailMessage) -> MIMEPart | None:
    """The part the text comes from: text/plain preferred, else text/html."""
    try:
        return mail.get_body(preferencelist=("plain", "html"))
    except (KeyError, ValueError, AttributeError):
        return None


def text_of(part: MIMEPart | None) -> str:
    """The readable, quote-stripped text of the body part."""
    if part is None:
        return ""
    content = _decoded(part).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    elif str(part.get_param("format", "")).lower() == "flowed":
        content = unflow(content, delsp=str(part.get_param("delsp", "")).lower() == "yes")
    return strip_quotes(content)
