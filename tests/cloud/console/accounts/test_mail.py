"""Staff mail goes out through the notifier (its hook in ``Dispatcher.pass_once``) to a real
SMTP server (aiosmtpd): the link opened only in flight, then purged."""

from __future__ import annotations

import asyncio
import re
import socket
from email import message_from_bytes
from email.message import Message

import pytest
from sqlmodel import select

from cloud.console.accounts.mail import NoSealingKey, queue_staff_mail
from cloud.console.accounts.tables import PersonRole, StaffMail
from cloud.core.db import transaction
from cloud.messaging.dispatcher import EMAIL, Dispatcher
from cloud.messaging.mail import SmtpChannel, SmtpConfig
from locker_contract import sealing
from tests.cloud.console.accounts.conftest import Console
from tests.cloud.messaging.conftest import Inbox, smtp  # noqa: F401 (the SMTP server fixture)

LINK = re.compile(r"https://testserver/console/password#([A-Za-z0-9_-]+)")
NEW_PASSWORD = "the link came by e-mail"


def notifier(console: Console, port: int | None) -> Dispatcher:
    key = sealing.private_key(console.notify_private)
    channels = {}
    if port is not None:
        config = SmtpConfig("127.0.0.1", port, "Lockers <lockers@example.org>", starttls=False)
        channels[EMAIL] = SmtpChannel(config)
    return Dispatcher(console.engine, console.settings, key, channels, clock=console.clock)


def invite(console: Console) -> None:
    console.person("boss@example.org", PersonRole.OPERATOR_ADMIN, frozenset())
    console.sign_in("boss@example.org")
    form = {"email": "nia@example.org", "name": "Nia", "role": "site_manager", "sites": "maple"}
    answer = console.client.post(
        "/console/people", data=form | {"csrf_token": console.csrf("/console/people")}
    )
    assert answer.status_code == 200


def received(inbox: Inbox) -> list[Message]:
    contents = [envelope.content for envelope in inbox.messages]
    return [message_from_bytes(c) for c in contents if isinstance(c, bytes)]


def text(mail: Message) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_an_invitation_is_mailed_and_its_link_works(
    console: Console,
    smtp: tuple[Inbox, int],  # noqa: F811 (the fixture)
) -> None:
    inbox, port = smtp
    invite(console)
    assert asyncio.run(notifier(console, port).pass_once()) == 1
    (mail,) = received(inbox)
    assert mail["To"] == "nia@example.org"
    assert "Nia" in text(mail)
    found = LINK.search(text(mail))
    assert found
    with transaction(console.engine) as s:
        (row,) = s.exec(select(StaffMail)).all()
    assert row.sent_at is not None
    assert row.sealed_link is None  # purged once sent
    assert asyncio.run(notifier(console, port).pass_once()) == 0  # sent once
    console.client.cookies.clear()
    form = {"token": found.group(1), "password": NEW_PASSWORD, "again": NEW_PASSWORD}
    form["csrf_token"] = console.csrf("/console/password")
    assert console.client.post("/console/password", data=form).status_code == 303
    assert console.sign_in("nia@example.org", NEW_PASSWORD).status_code == 303


def test_without_an_email_channel_a_mail_is_given_up_and_its_link_purged(console: Console) -> None:
    invite(console)
    assert asyncio.run(notifier(console, None).pass_once()) == 1
    with transaction(console.engine) as s:
        (row,) = s.exec(select(StaffMail)).all()
    assert row.failed_at is not None
    assert row.sealed_link is None
    assert "no e-mail channel" in row.last_error


def test_a_link_is_never_queued_unsealed(console: Console) -> None:
    person_id = console.person("ann@example.org")
    with transaction(console.engine) as s:
        with pytest.raises(NoSealingKey):
            queue_staff_mail(
                s,
                to_person_id=person_id,
                subject="s",
                body="b",
                at=console.clock.now(),
                link="https://x/y#z",
            )
        queue_staff_mail(
            s,
            to_person_id=person_id,
            subject="Alarm",
            body="Door A03 forced",
            at=console.clock.now(),
        )
    with transaction(console.engine) as s:
        (row,) = s.exec(select(StaffMail)).all()
    assert row.sealed_link is None
    assert row.body == "Door A03 forced"


def test_a_mail_waits_through_an_smtp_outage(
    console: Console,
    smtp: tuple[Inbox, int],  # noqa: F811 (the fixture)
) -> None:
    inbox, port = smtp
    invite(console)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    assert asyncio.run(notifier(console, closed).pass_once()) == 1
    with transaction(console.engine) as s:
        (row,) = s.exec(select(StaffMail)).all()
    assert (row.attempts, row.sent_at, row.failed_at) == (1, None, None)
    assert row.sealed_link  # kept for the next try
    assert "unreachable" in row.last_error
    console.clock.advance(console.settings.notify_retry_cap_s)
    assert asyncio.run(notifier(console, port).pass_once()) == 1
    assert [m["To"] for m in received(inbox)] == ["nia@example.org"]
