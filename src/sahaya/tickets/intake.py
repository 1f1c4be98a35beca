"""Ticket intake: every channel hands over an `Intake`; a new ticket gets its number, thread,
attachments, entitlement check, SLA clocks and acknowledgement in one transaction — or, under
the duplicate guard, the message joins the customer's open ticket."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sahaya.access import Principal
from sahaya.contracts import domain as contract_rules
from sahaya.contracts import services as contracts
from sahaya.customers import CustomerRow
from sahaya.customers import services as customers
from sahaya.messaging import services as messaging
from sahaya.network import NetworkRepository, NodeRow
from sahaya.network import services as network
from sahaya.persistence import UnitOfWork
from sahaya.persistence.fast_insert import insert_new
from sahaya.sla import domain as sla_rules
from sahaya.sla import services as sla_services
from sahaya.tickets import domain
from sahaya.tickets import sla as clocks
from sahaya.tickets.attachments import AttachmentStore, Limits, NewAttachment, check
from sahaya.tickets.errors import InvalidTicket
from sahaya.tickets.repository import (
    SEARCH_CHARS,
    TicketRepository,
    intake_probe,
    referenced_ticket_id,
    sequence_name,
)
from sahaya.tickets.services import (
    DEFAULT_LIMITS,
    SEVERITIES,
    _attach,
    _entry,
    _event,
    actor_label,
)
from sahaya.tickets.tables import (
    TicketRow,
)


@dataclass(frozen=True, slots=True)
class Intake:
    """What a channel or an agent hands over to open (or continue) a ticket."""

    customer_id: uuid.UUID
    service_code: str
    channel: domain.Channel
    subject: str
    message: str
    severity: str | None = None
    tags: Sequence[str] = ()
    attachments: tuple[NewAttachment, ...] = ()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    contact_email: str | None = None
    # False suppresses the acknowledgement to the customer (osTicket's `autorespond`).
    autorespond: bool = True
    # The provider channel the customer wrote from: the acknowledgement goes there too.
    route: messaging.Route | None = None
    # A ticket number the message refers to (an email reply's subject or References): it
    # joins that ticket if it is the customer's and not closed, reopening a resolved one.
    thread_into: str | None = None


@dataclass(frozen=True, slots=True)
class Opened:
    ticket: TicketRow
    node: NodeRow
    created: bool  # False: threaded into the customer's open ticket (duplicate guard)


async def open_ticket(
    *,
    uow: UnitOfWork,
    actor: Principal,
    intake: Intake,
    now: datetime,
    thread_window: timedelta,
    store: AttachmentStore | None = None,
    limits: Limits = DEFAULT_LIMITS,
    known: tuple[CustomerRow, NodeRow] | None = None,
) -> Opened:
    """Open a ticket for a customer — or, when they already have an unresolved ticket for
    the same service touched within `thread_window`, add the message to that one.
    `known`: the customer's row and home node, when the channel has just read them."""
    subject = " ".join(intake.subject.split())
    if not subject or len(subject) > 300:
        raise InvalidTicket("subject: 1-300 characters", field="subject")
    if not intake.message.strip():
        raise InvalidTicket("message: must not be empty", field="message")
    rules = await sla_services.severity_by_tag(uow=uow, tenant_id=actor.tenant_id)
    by_category = sla_rules.severity_for_tags(intake.tags, rules)
    severity = intake.severity or (by_category.value if by_category else "minor")
    if severity not in SEVERITIES:
        raise InvalidTicket(f"severity: {severity!r} is not one of minor, major, critical")
    check(intake.attachments, limits)
    if intake.attachments and store is None:
        raise InvalidTicket("attachments are not accepted here", field="attachments")
    if known is None or known[0].id != intake.customer_id or not actor.sees(known[1].path):
        known = await customers.get(uow=uow, actor=actor, customer_id=intake.customer_id)
    customer, node = known
    service = await network.active_service(
        uow=uow, tenant_id=actor.tenant_id, code=intake.service_code
    )
    repo = TicketRepository(uow.session)
    author = f"customer:{customer.id}:{customer.name}"

    driver = await uow.driver()  # hot reads without the ORM's per-statement cost
    prefix = domain.service_prefix(service.code)
    existing_id, probe = None, None
    if intake.thread_into:
        existing_id = await referenced_ticket_id(
            driver, actor.tenant_id, customer.id, intake.thread_into
        )
    if existing_id is None:
        probe = await intake_probe(
            driver,
            actor.tenant_id,
            customer.id,
            service.code,
            now - thread_window,
            sequence_name(actor.tenant_id, prefix),
        )
        existing_id = probe.open_id
    existing = await uow.session.get(TicketRow, existing_id) if existing_id else None
    if existing is not None:
        message = _entry(
            repo,
            existing,
            kind=domain.EntryKind.CUSTOMER_MESSAGE,
            author=author,
            body=intake.message,
            now=now,
        )
        await _attach(uow, store, existing, message, intake.attachments, now)
        await repo.index_text(existing.id, intake.message)
        changes: dict[str, Any] = {"channel": intake.channel.value}
        home = await NetworkRepository(uow.session).node_by_id(actor.tenant_id, existing.node_id)
        assert home is not None  # noqa: S101 - foreign key
        if existing.status in domain.PAUSED | {domain.Status.RESOLVED}:
            before = domain.Status(existing.status)
            resumed = domain.resume_status(has_assignee=existing.assignee_id is not None)
            changes["status"] = [existing.status, resumed.value]
            existing.status = resumed.value
            await clocks.on_status(
                uow=uow, ticket=existing, node=home, before=before, after=resumed, now=now
            )
        existing.updated_at = now
        _event(
            repo,
            existing,
            actor=actor_label(actor),
            action="customer_message",
            changes=changes,
            now=now,
        )
        await insert_new(uow)
        return Opened(existing, home, created=False)

    sequence = probe.number if probe is not None else None
    if sequence is None:  # a referenced ticket that could not be joined, or a first ticket
        sequence = await repo.next_sequence(actor.tenant_id, prefix, driver=driver)
    number = domain.format_number(prefix, sequence)
    ticket = TicketRow.fresh(
        id=uuid.uuid4(),
        tenant_id=actor.tenant_id,
        number=number,
        customer_id=customer.id,
        service_code=service.code,
        channel=intake.channel.value,
        node_id=node.id,
        subject=subject,
        severity=severity,
        status=domain.Status.NEW.value,
        tags=sorted(set(intake.tags)),
        contact_name=customer.name,
        contact_email=intake.contact_email or customer.email,
        contact_phone=customer.phone_e164,
        custom_fields=dict(intake.custom_fields),
        created_at=now,
        updated_at=now,
    )
    cover = await contracts.check_at_intake(
        uow=uow,
        tenant_id=actor.tenant_id,
        customer_id=customer.id,
        service_code=service.code,
        today=contract_rules.local_day(now),
        views=probe.contracts if probe is not None else None,
    )
    ticket.entitlement = cover.entitlement.value
    ticket.entitlement_note = cover.reason
    ticket.approval = "pending" if cover.needs_approval else "not_needed"
    national = customer.phone_e164.removeprefix("+91")
    message_words = intake.message[:SEARCH_CHARS]
    words = (number, subject, customer.name, customer.phone_e164, national, message_words)
    ticket.search = repo.search_vector(" ".join(words))  # in the INSERT: no second row version
    repo.add(ticket)  # written with the rest below, in foreign-key order
    message = _entry(
        repo,
        ticket,
        kind=domain.EntryKind.CUSTOMER_MESSAGE,
        author=author,
        body=intake.message,
        now=now,
    )
    await _attach(uow, store, ticket, message, intake.attachments, now)
    _event(
        repo,
        ticket,
        actor=actor_label(actor),
        action="created",
        now=now,
        changes={
            "number": number,
            "channel": ticket.channel,
            "severity": severity,
            "node": node.path,
            "service": service.code,
        },
    )
    _event(
        repo,
        ticket,
        actor=actor_label(actor),
        action="entitlement_checked",
        now=now,
        changes={
            "entitlement": cover.entitlement.value,
            "reason": cover.reason,
            "requires_contract": cover.requires_contract,
            "contract": cover.reference,
            "approval": ticket.approval,
        },
    )
    if cover.needs_approval:
        _entry(
            repo,
            ticket,
            kind=domain.EntryKind.SYSTEM_EVENT,
            author=actor_label(actor),
            body=f"Waiting for a contract exception decision: {cover.reason}",
            now=now,
        )
    await clocks.start(uow=uow, ticket=ticket, node=node, now=now)
    if intake.autorespond:  # same transaction: no ticket, no acknowledgement
        await messaging.queue_acknowledgement(
            uow=uow, ticket=ticket, customer=customer, now=now, route=intake.route
        )
    await insert_new(uow)  # the ticket and its rows in one round trip (persistence.fast_insert)
    return Opened(ticket, node, created=True)
