"""Messaging: the durable outbox (queued → sent → delivered, or failed, with retries and
backoff), message templates in English and Malayalam, and the customer app's inbox."""

from sahaya.messaging import domain, ports, services
from sahaya.messaging.repository import MessagingRepository
from sahaya.messaging.tables import AppInboxRow, OutboxMessageRow

__all__ = [
    "AppInboxRow",
    "MessagingRepository",
    "OutboxMessageRow",
    "domain",
    "ports",
    "services",
]
