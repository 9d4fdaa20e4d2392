"""The dispatcher against a real HTTP gateway and SMTP server, on SQLite and PostgreSQL: one
message per pickup group per visit, through an outage, never twice; the code gone once sent."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from email.parser import BytesParser
from email.policy import default

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from cloud.core.db import make_engine
from cloud.messaging import claims
from cloud.messaging.states import MessageKind, MessageState
from cloud.models import Notification
from cloud.schema import METADATA
from locker_contract.storage import StoragePolicy
from tests.cloud.messaging.conftest import Inbox, Rig, dispatcher
from tests.waiting import until

CODE = "40962048"
GATHER = timedelta(seconds=21)  # past the visit's gathering window (notify_coalesce_s = 20)


def messages(engine: Engine, kind: MessageKind | None = None) -> list[Notification]:
    with Session(engine) as s:
        found = s.exec(select(Notification).order_by(col(Notification.created_at)))
        return [m for m in found if kind is None or m.kind is kind]


async def test_one_message_per_pickup_group_per_visit(rig: Rig) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    group = uuid.uuid4()
    bank.deposit("SF1008611", "A03", group, CODE)
    clock.advance(5)
    bank.deposit("JD0020099", "A04", group, None, carrier="jd")  # joined: the code opens both
    bank.redeliver_all()  # the link delivers at least once
    notifier = dispatcher(engine, settings, clock)
    assert await notifier.pass_once() == 0  # the visit may not be over yet
    clock.advance(GATHER.total_seconds())
    assert await notifier.pass_once() == 1
    [request] = gateway.requests
    body = request["Body"]
    assert CODE in body
    assert "A03" in body
    assert "A04" in body
    assert "SF***8611" in body
    assert "JD***0099" in body
    assert "SF1008611" not in body
    assert "Maple Court, block 3" in body
    assert "1 Maple Road, Shanghai" in body
    assert "SF Express" in body
    assert "JD Logistics" in body
    assert "2026-12-04 10:00" in body  # 72 h after the deposit, in Shanghai's time
    assert "免费保管72小时" in body  # the default policy's rule
    assert request["To"] == "13800138000"
    assert request["StatusCallback"].endswith(f"?key={request['key']}")
    deposit = next(m for m in messages(engine) if m.kind is MessageKind.DEPOSIT)
    assert (deposit.state, deposit.sealed_code, deposit.id) == (
        MessageState.SENT,
        None,
        request["key"],
    )
    bank.redeliver_all()
    clock.advance(3600)
    await notifier.pass_once()
    assert len(gateway.requests) == 1  # nothing new: redeliveries made no second message


async def test_a_parcel_joining_after_the_message_went_is_told_without_a_code(rig: Rig) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    group = uuid.uuid4()
    bank.deposit("SF1008611", "A03", group, CODE)
    clock.advance(GATHER.total_seconds())
    notifier = dispatcher(engine, settings, clock)
    await notifier.pass_once()
    clock.advance(3600)
    bank.deposit("JD0020099", "A05", group, None, carrier="jd")
    clock.advance(GATHER.total_seconds())
    assert await notifier.pass_once() == 1
    first, second = (r["Body"] for r in gateway.requests)
    assert CODE in first
    assert "A05" not in first
    assert CODE not in second
    assert "A05" in second
    assert "opens it too" not in second
    assert "此前收到的取件码" in second


async def test_through_a_gateway_outage_the_same_key_is_retried_and_sent_once(rig: Rig) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    gateway.failures = 3
    bank.deposit("SF1008611", "A03", uuid.uuid4(), CODE)
    clock.advance(GATHER.total_seconds())
    notifier = dispatcher(engine, settings, clock)
    for _ in range(3):
        assert await notifier.pass_once() == 1
        [message] = messages(engine, MessageKind.DEPOSIT)
        assert message.state is MessageState.QUEUED
        assert message.last_error == "gateway answered 503"
        assert message.sealed_code is not None  # kept sealed until it goes
        assert message.due_at is not None
        assert message.due_at <= clock.now() + timedelta(seconds=60)
        assert await notifier.pass_once() == 0  # not again before its time
        clock.advance(60 + GATHER.total_seconds())  # the backoff's cap, then the window
    assert await notifier.pass_once() == 1
    [message] = messages(engine, MessageKind.DEPOSIT)
    assert (message.state, message.attempts) == (MessageState.SENT, 4)
    assert len(set(gateway.keys())) == 1
    assert len(gateway.requests) == 4
    assert list(gateway.sent) == [message.id]


@pytest.mark.parametrize("groups", [12])
async def test_two_dispatchers_at_once_send_each_message_once(rig: Rig, groups: int) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    for n in range(groups):
        bank.deposit(f"SF10086{n:02d}", f"A0{n % 8 + 1}", uuid.uuid4(), f"{n:08d}")
    clock.advance(GATHER.total_seconds())
    settings = settings.model_copy(update={"notify_batch": 2})  # small claims, many rounds
    one = dispatcher(engine, settings, clock)
    second_engine = make_engine(settings.database_url)  # a second process: its own pool
    took = [0, 0]
    try:
        two = dispatcher(second_engine, settings, clock)
        while sum(took) < groups:
            a, b = await asyncio.gather(one.pass_once(), two.pass_once())
            assert a + b > 0
            took = [took[0] + a, took[1] + b]
    finally:
        second_engine.dispose()
    assert took[0] > 0
    assert took[1] > 0
    assert sorted(gateway.keys()) == sorted(set(gateway.keys()))  # not one key twice
    assert len(gateway.sent) == groups
    assert all(m.state is MessageState.SENT for m in messages(engine, MessageKind.DEPOSIT))


async def test_once_sent_the_code_is_in_no_table_and_no_log_record(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # every statement, too (restored)
    bank.deposit("SF1008611", "A03", uuid.uuid4(), CODE)
    clock.advance(GATHER.total_seconds())
    await dispatcher(engine, settings, clock).pass_once()
    assert CODE in gateway.requests[0]["Body"]  # it went
    assert "13800138000" not in caplog.text  # and the phone is masked in the logs
    assert any("sent to *********00" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert CODE not in record.getMessage()
    with engine.connect() as connection:
        for table in METADATA.sorted_tables:
            for row in connection.execute(text(f'SELECT * FROM "{table.name}"')):
                assert CODE not in " ".join(str(v) for v in row), table.name


async def test_a_group_picked_up_before_its_message_went_is_not_told(rig: Rig) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    bank.deposit("SF1008611", "A03", uuid.uuid4(), CODE)
    bank.picked_up("SF1008611", "A03")  # the courier handed it over, say
    clock.advance(GATHER.total_seconds())
    assert await dispatcher(engine, settings, clock).pass_once() == 1
    assert gateway.requests == []
    [message] = messages(engine)
    assert (message.state, message.sealed_code) == (MessageState.CANCELLED, None)
    assert "left the locker" in message.last_error


async def test_by_email_through_a_real_smtp_server(rig: Rig, smtp: tuple[Inbox, int]) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    inbox, port = smtp
    bank.deposit("SF1008611", "A03", uuid.uuid4(), CODE)
    with Session(engine, expire_on_commit=False) as s:  # an address given, and English
        [message] = s.exec(select(Notification)).all()
        message.email, message.language = "ming@example.org", "en"
        s.add(message)
        s.commit()
    clock.advance(GATHER.total_seconds())
    assert await dispatcher(engine, settings, clock, port).pass_once() == 1
    [mail] = inbox.messages
    assert mail.original_content is not None
    parsed = BytesParser(policy=default).parsebytes(mail.original_content)
    assert mail.rcpt_tos == ["ming@example.org"]
    assert parsed["Message-ID"] == f"<{message.id}@example.org>"
    assert parsed["Subject"] == "Your parcel is in the locker at Maple Court, block 3"
    assert f"Pickup code: {CODE}" in parsed.get_content()
    assert gateway.requests == []  # not by SMS as well


async def test_the_message_states_the_site_s_fee_rule_in_the_recipient_s_language(
    rig: Rig,
) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    policy = StoragePolicy(
        free_hours=24, keep_hours=48, fee_minor=100, period_hours=12, cap_minor=300
    )
    bank.deposit("SF1008611", "A03", uuid.uuid4(), CODE, storage=policy)
    with Session(engine) as s:
        [message] = s.exec(select(Notification)).all()
        message.language = "en"
        s.add(message)
        s.commit()
    clock.advance(GATHER.total_seconds())
    await dispatcher(engine, settings, clock).pass_once()
    body = gateway.requests[0]["Body"]
    assert "Pick up by 03 Dec 2026 10:00." in body  # 48 h: the policy the bank keeps it under
    assert "Free for 24 h; then" in body
    assert "per started 12 h" in body


async def test_a_dead_dispatcher_s_claim_is_taken_again_after_its_lease(rig: Rig) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    bank.deposit("SF1008611", "A03", uuid.uuid4(), CODE)
    clock.advance(GATHER.total_seconds())
    lease, gather = timedelta(seconds=settings.notify_lease_s), timedelta(seconds=20)
    [dead] = claims.claim(engine, clock.now(), lease, gather, 10)  # claimed, then it died
    notifier = dispatcher(engine, settings, clock)
    assert await notifier.pass_once() == 0  # its lease holds
    clock.advance(settings.notify_lease_s + 1)
    assert await notifier.pass_once() == 1
    assert len(gateway.sent) == 1
    assert not claims.sent(engine, dead, "late", clock.now(), None)  # its token is spent
    assert not claims.retry(engine, dead, clock.now(), "late")
    [message] = messages(engine, MessageKind.DEPOSIT)
    assert (message.state, message.attempts) == (MessageState.SENT, 2)
    assert message.provider_ref == gateway.sent[message.id]["sid"]


async def test_the_loop_sends_what_comes_due_and_stops_when_told(rig: Rig) -> None:
    bank, gateway, engine, settings, clock = rig.parts()
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher(engine, settings, clock).run(stop))
    bank.deposit("SF1008611", "A03", uuid.uuid4(), CODE)
    clock.advance(GATHER.total_seconds())
    await until(lambda: len(gateway.sent) == 1, what="the message sent by the loop")
    stop.set()
    await asyncio.wait_for(running, 10)
