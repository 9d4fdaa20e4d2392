"""Reminders: one per pickup group, before the deadline, never in the site's quiet hours (on the
injected clock); a group picked up meanwhile is not reminded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from cloud.core.db import transaction
from cloud.messaging.schedule import QuietHours, reminder_due
from cloud.messaging.states import MessageKind, MessageState
from cloud.models import Notification
from cloud.services.notices import record_expiry
from locker_contract.events import Envelope, ParcelDeposited, ParcelRefused
from tests.cloud.messaging.conftest import Rig, dispatcher

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUIET = QuietHours(time(21, 0), time(8, 0))


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("at", "goes"),
    [
        (local(3, 20, 59), local(3, 20, 59)),  # before the quiet hours: as it is
        (local(3, 21, 0), local(4, 8, 0)),  # at their start: the next morning
        (local(4, 3, 30), local(4, 8, 0)),  # past midnight: that morning
        (local(4, 7, 59), local(4, 8, 0)),
        (local(4, 8, 0), local(4, 8, 0)),  # at their end: allowed
        (local(4, 12, 0), local(4, 12, 0)),
    ],
)
def test_quiet_hours_move_a_message_to_their_end(at: datetime, goes: datetime) -> None:
    assert QUIET.next_allowed(at.astimezone(UTC), SHANGHAI) == goes


def test_quiet_hours_within_one_day_and_none() -> None:
    siesta = QuietHours(time(12, 0), time(14, 0))
    assert siesta.next_allowed(local(3, 13, 0), SHANGHAI) == local(3, 14, 0)
    assert siesta.next_allowed(local(3, 22, 0), SHANGHAI) == local(3, 22, 0)
    never = QuietHours(time(8, 0), time(8, 0))
    assert never.next_allowed(local(3, 8, 0), SHANGHAI) == local(3, 8, 0)


def test_no_reminder_that_would_come_at_or_after_the_deadline() -> None:
    deposited, deadline = local(3, 20, 0), local(4, 7, 0)  # the deadline in quiet hours
    assert reminder_due(deposited, deadline, timedelta(hours=4), QUIET, SHANGHAI) is None
    assert reminder_due(deposited, local(4, 12), timedelta(hours=4), QUIET, SHANGHAI) == local(4, 8)
    assert reminder_due(deposited, local(3, 23), timedelta(hours=4), QUIET, SHANGHAI) is None


def messages(engine: Engine) -> list[Notification]:
    with Session(engine) as s:
        return list(s.exec(select(Notification)))


def reminders(engine: Engine) -> list[Notification]:
    return [m for m in messages(engine) if m.kind is MessageKind.REMINDER]


async def test_a_reminder_due_in_quiet_hours_waits_for_their_end(rig: Rig) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    group = uuid.uuid4()
    bank.deposit("SF1008611", "A03", group, "40962048")  # 10:00 in Shanghai, 1 Dec
    bank.deposit("SF1008612", "A04", group, None)
    clock.advance(30)
    notifier = dispatcher(engine, settings, clock)
    assert await notifier.pass_once() == 1
    [reminder] = reminders(engine)  # 4 h before the deadline (4 Dec, 10:00) is 06:00: quiet
    assert reminder.due_at == local(4, 8, 0)
    clock.advance((local(4, 7, 59) - clock.now()).total_seconds())
    assert await notifier.pass_once() == 0
    clock.advance(60)
    assert await notifier.pass_once() == 1
    body = gateway.requests[-1]["Body"]
    assert body.startswith("【Maple Court, block 3】您的快递")
    assert "A03、A04" in body
    assert "2026-12-04 10:00" in body
    assert "40962048" not in body  # a reminder carries no code
    assert len(gateway.requests) == 2
    bank.redeliver_all()
    clock.advance(86400)
    assert await notifier.pass_once() == 0  # one reminder per group
    assert len(reminders(engine)) == 1


async def test_a_group_picked_up_is_not_reminded(rig: Rig) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    bank.deposit("SF1008611", "A03", uuid.uuid4(), "40962048")
    clock.advance(30)
    notifier = dispatcher(engine, settings, clock)
    await notifier.pass_once()
    bank.picked_up("SF1008611", "A03")
    clock.advance(3 * 86400)
    assert await notifier.pass_once() == 1
    [reminder] = reminders(engine)
    assert reminder.state is MessageState.CANCELLED
    assert len(gateway.requests) == 1


async def test_an_expiry_notice_due_in_quiet_hours_waits_for_their_end(rig: Rig) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    deposited = bank.deposit("SF1008611", "A03", uuid.uuid4(), "40962048")
    clock.advance(30)
    notifier = dispatcher(engine, settings, clock)
    await notifier.pass_once()
    clock.advance((local(4, 23, 0) - clock.now()).total_seconds())  # past the deadline, at 23:00
    refused = Envelope(
        event_id=uuid.uuid4(),
        bank_id=deposited.bank_id,
        seq=99,
        time=clock.now(),
        event=ParcelRefused(parcel_id=uuid.uuid4(), waybill="SF1008611", reason="expired"),
    )
    assert isinstance(deposited.event, ParcelDeposited)
    with transaction(engine) as s:
        record_expiry(s, refused, deposited.event)
    assert await notifier.pass_once() == 2  # it and the reminder: claimed, put back (quiet)
    assert len(gateway.requests) == 1
    [expired] = [m for m in messages(engine) if m.kind is MessageKind.EXPIRED]
    assert (expired.state, expired.attempts) == (MessageState.QUEUED, 0)
    assert expired.due_at == local(5, 8)
    clock.advance((local(5, 8, 0) - clock.now()).total_seconds())
    assert await notifier.pass_once() == 2
    assert len(gateway.requests) == 2  # the reminder was not sent: its deadline passed
    [reminder] = reminders(engine)
    assert (reminder.state, reminder.last_error) == (MessageState.CANCELLED, "its deadline passed")
    body = gateway.requests[-1]["Body"]
    assert "已转为退件" in body
    assert "SF Express" in body
    assert "40962048" not in body
