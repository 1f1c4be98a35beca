"""Outbox rules without I/O: the retry schedule, when to give up, expiry, receipts,
templates in en and ml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sahaya.messaging import domain

NOW = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempts", "wait"),
    [
        (1, timedelta(seconds=30)),
        (2, timedelta(minutes=2)),
        (3, timedelta(minutes=10)),
        (4, timedelta(hours=1)),
        (5, timedelta(hours=6)),
    ],
)
def test_backoff_grows_after_each_failed_attempt(attempts: int, wait: timedelta) -> None:
    assert domain.next_attempt_at(attempts, NOW) == NOW + wait


def test_gives_up_after_the_sixth_attempt() -> None:
    assert domain.MAX_ATTEMPTS == 6
    assert domain.next_attempt_at(5, NOW) is not None
    assert domain.next_attempt_at(6, NOW) is None
    assert domain.next_attempt_at(7, NOW) is None


def test_a_message_never_tried_is_due_now() -> None:
    assert domain.next_attempt_at(0, NOW) == NOW


def test_a_message_with_an_expiry_is_not_retried_after_it() -> None:
    expires = NOW + timedelta(minutes=5)  # a sign-in code
    assert domain.next_attempt_at(2, NOW, expires) == NOW + timedelta(minutes=2)
    assert domain.next_attempt_at(3, NOW, expires) is None  # +10 min: the code is dead
    assert domain.expiry_refusal(expires, NOW) is None
    assert "expired" in (domain.expiry_refusal(expires, expires) or "")


def test_a_message_part_way_through_its_parts_only_moves_by_a_failure() -> None:
    """A delivered text must not take its message out of the queue before its files."""
    queued = domain.OutboundState.QUEUED
    assert not domain.receipt_applies(queued, domain.OutboundState.DELIVERED)
    assert not domain.receipt_applies(queued, domain.OutboundState.READ)
    assert domain.receipt_applies(queued, domain.OutboundState.FAILED)
    assert domain.receipt_applies(domain.OutboundState.SENT, domain.OutboundState.DELIVERED)


@pytest.mark.parametrize("language", ["en", "ml"])
def test_acknowledgement_carries_number_and_subject(language: str) -> None:
    text = domain.render(
        domain.ACKNOWLEDGEMENT,
        language,
        number="AF-000042",
        subject="Order 4512 arrived cold",
        name="Anjali K",
    )
    assert "AF-000042" in text.subject
    assert "AF-000042" in text.body
    assert "Order 4512 arrived cold" in text.body
    assert "Anjali K" in text.body


def test_acknowledgement_in_malayalam() -> None:
    text = domain.render(
        domain.ACKNOWLEDGEMENT, "ml", number="AF-000042", subject="ബിരിയാണി തണുത്തു", name="അഞ്ജലി"
    )
    assert text.subject == "നിങ്ങളുടെ പരാതി ലഭിച്ചു — ടിക്കറ്റ് AF-000042"
    assert "മറുപടി" in text.body  # they can reply
    assert "വിളിക്കുക" in text.body  # … or call us
    assert "ബിരിയാണി തണുത്തു" in text.body


def test_english_for_unknown_language_and_values_inserted_verbatim() -> None:
    text = domain.render(
        domain.ACKNOWLEDGEMENT, "fr", number="AF-000001", subject="Paid $5 extra", name="A"
    )
    assert text.subject.startswith("We have received your request")
    assert "Paid $5 extra" in text.body


def test_unknown_template_raises() -> None:
    with pytest.raises(domain.UnknownTemplate):
        domain.render("nope", "en", number="1")


def test_a_kept_message_reads_back_as_the_same_message() -> None:
    """What `inbound_events.payload` keeps (as JSON) must rebuild the message the retry
    sweep processes: every field, media and location included."""
    import json
    from datetime import UTC, datetime

    from sahaya.messaging.domain import InboundKind, InboundMedia, InboundMessage
    from sahaya.messaging.inbound import message_from_payload, message_payload

    message = InboundMessage(
        provider_message_id="wamid.1",
        address="919847012345",
        kind=InboundKind.MEDIA,
        text="the box",
        sent_at=datetime(2026, 12, 2, 5, 30, tzinfo=UTC),
        phone="+919847012345",
        name="Anu",
        media=(InboundMedia("media-1", "image/jpeg", "box.jpg", "ab12"),),
        button_payload="yes",
        location=(9.9312, 76.2673),
        reply_to="wamid.0",
        shared_phone="+919847012345",
        link_token="tok",
        email="anu@example.com",
        ticket_hint="AF-000001",
        subject="late",
        raw={"id": "wamid.1", "image": {"id": "media-1"}},
    )
    stored = json.loads(json.dumps(message_payload(message)))
    assert message_from_payload(stored) == message
