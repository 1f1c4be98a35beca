"""SLA clocks on real tickets: due times on the default 24×5 Kerala calendar, pauses,
warnings at 75 %, breach → escalation up the franchise tree, and no double escalation
when two workers sweep at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sahaya.access import Principal, Role
from sahaya.customers import services as customers
from sahaya.network import services as network
from sahaya.persistence import Database, UnitOfWork
from sahaya.sla import SlaRepository, TicketClockRow
from sahaya.tickets import TicketRepository, domain, escalation, sla
from sahaya.tickets import intake as ticket_intake
from sahaya.tickets import services as tickets

IST = ZoneInfo("Asia/Kolkata")
KOCHI = "kerala/ernakulam/kochi"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=IST)


async def open_ticket(database: Database, admin: Principal, now: datetime, severity: str) -> str:
    async with UnitOfWork(database) as uow:
        customer, _ = await customers.register(
            uow=uow,
            actor=admin,
            name="Anjali K",
            phone=f"98470{uuid.uuid4().int % 10**5:05d}",
            home_node_ref=KOCHI,
            email=None,
            language="ml",
            now=now,
        )
        opened = await ticket_intake.open_ticket(
            uow=uow,
            actor=admin,
            intake=ticket_intake.Intake(
                customer_id=customer.id,
                service_code="apnafood",
                channel=domain.Channel.VOICE,
                subject="Cold food",
                message="cold",
                severity=severity,
            ),
            now=now,
            thread_window=timedelta(0),
        )
        await uow.commit()
        return opened.ticket.number


async def add_lead(database: Database, tenant_id: uuid.UUID, node: str, email: str) -> None:
    """A supervisor with an e-mail address bound to `node`: the leads SLA notices go to."""
    from sahaya.access import services as access

    async with UnitOfWork(database) as uow:
        found = await network.node_or_raise(uow=uow, tenant_id=tenant_id, ref=node)
        await access.create_user(
            uow=uow,
            tenant_id=tenant_id,
            username=f"lead.{node.replace('/', '.')}",
            display_name=f"Lead of {node}",
            role=Role.SUPERVISOR,
            node=found,
            password="a long password",
            email=email,
        )
        await uow.commit()


async def clock(database: Database, number: str, tenant_id: uuid.UUID) -> TicketClockRow:
    async with UnitOfWork(database) as uow:
        found = await TicketRepository(uow.session).by_number(tenant_id, number)
        assert found is not None
        row = await SlaRepository(uow.session).clock(found[0].id)
        assert row is not None
        return row


async def sweep(database: Database, now: datetime) -> int:
    async with UnitOfWork(database) as uow:
        handled = await escalation.sweep(uow=uow, now=now)
        await uow.commit()
        return handled


async def history(
    database: Database, number: str, tenant_id: uuid.UUID
) -> list[tuple[str, dict[str, object]]]:
    async with UnitOfWork(database) as uow:
        found = await TicketRepository(uow.session).by_number(tenant_id, number)
        assert found is not None
        return [
            (e.action, e.changes) for e in await TicketRepository(uow.session).events(found[0].id)
        ]


async def test_due_times_skip_the_weekend_and_a_kerala_holiday(
    database: Database, admin: Principal, tenant_id: uuid.UUID
) -> None:
    # Monday 23 Nov 22:00; Tuesday 24 Nov is Guru Nanak's Birthday (a Kerala holiday);
    # the default calendar is 24x5.
    number = await open_ticket(database, admin, at(23, 22), "critical")
    row = await clock(database, number, tenant_id)
    assert row.fr_due_at == at(23, 23, 30)  # 90 minutes
    assert row.res_due_at == at(25, 4)  # 2 h on Monday + 4 h on Wednesday
    assert row.res_warn_at == at(25, 2, 30)  # 75 % of 6 h
    assert row.next_fire_at == at(
        23,
        23,
        7,
    ) + timedelta(seconds=30)  # 75 % of 90 min

    friday = await open_ticket(database, admin, at(27, 20), "critical")
    assert (await clock(database, friday, tenant_id)).res_due_at == at(30, 2)


async def test_pause_moves_the_due_time_out(
    database: Database, admin: Principal, tenant_id: uuid.UUID
) -> None:
    number = await open_ticket(database, admin, at(23, 10), "critical")
    for target, when in (
        (domain.Status.OPEN, at(23, 10, 5)),
        (domain.Status.PENDING_CUSTOMER, at(23, 11)),
        (domain.Status.OPEN, at(23, 14)),
    ):
        async with UnitOfWork(database) as uow:
            await tickets.change_status(
                uow=uow, actor=admin, number=number, target=target, now=when
            )
            await uow.commit()
        if target == domain.Status.PENDING_CUSTOMER:
            paused = await clock(database, number, tenant_id)
            assert paused.res_due_at is None  # clock stopped while waiting on the customer
            assert paused.next_fire_at is None
    assert (await clock(database, number, tenant_id)).res_due_at == at(23, 19)  # 16:00 + 3 h

    async with UnitOfWork(database) as uow:
        await tickets.change_status(
            uow=uow, actor=admin, number=number, target=domain.Status.RESOLVED, now=at(23, 15)
        )
        await uow.commit()
    done = await clock(database, number, tenant_id)
    assert (done.stopped_at, done.next_fire_at) == (at(23, 15), None)
    assert await sweep(database, at(30, 0)) == 0


async def test_warning_then_breach_climbs_the_tree(
    database: Database, admin: Principal, tenant_id: uuid.UUID
) -> None:
    number = await open_ticket(database, admin, at(23, 10), "critical")
    async with UnitOfWork(database) as uow:  # answered, so only the resolution clock runs
        await tickets.add_entry(
            uow=uow,
            actor=admin,
            number=number,
            kind=domain.EntryKind.AGENT_REPLY,
            body="On it",
            now=at(23, 10, 10),
        )
        await uow.commit()

    await sweep(database, at(23, 14, 30))  # 75 % of 6 h
    assert [a for a, _ in await history(database, number, tenant_id)][-1] == "sla_warning"
    await sweep(database, at(23, 14, 31))  # nothing new to fire
    assert [a for a, _ in await history(database, number, tenant_id)].count("sla_warning") == 1

    await sweep(
        database,
        at(
            23,
            16,
            0,
        ),
    )
    events = await history(database, number, tenant_id)
    assert [a for a, _ in events][-2:] == ["sla_breach", "escalated"]
    assert events[-1][1]["node"] == [KOCHI, "kerala/ernakulam"]
    assert events[-1][1]["level"] == ["sub_district", "district"]
    row = await clock(database, number, tenant_id)
    assert (row.level, row.escalations, row.res_due_at) == ("district", 1, at(23, 22))

    await sweep(database, at(23, 22))
    await sweep(database, at(24, 12))  # Tuesday is a holiday: the new clock waits
    await sweep(database, at(25, 4))
    actions = [a for a, _ in await history(database, number, tenant_id)]
    assert actions.count("escalated") == 2
    assert actions[-1] == "escalation_exhausted"
    async with UnitOfWork(database) as uow:
        found = await TicketRepository(uow.session).by_number(tenant_id, number)
        assert found is not None
        assert (found[1].path, found[0].status) == ("kerala", "open")


async def test_two_workers_never_escalate_twice(
    database: Database, admin: Principal, tenant_id: uuid.UUID, db_url: str
) -> None:
    numbers = [await open_ticket(database, admin, at(23, 10), "critical") for _ in range(20)]
    other = Database(db_url, pool_size=2)
    try:

        async def worker(db: Database) -> None:
            while await sweep(db, at(23, 17)):
                pass

        await asyncio.gather(worker(database), worker(other))
    finally:
        await other.dispose()
    for number in numbers:
        actions = [a for a, _ in await history(database, number, tenant_id)]
        assert actions.count("escalated") == 1, (number, actions)
        assert actions.count("sla_breach") == 2  # first response and resolution, once each


async def test_a_clock_that_cannot_fire_does_not_hold_up_the_others(
    database: Database, admin: Principal, tenant_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sahaya.tickets import tasks

    numbers = [await open_ticket(database, admin, at(23, 10), "critical") for _ in range(3)]
    bad = numbers[1]
    real_fire = escalation._fire

    def fire(row, ticket, batch, config):  # type: ignore[no-untyped-def]
        if ticket.number == bad:  # a row the code cannot handle, whatever the reason
            raise RuntimeError("corrupt row")
        return real_fire(row, ticket, batch, config)

    monkeypatch.setattr(escalation, "_fire", fire)
    now = at(23, 17)
    assert await tasks.fire_due_clocks(database, sla.DEFAULT, clock=lambda: now) == 3

    for number in (numbers[0], numbers[2]):
        actions = [a for a, _ in await history(database, number, tenant_id)]
        assert actions.count("escalated") == 1, (number, actions)
    actions = [a for a, _ in await history(database, bad, tenant_id)]
    assert "escalated" not in actions
    assert actions[-1] == "sla_fire_failed"
    assert (await clock(database, bad, tenant_id)).next_fire_at == now + tasks.POSTPONE_FAILING

    monkeypatch.setattr(escalation, "_fire", real_fire)  # fixed: it fires when its turn comes back
    later = now + tasks.POSTPONE_FAILING
    assert await tasks.fire_due_clocks(database, sla.DEFAULT, clock=lambda: later) == 1
    assert [a for a, _ in await history(database, bad, tenant_id)].count("escalated") == 1


async def test_the_worker_sweeps_due_clocks_within_seconds(
    database: Database, admin: Principal, tenant_id: uuid.UUID
) -> None:
    from tests.functional.test_worker import running_worker

    # Opened a week ago as critical: both deadlines have long passed.
    opened = datetime.now(IST) - timedelta(days=7)
    number = await open_ticket(database, admin, opened, "critical")
    async with running_worker(database):
        for _ in range(100):
            if "escalated" in [a for a, _ in await history(database, number, tenant_id)]:
                break
            await asyncio.sleep(0.1)
    actions = [a for a, _ in await history(database, number, tenant_id)]
    assert actions.count("escalated") == 1, actions


async def test_resolved_critical_ticket_owes_an_rca_with_reminders(
    database: Database, admin: Principal, tenant_id: uuid.UUID
) -> None:
    from sahaya.tickets import rca

    critical = await open_ticket(database, admin, at(23, 10), "critical")
    minor = await open_ticket(database, admin, at(23, 10), "minor")
    for number in (critical, minor):
        async with UnitOfWork(database) as uow:
            await tickets.change_status(
                uow=uow, actor=admin, number=number, target=domain.Status.RESOLVED, now=at(23, 12)
            )
            await uow.commit()

    async def remind(now: datetime) -> int:
        async with UnitOfWork(database) as uow:
            sent = await rca.remind(uow=uow, now=now)
            await uow.commit()
            return sent

    assert await remind(at(25, 11)) == 0  # more than a day before the due time
    assert await remind(at(25, 12)) == 1  # 24 h before due (26 Nov 12:00)
    assert await remind(at(25, 13)) == 0
    assert await remind(at(26, 12)) == 1  # due now: overdue from here on
    actions = [a for a, _ in await history(database, critical, tenant_id)]
    assert actions[-4:] == ["rca_requested", "status", "rca_reminder", "rca_overdue"]
    assert "rca_requested" not in [a for a, _ in await history(database, minor, tenant_id)]

    async with UnitOfWork(database) as uow:
        filed = await rca.file(
            uow=uow, actor=admin, number=critical, text="Payment gateway timeout", now=at(26, 15)
        )
        await uow.commit()
    assert filed.filed_at == at(26, 15)
    assert await remind(at(30, 12)) == 0  # no reminders once filed
    assert [a for a, _ in await history(database, critical, tenant_id)][-1] == "rca_filed"


async def test_warnings_and_escalations_email_the_leads(
    database: Database, admin: Principal, tenant_id: uuid.UUID, db_url: str
) -> None:
    import psycopg

    await add_lead(database, tenant_id, "kerala/ernakulam", "Lead@EKM.example")
    number = await open_ticket(database, admin, at(23, 10), "critical")
    await sweep(database, at(23, 11, 10))  # first-response warning (75 % of 90 min)
    await sweep(database, at(23, 16))  # breaches → escalation to the district
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT recipient, subject FROM outbox_messages WHERE template = 'staff_notice' "
            "ORDER BY created_at"
        ).fetchall()
    assert [r[0] for r in rows] == ["lead@ekm.example", "lead@ekm.example"]
    assert rows[0][1] == f"[{number}] SLA: sla_warning"
    assert "escalated" in rows[1][1]


async def test_a_lead_gets_one_digest_when_many_tickets_breach_together(
    database: Database, admin: Principal, tenant_id: uuid.UUID, db_url: str
) -> None:
    import psycopg

    await add_lead(database, tenant_id, "kerala", "lead@kerala.example")
    numbers = [await open_ticket(database, admin, at(23, 10), "critical") for _ in range(3)]
    breach = at(23, 16) + timedelta(seconds=7, microseconds=123456)  # a real clock's "now"
    assert await sweep(database, breach) == 3  # all three breach and escalate at once
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT recipient, subject, body, ticket_id FROM outbox_messages"
            " WHERE template = 'staff_notice'"
        ).fetchall()
    assert len(rows) == 1  # one email for the outage, not one per ticket
    recipient, subject, body, ticket_id = rows[0]
    assert recipient == "lead@kerala.example"
    assert subject.startswith("SLA: 3 tickets")
    assert "3 escalated" in subject
    assert all(number in body for number in numbers)
    assert ticket_id is None
    for number in numbers:  # the audit trail stays per ticket
        actions = [a for a, _ in await history(database, number, tenant_id)]
        assert actions.count("escalated") == 1


async def test_tier_ladder_keeps_the_node_and_climbs_engineer_tiers(
    database: Database, admin: Principal, tenant_id: uuid.UUID
) -> None:
    from sahaya.network import ExecutiveRow, NodeRow
    from sahaya.tickets import routing
    from sahaya.tickets.routing import set_mode

    async with UnitOfWork(database) as uow:
        kochi = await network.node_or_raise(uow=uow, tenant_id=tenant_id, ref=KOCHI)
        owner = await network.create_franchisee(
            uow=uow, tenant_id=tenant_id, name="Kochi", nodes=[kochi]
        )
        for rank, tier in ((1, "L1"), (2, "L2")):
            await network.add_executive(
                uow=uow,
                tenant_id=tenant_id,
                franchisee_id=owner.id,
                data=network.ExecutiveInput(
                    name=f"{tier} engineer",
                    rank=rank,
                    phone_e164=f"+9198470000{rank:02d}",
                    email=None,
                    services=["apnafood"],
                    working_hours={
                        d: [["00:00", "00:00"]]
                        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                    },
                    support_tier=tier,
                ),
                now=at(23, 9),
            )
        await set_mode(
            uow=uow,
            tenant_id=tenant_id,
            channel=domain.Channel.VOICE,
            mode=domain.AssignMode.ROUND_ROBIN,
        )
        await uow.commit()
    number = await open_ticket(database, admin, at(23, 10), "critical")
    tiers = sla.SlaConfig.named("tiers")
    async with UnitOfWork(database) as uow:
        await escalation.sweep(uow=uow, now=at(23, 17), config=tiers)
        await uow.commit()
    events = await history(database, number, tenant_id)
    escalated = next(c for a, c in events if a == "escalated")
    assert escalated["level"] == ["L1", "L2"]
    assert "node" not in escalated  # stays with the Kochi team

    async with UnitOfWork(database) as uow:
        await routing.sweep(uow=uow, now=datetime.now(IST))
        await uow.commit()
        found = await TicketRepository(uow.session).by_number(tenant_id, number)
        assert found is not None
        ticket, node = found
        assignee = await uow.session.get(ExecutiveRow, ticket.assignee_id)
        assert isinstance(node, NodeRow)
        assert node.path == KOCHI
        assert assignee is not None
        assert assignee.support_tier == "L2"
