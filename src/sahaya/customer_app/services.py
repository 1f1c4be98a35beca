"""The customer app's use cases: sign in with an SMS code, then see and write to one's own
tickets and inbox. Keyword-only, time passed in, no commits (the handler commits).

Sign-in proves the number (customers.otp): the code goes out through the outbox on the
tenant's SMS account, and a right code verifies the number (`verified_via = sms_otp`) and
returns a bearer token scoped to that one customer. Codes are sent only to registered
numbers, but the answer is the same for any number, so the endpoint does not tell who is
registered. Everything after sign-in is scoped to the token's customer: another
customer's ticket is "unknown", never "forbidden".
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from sahaya.customer_app.repository import SignInRepository
from sahaya.customers import CustomerRepository, CustomerRow, InvalidPhone, otp, to_e164
from sahaya.customers import services as customers
from sahaya.customers.domain import VerificationMethod
from sahaya.customers.tables import CustomerTokenRow, OtpChallengeRow
from sahaya.errors import Invalid, NotFound, TooManyRequests, Unauthenticated, Unavailable
from sahaya.messaging import MessagingRepository
from sahaya.messaging import services as messaging
from sahaya.messaging.accounts import first_account_id
from sahaya.messaging.domain import ONE_TIME_CODE, Channel
from sahaya.messaging.tables import AppInboxRow
from sahaya.network import NetworkRepository
from sahaya.persistence import UnitOfWork
from sahaya.tickets.attachments import AttachmentStore, Limits, NewAttachment
from sahaya.tickets.domain import Channel as TicketChannel
from sahaya.tickets.domain import EntryKind, Status
from sahaya.tickets.errors import IllegalTicketMove
from sahaya.tickets.inbound import system_actor
from sahaya.tickets.intake import Intake, Opened, open_ticket
from sahaya.tickets.repository import TicketRepository
from sahaya.tickets.tables import TicketAttachmentRow, TicketEntryRow, TicketRow

TOKEN_LIFETIME = timedelta(days=30)
OTP_TEMPLATE = ONE_TIME_CODE
# What the customer sees of a thread: their messages and our replies, not internal notes.
VISIBLE = (EntryKind.CUSTOMER_MESSAGE.value, EntryKind.AGENT_REPLY.value)


@dataclass(frozen=True, slots=True)
class CodeSent:
    expires_at: datetime
    resend_after: datetime


@dataclass(frozen=True, slots=True)
class CustomerPrincipal:
    """Who is calling the app API: one customer of one tenant."""

    tenant_id: uuid.UUID
    customer_id: uuid.UUID
    token_id: uuid.UUID


def _phone(raw: str) -> str:
    try:
        return to_e164(raw)
    except InvalidPhone as exc:
        raise Invalid(str(exc), field="phone") from None


async def _sms_account(uow: UnitOfWork, tenant_id: uuid.UUID) -> uuid.UUID:
    account_id = await first_account_id(uow=uow, tenant_id=tenant_id, channel=Channel.SMS)
    if account_id is None:
        raise Unavailable("no SMS account is set up, so codes cannot be sent")
    return account_id


async def request_code(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    phone: str,
    address: str,
    secret: str,
    now: datetime,
) -> CodeSent:
    """Send a sign-in code to a registered number (rate-limited per number and address).
    The limits are counted under a lock per number and per address, held until the new
    code commits: requests sent in parallel are judged one after another, not all against
    the same count."""
    e164 = _phone(phone)
    await SignInRepository(uow.session).lock(
        f"otp-number:{tenant_id}:{e164}", f"otp-address:{tenant_id}:{address[:64]}"
    )
    since = now - otp.WINDOW
    to_number = list(
        await uow.session.scalars(
            select(OtpChallengeRow.created_at).where(
                OtpChallengeRow.tenant_id == tenant_id,
                OtpChallengeRow.phone_e164 == e164,
                OtpChallengeRow.created_at > since,
            )
        )
    )
    from_address = await uow.session.scalar(
        select(func.count()).where(
            OtpChallengeRow.tenant_id == tenant_id,
            OtpChallengeRow.requested_from == address[:64],
            OtpChallengeRow.created_at > since,
        )
    )
    refusal = otp.may_send(sent_to_number=to_number, sent_from_address=from_address or 0, now=now)
    if refusal is not None:
        raise TooManyRequests(refusal.reason, retry_after=int(refusal.retry_after.total_seconds()))
    account_id = await _sms_account(uow, tenant_id)
    found = await CustomerRepository(uow.session).by_phone(tenant_id, e164)
    challenge_id = uuid.uuid4()
    code = otp.new_code()
    uow.session.add(
        OtpChallengeRow(
            id=challenge_id,
            tenant_id=tenant_id,
            phone_e164=e164,
            customer_id=found[0].id if found else None,
            code_hash=otp.code_hash(code, str(challenge_id), secret),
            requested_from=address[:64],
            created_at=now,
            expires_at=now + otp.LIFETIME,
            attempts=0,
        )
    )
    if found is not None:  # an unregistered number gets no SMS, and the same answer
        uow.session.add(
            messaging.channel_message(
                tenant_id=tenant_id,
                route=messaging.Route(Channel.SMS, account_id, e164),
                body=f"{code} is your Apnafood sign-in code. It expires in 5 minutes. "
                "Do not share it with anyone.",
                template=OTP_TEMPLATE,
                customer_id=found[0].id,
                now=now,
                expires_at=now + otp.LIFETIME,  # never sent, nor kept readable, after that
            )
        )
    await uow.flush()
    return CodeSent(expires_at=now + otp.LIFETIME, resend_after=now + otp.COOL_DOWN)


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    expires_at: datetime
    customer: CustomerRow


async def verify_code(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    phone: str,
    code: str,
    secret: str,
    now: datetime,
) -> SignedIn | otp.Check:
    """A right code: the number is verified and a customer token issued. A wrong one
    returns the failed `Check` — the caller commits the counted try, then reports it."""
    e164 = _phone(phone)
    challenge = await uow.session.scalar(
        select(OtpChallengeRow)
        .where(OtpChallengeRow.tenant_id == tenant_id, OtpChallengeRow.phone_e164 == e164)
        .order_by(OtpChallengeRow.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if challenge is None:
        return otp.Check(False, "no code was sent to this number; ask for one")
    result = otp.check(
        stored_hash=challenge.code_hash,
        offered=code,
        challenge_id=str(challenge.id),
        secret=secret,
        attempts=challenge.attempts,
        expires_at=challenge.expires_at,
        consumed=challenge.consumed_at is not None,
        now=now,
    )
    if not result.ok:
        if challenge.consumed_at is None and now < challenge.expires_at:
            challenge.attempts += 1
        return result
    challenge.consumed_at = now
    found = await CustomerRepository(uow.session).by_phone(tenant_id, e164)
    if found is None:  # the code was right but the number is not registered (any more)
        return otp.Check(False, "this number is not registered with us")
    customer = found[0]
    await customers.mark_verified(uow=uow, row=customer, method=VerificationMethod.SMS_OTP, now=now)
    token = secrets.token_urlsafe(32)
    uow.session.add(
        CustomerTokenRow(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            customer_id=customer.id,
            token_hash=hashlib.sha256(token.encode()).digest(),
            created_at=now,
            expires_at=now + TOKEN_LIFETIME,
        )
    )
    await uow.flush()
    return SignedIn(token=token, expires_at=now + TOKEN_LIFETIME, customer=customer)


async def resolve(*, uow: UnitOfWork, token: str, now: datetime) -> CustomerPrincipal:
    row = await uow.session.scalar(
        select(CustomerTokenRow).where(
            CustomerTokenRow.token_hash == hashlib.sha256(token.encode()).digest()
        )
    )
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthenticated("the app token is unknown, expired or signed out")
    return CustomerPrincipal(row.tenant_id, row.customer_id, row.id)


async def sign_out(*, uow: UnitOfWork, me: CustomerPrincipal, now: datetime) -> None:
    await uow.session.execute(
        update(CustomerTokenRow).where(CustomerTokenRow.id == me.token_id).values(revoked_at=now)
    )


async def my_customer(*, uow: UnitOfWork, me: CustomerPrincipal) -> CustomerRow:
    found = await CustomerRepository(uow.session).by_id(me.tenant_id, me.customer_id)
    if found is None:
        raise Unauthenticated("the customer of this token no longer exists")
    return found[0]


async def my_tickets(*, uow: UnitOfWork, me: CustomerPrincipal, limit: int) -> list[TicketRow]:
    rows = await uow.session.scalars(
        select(TicketRow)
        .where(TicketRow.tenant_id == me.tenant_id, TicketRow.customer_id == me.customer_id)
        .order_by(TicketRow.updated_at.desc())
        .limit(limit)
    )
    return list(rows)


async def my_attachments(
    *, uow: UnitOfWork, ticket: TicketRow, entries: list[TicketEntryRow]
) -> list[TicketAttachmentRow]:
    """The files of the entries the customer sees (never those of internal notes)."""
    visible = {e.id for e in entries}
    return [
        a
        for a in await TicketRepository(uow.session).attachments(ticket.id)
        if a.entry_id in visible
    ]


async def my_ticket(
    *, uow: UnitOfWork, me: CustomerPrincipal, number: str
) -> tuple[TicketRow, list[TicketEntryRow]]:
    ticket = await uow.session.scalar(
        select(TicketRow).where(
            TicketRow.tenant_id == me.tenant_id,
            TicketRow.customer_id == me.customer_id,
            TicketRow.number == number.strip().upper(),
        )
    )
    if ticket is None:
        raise NotFound(f"you have no ticket {number}")
    entries = await uow.session.scalars(
        select(TicketEntryRow)
        .where(TicketEntryRow.ticket_id == ticket.id, TicketEntryRow.kind.in_(VISIBLE))
        .order_by(TicketEntryRow.seq)
    )
    return ticket, list(entries)


async def my_inbox(*, uow: UnitOfWork, me: CustomerPrincipal, limit: int) -> list[AppInboxRow]:
    return await MessagingRepository(uow.session).inbox(me.tenant_id, me.customer_id, limit)


async def read_inbox_item(
    *, uow: UnitOfWork, me: CustomerPrincipal, item_id: uuid.UUID, now: datetime
) -> AppInboxRow:
    item = await MessagingRepository(uow.session).inbox_item(me.tenant_id, me.customer_id, item_id)
    if item is None:
        raise NotFound(f"no inbox item {item_id}")
    if item.read_at is None:
        item.read_at = now
    await uow.flush()
    return item


async def write(
    *,
    uow: UnitOfWork,
    me: CustomerPrincipal,
    message: str,
    now: datetime,
    thread_window: timedelta,
    store: AttachmentStore,
    limits: Limits,
    subject: str | None = None,
    number: str | None = None,
    attachments: tuple[NewAttachment, ...] = (),
) -> Opened:
    """Open a ticket (or, under the duplicate guard, join the open one); with `number`, add
    the message to that ticket of mine (a resolved one reopens; a closed one is final)."""
    found = await CustomerRepository(uow.session).by_id(me.tenant_id, me.customer_id)
    if found is None:
        raise Unauthenticated("the customer of this token no longer exists")
    if number is not None:
        ticket, _ = await my_ticket(uow=uow, me=me, number=number)
        if ticket.status == Status.CLOSED.value:
            raise IllegalTicketMove(f"ticket {ticket.number} is closed; open a new one")
        subject = subject or ticket.subject
        service = ticket.service_code
    else:
        services = await NetworkRepository(uow.session).services(me.tenant_id)
        active = [s.code for s in services if s.active]
        service = active[0] if active else "apnafood"
    first_line = next((ln.strip() for ln in message.splitlines() if ln.strip()), "App message")
    return await open_ticket(
        uow=uow,
        actor=await system_actor(uow, me.tenant_id, found[1]),
        intake=Intake(
            customer_id=me.customer_id,
            service_code=service,
            channel=TicketChannel.APP,
            subject=(subject or first_line)[:300],
            message=message,
            attachments=attachments,
            thread_into=number,
        ),
        now=now,
        thread_window=thread_window,
        store=store,
        limits=limits,
        known=found,
    )
