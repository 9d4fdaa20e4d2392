"""Door health counted from a realistic stream of door events: latency from each unlock to its
opening (within a batch and across batches), jams, unknown outcomes, doors left open, forced
openings told apart from a bouncing sensor's flaps; a redelivery counts nothing twice."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import Session, col, select

from cloud.console.health.tables import DoorDay
from cloud.services.ingest import ingest_batch
from locker_contract.events import (
    DoorClosed,
    DoorForcedOpen,
    DoorLeftOpen,
    DoorOpened,
    DoorOutcomeUnknown,
    Envelope,
    Event,
    UnlockRequested,
)
from tests.cloud.console.alarms.conftest import World, at
from tests.cloud.console.health.conftest import Items, jam, unlock, use

DAY = 24 * 3600.0


def _days(w: World) -> dict[tuple[str, str, str], dict[str, int]]:
    with Session(w.engine) as s:
        rows = s.exec(select(DoorDay).order_by(col(DoorDay.day)))
        return {
            (d.bank_id, d.label, d.day.isoformat()): {
                k: v for k, v in d.model_dump().items() if isinstance(v, int) and v
            }
            for d in rows
        }


def test_a_doors_day_from_its_events(world: World) -> None:
    w, items = world, Items()
    use(items, "maple", "A01", at(0), 0.6)
    use(items, "maple", "A01", at(600), 0.8)
    w.send_all(items)  # one batch, then event by event
    items = []
    use(items, "maple", "A01", at(1200), 1.0)
    for bank, event, when in items:
        w.send(bank, event, when)
    w.send("maple", DoorForcedOpen(compartment="A01"), at(1200 + 1.0 + 20 + 2))  # 2 s after: flap
    w.send("maple", DoorClosed(compartment="A01"), at(1224))
    w.send("maple", DoorForcedOpen(compartment="A01"), at(5000))  # long after: forced
    w.send("maple", DoorLeftOpen(compartment="A01", open_for_s=120.0), at(5120))
    w.send("maple", DoorClosed(compartment="A01"), at(5200))
    items = []
    jam(items, "maple", "A01", at(6000))
    intent = unlock(items, "maple", "A02", at(7000))
    items.append(("maple", DoorOutcomeUnknown(compartment="A02", intent_id=intent), at(7001)))
    use(items, "maple", "A01", at(DAY), 2.5)  # the next day
    w.send_all(items)
    assert _days(w) == {
        ("maple", "A01", "2026-12-01"): {
            "unlocks": 4, "opens": 3, "measured": 3, "latency_ms_sum": 2400,
            "latency_ms_max": 1000, "jams": 1, "forced": 1, "flaps": 1, "left_open": 1,
        },
        ("maple", "A02", "2026-12-01"): {"unlocks": 1, "unknown": 1},
        ("maple", "A01", "2026-12-02"): {
            "unlocks": 1, "opens": 1, "measured": 1, "latency_ms_sum": 2500,
            "latency_ms_max": 2500,
        },
    }  # fmt: skip


def test_one_batch_of_many_banks_and_a_redelivery(world: World) -> None:
    w = world
    a, b = uuid.uuid4(), uuid.uuid4()
    events: list[tuple[str, Event, float]] = [
        ("maple", UnlockRequested(compartment="A01", intent_id=a, reason="r", flow="f"), 0.0),
        ("oak", UnlockRequested(compartment="A01", intent_id=b, reason="r", flow="f"), 0.0),
        ("maple", DoorOpened(compartment="A01", intent_id=a), 0.7),
        ("oak", DoorOpened(compartment="A01", intent_id=b), 1.9),
        ("maple", DoorClosed(compartment="A01"), 30.0),
    ]
    envelopes = []
    for bank, event, seconds in events:
        w.seqs[bank] = w.seqs.get(bank, 0) + 1
        envelopes.append(Envelope(event_id=uuid.uuid4(), bank_id=bank, seq=w.seqs[bank],
                                  time=at(seconds), event=event))  # fmt: skip
    ingest_batch(w.engine, envelopes, at(31))
    ingest_batch(w.engine, envelopes[:3], at(40))  # redelivered: already applied
    later = at(31 + 3)  # the door bounces 3 s after it shut, in a later batch
    w.send("maple", DoorForcedOpen(compartment="A01"), later)
    days = _days(w)
    assert days[("maple", "A01", "2026-12-01")] == {
        "unlocks": 1, "opens": 1, "measured": 1, "latency_ms_sum": 700, "latency_ms_max": 700,
        "flaps": 1,
    }  # fmt: skip
    assert days[("oak", "A01", "2026-12-01")]["latency_ms_sum"] == 1900


def test_an_open_whose_unlock_was_never_seen_is_counted_but_not_timed(world: World) -> None:
    items: Items = [("maple", DoorOpened(compartment="A03", intent_id=uuid.uuid4()), at(0))]
    intent = unlock(items, "maple", "A03", at(10))
    late = at(10) + timedelta(hours=1)
    items.append(("maple", DoorOpened(compartment="A03", intent_id=intent), late))
    world.send_all(items)
    assert _days(world)[("maple", "A03", "2026-12-01")] == {"unlocks": 1, "opens": 2}
