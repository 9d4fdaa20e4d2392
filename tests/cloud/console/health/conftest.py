"""Door health's tests share the alarms' fleet (``tests/cloud/console/alarms/conftest.py``), and
write doors' events as a bank's door supervisor does, into a list sent as one batch
(``World.send_all``)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from locker_contract.events import DoorClosed, DoorJammed, DoorOpened, Event, UnlockRequested
from tests.cloud.console.alarms.conftest import world

__all__ = ["world"]

Items = list[tuple[str, Event, datetime]]


def unlock(items: Items, bank: str, label: str, when: datetime) -> uuid.UUID:
    intent = uuid.uuid4()
    event = UnlockRequested(compartment=label, intent_id=intent, reason="pickup", flow="pickup")
    items.append((bank, event, when))
    return intent


def use(items: Items, bank: str, label: str, when: datetime, latency_s: float) -> None:
    """A pickup: the unlock, the door open ``latency_s`` later, shut 20 s after that."""
    intent = unlock(items, bank, label, when)
    opened = when + timedelta(seconds=latency_s)
    items.append((bank, DoorOpened(compartment=label, intent_id=intent), opened))
    items.append((bank, DoorClosed(compartment=label), opened + timedelta(seconds=20)))


def jam(items: Items, bank: str, label: str, when: datetime) -> None:
    intent = unlock(items, bank, label, when)
    items.append((bank, DoorJammed(compartment=label, intent_id=intent, jam_count=1), when))
