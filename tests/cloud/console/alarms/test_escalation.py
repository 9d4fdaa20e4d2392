"""An alarm nobody acknowledges is escalated once, after the delay (an injected clock), to its
site's managers, or to the operator's admins where the site has none; never twice, whichever
notifier runs it."""

from __future__ import annotations

import threading

from nacl.public import PrivateKey
from sqlmodel import Session, col, select

from cloud.clock import FixedClock
from cloud.console.accounts.tables import StaffMail
from cloud.console.alarms.escalation import escalate_due
from cloud.console.alarms.service import acknowledge, list_alarms
from cloud.messaging.channels import Outgoing
from cloud.messaging.dispatcher import EMAIL, Dispatcher
from cloud.models import Alarm
from locker_contract.events import DoorClosed, DoorForcedOpen
from tests.cloud.console.alarms.conftest import World, at

AFTER = 600.0


def _mail(world: World) -> list[tuple[str, str]]:
    names = {pid: name for name, pid in world.people.items()}
    with Session(world.engine) as s:
        rows = s.exec(select(StaffMail).order_by(col(StaffMail.subject)))
        return [(names[m.person_id], m.subject) for m in rows]


def test_escalated_once_after_the_delay_to_the_sites_manager(world: World) -> None:
    world.send("maple", DoorForcedOpen(compartment="A02"), at(0))
    assert escalate_due(world.engine, at(AFTER - 1), AFTER) == 0
    assert _mail(world) == []
    assert escalate_due(world.engine, at(AFTER), AFTER) == 1
    subject = (
        "告警未确认：door.forced_open，maple A02 / "
        "Alarm not acknowledged: door.forced_open at maple A02"
    )
    assert _mail(world) == [("Mo", subject)]
    assert escalate_due(world.engine, at(AFTER * 5), AFTER) == 0
    assert len(_mail(world)) == 1
    with Session(world.engine) as s:
        [alarm] = list_alarms(s, world.person("Mo"))
        body = s.exec(select(StaffMail.body)).one()
    assert alarm.escalated_at == at(AFTER)
    assert "2026-12-01 08:00 UTC" in body


def test_a_site_without_managers_goes_to_the_operators_admins(world: World) -> None:
    world.send("oak", DoorForcedOpen(compartment="A01"), at(0))
    world.send("pine", DoorForcedOpen(compartment="A01"), at(0))
    assert escalate_due(world.engine, at(AFTER), AFTER) == 2
    assert sorted(name for name, _ in _mail(world)) == ["Ada", "Olga"]


def test_an_acknowledged_or_cleared_alarm_is_not_escalated(world: World) -> None:
    world.send("maple", DoorForcedOpen(compartment="A01"), at(0))
    world.send("oak", DoorForcedOpen(compartment="A02"), at(0))
    with Session(world.engine) as s:
        [seen] = list_alarms(s, world.person("Ada"), bank_id="maple")
    acknowledge(world.engine, world.person("Ada"), seen.id, "", at(AFTER - 5))
    world.send("oak", DoorClosed(compartment="A02"), at(AFTER - 1))
    assert escalate_due(world.engine, at(AFTER * 2), AFTER) == 0
    assert _mail(world) == []


def test_two_notifiers_at_once_escalate_each_alarm_once(world: World) -> None:
    for label in ("A01", "A02", "A03", "A04"):
        world.send("maple", DoorForcedOpen(compartment=label), at(0))
    counts: list[int] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        counts.append(escalate_due(world.engine, at(AFTER), AFTER))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 4
    assert len(_mail(world)) == 4
    with Session(world.engine) as s:
        stamped = s.exec(select(Alarm.escalated_at)).all()
    assert set(stamped) == {at(AFTER)}


class Recorder:
    """An e-mail channel that keeps what it is given."""

    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> str:
        self.sent.append(message)
        return f"ref-{len(self.sent)}"


async def test_the_notifiers_pass_escalates_and_mails_after_the_delay(world: World) -> None:
    world.send("maple", DoorForcedOpen(compartment="A04"), at(0))
    settings = world.cloud.settings.model_copy(update={"alarm_escalate_after_s": AFTER})
    clock, mail = FixedClock(at(AFTER - 1)), Recorder()
    notifier = Dispatcher(world.engine, settings, PrivateKey.generate(), {EMAIL: mail}, clock=clock)
    await notifier.pass_once()
    assert mail.sent == []
    clock.advance(1)
    await notifier.pass_once()
    await notifier.pass_once()
    assert [(m.to, m.subject.split(" / ")[1]) for m in mail.sent] == [
        ("mo@example.com", "Alarm not acknowledged: door.forced_open at maple A04")
    ]
