"""Door health for the console, scoped by the signed-in ``Person``.

- ``door_health(s, person, bank_id, *, at=None) -> list[DoorHealth]``: every door of the bank,
  judged over the window ending on ``at``'s day (``cloud.console.health.score``).
- ``proposals(s, person, *, at=None) -> list[DoorHealth]``: the doors in service, of every bank
  the person sees, that the rule proposes for quarantine; lowest score first.
- ``door_days(s, person, bank_id, label, *, at=None) -> list[DoorDayView]``: one door's days.
- ``quarantine_door(engine, person, bank_id, label, at) -> Command``: one click. The door is
  out of service in the cloud at once (allocation skips it: ``Compartment.in_service``), and the
  bank is sent the command ``compartment.service`` to take it out too; audited. A carrier's hold
  on the door moves to another free door of its size and class, or becomes unfulfillable, as
  when a deposit takes a held door (``cloud.services.effects.move_holds``). Like
  every change of a bank's service (``cloud.services.operations.set_service``) it is the
  operator's: a site manager is refused (403).

A bank the person does not see, or a door it does not have, is not found (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, case, func
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.console.accounts.deps import Person, audit_person
from cloud.console.health import score
from cloud.console.health.tables import DoorDay
from cloud.core.db import transaction
from cloud.models import Bank, Command, Compartment, Role
from cloud.services import bulk
from cloud.services.commands import enqueue_command
from cloud.services.effects import move_holds
from cloud.services.errors import NotFound
from locker_contract import commands as contract

QUARANTINE_REASON = "quarantined from the console: door health"


@dataclass(frozen=True)
class DoorHealth:
    bank_id: str
    label: str
    in_service: bool
    unlocks: int
    opens: int
    jams: int
    unknown: int
    forced: int
    flaps: int
    left_open: int
    mean_latency_ms: float | None
    recent_latency_ms: float | None  # the last score.RECENT_DAYS days
    max_latency_ms: int
    score: int
    reasons: tuple[str, ...]  # why it is proposed (``health.reason.<reason>``)
    proposed: bool  # in service, and the rule proposes it for quarantine


@dataclass(frozen=True)
class DoorDayView:
    day: date
    unlocks: int
    opens: int
    mean_latency_ms: float | None
    max_latency_ms: int
    jams: int
    unknown: int
    forced: int
    flaps: int
    left_open: int


def _window(at: datetime | None) -> tuple[date, date, date]:
    """The window's first day, its recent part's first day, and its last day (``at``'s)."""
    today = (at or utcnow()).date()
    first = today - timedelta(days=score.WINDOW_DAYS - 1)
    return first, today - timedelta(days=score.RECENT_DAYS - 1), today


def _visible_bank(s: Session, person: Person, bank_id: str) -> Bank:
    bank = s.get(Bank, bank_id)
    if bank is None or not person.sees(bank.site_id):
        raise NotFound("no such bank")
    return bank


def _total(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


def _part(column: Any, recent: ColumnElement[bool], *, of_recent: bool) -> Any:
    return _total(case((recent if of_recent else ~recent, column), else_=0))


Totalled = dict[tuple[str, str], score.Totals]
COUNTED = ("unlocks", "opens", "jams", "unknown", "forced", "flaps", "left_open")


def _totals(s: Session, bank_ids: list[str], at: datetime | None) -> Totalled:
    """Each door's totals over the window (``score.Totals``' order): one grouped query."""
    first, recent_from, last = _window(at)
    recent = col(DoorDay.day) >= recent_from
    measured, summed = col(DoorDay.measured), col(DoorDay.latency_ms_sum)
    query = select(col(DoorDay.bank_id), col(DoorDay.label)).add_columns(
        *(_total(col(getattr(DoorDay, name))) for name in COUNTED),
        func.coalesce(func.max(DoorDay.latency_ms_max), 0),
        _part(measured, recent, of_recent=False),
        _part(summed, recent, of_recent=False),
        _part(measured, recent, of_recent=True),
        _part(summed, recent, of_recent=True),
    )
    query = query.where(bulk.among(s, DoorDay.bank_id, bank_ids))
    query = query.where(col(DoorDay.day) >= first, col(DoorDay.day) <= last)
    found: Totalled = {}
    grouped = query.group_by(col(DoorDay.bank_id), col(DoorDay.label))
    for bank, label, *values in s.connection().execute(grouped):
        found[(bank, label)] = score.Totals(*(int(v) for v in values))
    return found


def _health(door: Compartment, totals: score.Totals) -> DoorHealth:
    judged = score.judge(totals)
    return DoorHealth(
        bank_id=door.bank_id,
        label=door.label,
        in_service=door.in_service,
        unlocks=totals.unlocks,
        opens=totals.opens,
        jams=totals.jams,
        unknown=totals.unknown,
        forced=totals.forced,
        flaps=totals.flaps,
        left_open=totals.left_open,
        mean_latency_ms=totals.mean_ms,
        recent_latency_ms=totals.recent_ms,
        max_latency_ms=totals.latency_ms_max,
        score=judged.score,
        reasons=judged.reasons,
        proposed=door.in_service and judged.proposed,
    )


def door_health(
    s: Session, person: Person, bank_id: str, *, at: datetime | None = None
) -> list[DoorHealth]:
    """Every door of the bank, by label."""
    _visible_bank(s, person, bank_id)
    totals = _totals(s, [bank_id], at)
    doors = s.exec(select(Compartment).where(Compartment.bank_id == bank_id))
    found = [_health(d, totals.get((d.bank_id, d.label), score.Totals())) for d in doors]
    return sorted(found, key=lambda h: h.label)


def proposals(s: Session, person: Person, *, at: datetime | None = None) -> list[DoorHealth]:
    """The doors proposed for quarantine in the person's sites, lowest score first."""
    sites = sorted(person.site_ids)
    bank_ids = list(s.exec(select(Bank.id).where(bulk.among(s, Bank.site_id, sites))))
    totals = _totals(s, bank_ids, at)
    if not totals:
        return []
    banks = sorted({bank for bank, _ in totals})
    query = select(Compartment).where(
        bulk.among(s, Compartment.bank_id, banks), col(Compartment.in_service).is_(True)
    )
    doors = [d for d in s.exec(query) if (d.bank_id, d.label) in totals]
    found = [_health(d, totals[(d.bank_id, d.label)]) for d in doors]
    return sorted((h for h in found if h.proposed), key=lambda h: (h.score, h.bank_id, h.label))


def door_days(
    s: Session, person: Person, bank_id: str, label: str, *, at: datetime | None = None
) -> list[DoorDayView]:
    """One door's days over the window, oldest first (days without events left out)."""
    _visible_bank(s, person, bank_id)
    first, _, last = _window(at)
    query = select(DoorDay).where(DoorDay.bank_id == bank_id, DoorDay.label == label)
    query = query.where(col(DoorDay.day) >= first, col(DoorDay.day) <= last)
    return [
        DoorDayView(
            day=d.day,
            unlocks=d.unlocks,
            opens=d.opens,
            mean_latency_ms=d.latency_ms_sum / d.measured if d.measured else None,
            max_latency_ms=d.latency_ms_max,
            jams=d.jams,
            unknown=d.unknown,
            forced=d.forced,
            flaps=d.flaps,
            left_open=d.left_open,
        )
        for d in s.exec(query.order_by(col(DoorDay.day)))
    ]


def quarantine_door(
    engine: Engine, person: Person, bank_id: str, label: str, at: datetime
) -> Command:
    """Take the door out of service now, in the cloud and (by its command) at the bank."""
    with transaction(engine) as s:
        bank = _visible_bank(s, person, bank_id)
        who = person.principal_for(bank.site_id)
        who.require(Role.ADMIN, Role.OPERATOR)
        query = select(Compartment).where(
            Compartment.bank_id == bank_id, Compartment.label == label
        )
        door = s.exec(query.with_for_update()).first()
        if door is None:
            raise NotFound(f"no compartment {label} at {bank_id}")
        door.in_service = False
        s.add(door)
        move_holds(s, door, at)
        order = contract.CompartmentServiceSet(
            compartment=label, in_service=False, reason=QUARANTINE_REASON
        )
        command = enqueue_command(s, bank_id, order, who=who, now=at)
        audit_person(s, person, "door.quarantine", f"{bank_id}/{label}", command_id=command.id)
        return command
