"""Each provider's documented payloads parse into the normalised shapes the core handles
(messaging.domain): one case per fixture file, so a new fixture without a case fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sahaya.channels.telegram import wire as telegram
from sahaya.channels.whatsapp_cloud import wire as whatsapp
from sahaya.messaging.domain import InboundKind, OutboundState

FIXTURES = Path(__file__).parent.parent / "fixtures" / "providers"
WA = FIXTURES / "whatsapp"
TG = FIXTURES / "telegram"

WHATSAPP_MESSAGES = {
    "text.json": (InboundKind.TEXT, "Where is my order 4512?"),
    "text-malayalam.json": (InboundKind.TEXT, None),
    "image.json": (InboundKind.MEDIA, "Damaged box, order 4512"),
    "document.json": (InboundKind.MEDIA, None),
    "location.json": (InboundKind.LOCATION, None),
    "button-reply.json": (InboundKind.BUTTON, "Confirm"),
    "template-button.json": (InboundKind.BUTTON, "Resolved"),
    "reaction.json": (InboundKind.UNSUPPORTED, "reaction"),
    "unsupported.json": (InboundKind.UNSUPPORTED, "unsupported"),
    "bsuid-text.json": (InboundKind.TEXT, "Where is my order 4512?"),
}
WHATSAPP_STATUSES = {
    "status-sent.json": OutboundState.SENT,
    "status-delivered.json": OutboundState.DELIVERED,
    "status-read.json": OutboundState.READ,
    "status-failed.json": OutboundState.FAILED,
}
TELEGRAM = {
    "text.json": InboundKind.TEXT,
    "start-deep-link.json": InboundKind.START,
    "start-plain.json": InboundKind.START,
    "contact-own.json": InboundKind.CONTACT,
    "contact-plus.json": InboundKind.CONTACT,
    "contact-forwarded.json": InboundKind.CONTACT,
    "photo.json": InboundKind.MEDIA,
    "document.json": InboundKind.MEDIA,
    "callback-query.json": InboundKind.BUTTON,
    "edited-message.json": InboundKind.UNSUPPORTED,
    "sticker.json": InboundKind.UNSUPPORTED,
    "group-message.json": InboundKind.UNSUPPORTED,
}


def test_every_fixture_has_a_case() -> None:
    others = {"two-messages.json", "template-status-update.json"}
    assert {p.name for p in WA.glob("*.json")} == set(WHATSAPP_MESSAGES) | set(
        WHATSAPP_STATUSES
    ) | others
    assert {p.name for p in TG.glob("*.json")} == set(TELEGRAM)


@pytest.mark.parametrize(("name", "expected"), sorted(WHATSAPP_MESSAGES.items()))
def test_whatsapp_messages(name: str, expected: tuple[InboundKind, str | None]) -> None:
    parsed = whatsapp.parse((WA / name).read_bytes())
    [(number_id, message)] = parsed.messages
    assert number_id == "1065403522"
    kind, text = expected
    assert message.kind == kind
    if text is not None:
        assert message.text == text
    assert message.sent_at.tzinfo is not None
    if name != "bsuid-text.json":
        assert (message.address, message.phone) == ("919847012345", "+919847012345")
    else:
        assert (message.address, message.phone) == ("IN.1502576394655843", None)


def test_whatsapp_button_payloads_and_media_and_names() -> None:
    reply = whatsapp.parse((WA / "button-reply.json").read_bytes()).messages[0][1]
    template = whatsapp.parse((WA / "template-button.json").read_bytes()).messages[0][1]
    assert (reply.button_payload, template.button_payload) == ("cancel:4512:yes", "resolved:8812")
    assert reply.reply_to is not None
    document = whatsapp.parse((WA / "document.json").read_bytes()).messages[0][1]
    assert [(m.filename, m.mime_type) for m in document.media] == [
        ("invoice.pdf", "application/pdf")
    ]
    assert reply.name == "Anjali"
    two = whatsapp.parse((WA / "two-messages.json").read_bytes())
    assert len({m.address for _, m in two.messages}) == 2


@pytest.mark.parametrize(("name", "state"), sorted(WHATSAPP_STATUSES.items()))
def test_whatsapp_statuses(name: str, state: OutboundState) -> None:
    [(_, receipt)] = whatsapp.parse((WA / name).read_bytes()).receipts
    assert receipt.state == state
    assert receipt.provider_message_id.startswith("wamid.")
    assert (receipt.error is not None) == (state == OutboundState.FAILED)


def test_other_whatsapp_fields_are_ignored_not_refused() -> None:
    parsed = whatsapp.parse((WA / "template-status-update.json").read_bytes())
    assert (parsed.messages, parsed.receipts) == ([], [])
    assert parsed.ignored == ["field 'message_template_status_update'"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b'{"object":"whatsapp_business_account","entry":{}}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",'
        b'"value":{"metadata":{"phone_number_id":"1"},"messages":[{"type":"text"}]}}]}]}',
    ],
)
def test_whatsapp_malformed_bodies_raise_wire_errors(body: bytes) -> None:
    with pytest.raises(whatsapp.WireError):
        whatsapp.parse(body)


def _whatsapp_text(*senders: dict[str, str]) -> bytes:
    messages = [
        {"id": f"wamid.{n}", "timestamp": "1741614131", "type": "text", "text": {"body": "hi"}}
        | sender
        for n, sender in enumerate(senders)
    ]
    value = {"metadata": {"phone_number_id": "1"}, "messages": messages}
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "2", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(envelope).encode()


def test_a_whatsapp_sender_no_conversation_could_keep_is_ignored_not_the_delivery() -> None:
    """Kept, such a sender's message failed on every try to process it; refusing the whole
    delivery would make Meta retry, then drop, the other messages in it."""
    good = {"from": "9" * 15}
    bad = [{"from": "9" * 16}, {"from": "٩" * 10}, {"user_id": "U" * 201}]
    parsed = whatsapp.parse(_whatsapp_text(bad[0], good, *bad[1:]))
    assert [m.phone for _, m in parsed.messages] == ["+" + "9" * 15]
    assert len(parsed.ignored) == 3
    assert "messages[0].from: not a phone number" in parsed.ignored[0]


def test_telegram_ids_beyond_64_bits_are_refused() -> None:
    chat = {"id": 2**63 - 1, "type": "private"}
    message = {"message_id": 1, "date": 1741614131, "chat": chat, "text": "hi"}
    assert telegram.parse(json.dumps({"update_id": 1, "message": message}).encode()).address == str(
        2**63 - 1
    )
    huge = 10**250
    updates = [
        {"update_id": 1, "message": message | {"chat": {"id": huge, "type": "private"}}},
        {"update_id": 1, "edited_message": message | {"chat": {"id": huge}}},
        {"update_id": 1, "callback_query": {"id": "q", "from": {"id": huge}, "data": "x"}},
        {"update_id": huge, "message": message},
    ]
    for update in updates:
        with pytest.raises(telegram.WireError):
            telegram.parse(json.dumps(update).encode())


def test_whatsapp_signature_is_over_the_raw_bytes() -> None:
    raw = (WA / "text-malayalam.json").read_bytes()
    import hashlib
    import hmac

    header = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    assert whatsapp.signature_valid(raw, header, "s3cret")
    assert not whatsapp.signature_valid(raw + b" ", header, "s3cret")
    assert not whatsapp.signature_valid(raw, header, "other")
    assert not whatsapp.signature_valid(raw, None, "s3cret")


@pytest.mark.parametrize(("name", "kind"), sorted(TELEGRAM.items()))
def test_telegram_updates(name: str, kind: InboundKind) -> None:
    message = telegram.parse((TG / name).read_bytes())
    assert message.kind == kind
    assert message.provider_message_id.isdigit()


def test_telegram_links_and_contacts() -> None:
    deep = telegram.parse((TG / "start-deep-link.json").read_bytes())
    assert deep.link_token == "tok_8f3k2LmQ9xZ"
    assert telegram.parse((TG / "start-plain.json").read_bytes()).link_token is None
    own = telegram.parse((TG / "contact-own.json").read_bytes())
    plus = telegram.parse((TG / "contact-plus.json").read_bytes())
    forwarded = telegram.parse((TG / "contact-forwarded.json").read_bytes())
    assert own.shared_phone == plus.shared_phone == "+919847012345"
    assert forwarded.shared_phone is None  # someone else's card proves nothing
    tap = telegram.parse((TG / "callback-query.json").read_bytes())
    assert tap.button_payload == "cancel:4512:yes"
    assert tap.sent_at <= datetime.now(UTC)


def test_telegram_secret_and_malformed_updates() -> None:
    assert telegram.secret_valid("abc", "abc")
    assert not telegram.secret_valid("abd", "abc")
    assert not telegram.secret_valid(None, "abc")
    assert not telegram.secret_valid("abc", "")
    for body in (b"nope", b"[]", b'{"update_id": "x"}', b'{"update_id": 1, "message": {}}'):
        with pytest.raises(telegram.WireError):
            telegram.parse(body)


def test_an_exotel_sms_receipt_is_dated_when_exotel_says_it_was_delivered() -> None:
    from urllib.parse import parse_qsl

    from sahaya.channels.exotel import sms

    now = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)
    form = (FIXTURES / "exotel" / "sms-status-sent.form").read_text().strip()
    got = sms.receipt(dict(parse_qsl(form)), now)  # DateSent=2025-03-10 19:06:12, Indian time
    assert got is not None
    assert got.at == datetime(2025, 3, 10, 13, 36, 12, tzinfo=UTC)
    fields = {"SmsSid": "s1", "Status": "sent"}
    odd = ("2025-03-10 21:00:00", "0001-01-01 00:00:00", "soon", None)  # ahead, no date…
    for sent in odd:
        late = sms.receipt(fields | {"DateSent": sent}, now)
        assert late is not None
        assert late.at == now
