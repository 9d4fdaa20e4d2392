"""The bank page: its door grid, one door's history, and the bank's recent actions.

``bank(engine, viewer, bank_id)`` answers a ``BankView``: the bank's fleet row and one ``Door``
per compartment, by label. A door's state is derived from what the cloud knows of it, the first
that holds in ``PRECEDENCE``: an open alarm (forced, jammed, left open), the bank's reported
state (``Bank.state``: a door open, a compartment out of service), the compartment's own
``in_service``, a parcel behind it, an active hold. Five statements whatever the doors.
``door_history`` merges the door's parcel events, alarms and commands, newest first;
``actions`` lists the bank's commands with the bank's answer. A bank the viewer does not see is
``NotFound``, as is a label the bank does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.console.views.fleet import IN_LOCKER, BankRow, Load, loads
from cloud.console.views.scope import Viewer, clamp, json_text, seen_bank
from cloud.core.db import transaction
from cloud.models import (
    Alarm,
    Bank,
    Command,
    CommandAck,
    Compartment,
    Parcel,
    ParcelEvent,
    Reservation,
    ReservationState,
    Site,
)
from cloud.services.errors import NotFound


class DoorState(StrEnum):
    FORCED = "forced"
    JAMMED = "jammed"
    OPEN = "open"
    OUT_OF_SERVICE = "out_of_service"
    OCCUPIED = "occupied"
    RESERVED = "reserved"
    FREE = "free"


PRECEDENCE = tuple(DoorState)  # the first state a door's facts hold wins
ALARM_STATES = {  # an open alarm at a door, and the state it puts the door in
    "door.forced_open": DoorState.FORCED,
    "door.jammed": DoorState.JAMMED,
    "door.left_open": DoorState.OPEN,
}
SHOWN_PAYLOAD = ("compartment", "on", "in_service", "reason", "requested_by")  # of a command


@dataclass(frozen=True)
class Door:
    label: str
    size: str
    state: DoorState
    carrier_id: str | None  # the parcel's carrier if occupied, else the holder's if reserved
    waybill: str | None
    in_service: bool
    alarms: tuple[str, ...]  # kinds of the open alarms at this door


@dataclass(frozen=True)
class BankView:
    row: BankRow
    maintenance: bool | None  # as the bank last reported it; None before any report
    doors: tuple[Door, ...]


@dataclass(frozen=True)
class DoorEntry:
    at: datetime
    kind: str  # "parcel", "alarm" or "command"
    what: str  # the parcel's status, the alarm's kind, the command's type
    detail: str  # carrier and waybill; when cleared; the bank's answer


@dataclass(frozen=True)
class Action:
    command_id: str
    type: str
    created_at: datetime
    state: str
    detail: dict[str, object]  # the shown part of its payload (``SHOWN_PAYLOAD``)
    outcome: str | None  # the bank's answer, if any
    answered_at: datetime | None
    answer_detail: str


def bank(engine: Engine, viewer: Viewer, bank_id: str) -> BankView:
    with transaction(engine) as s:
        found = seen_bank(s, viewer, bank_id)
        site = s.get(Site, found.site_id)
        alarms = _alarms(s, bank_id)
        load = loads(s, [bank_id]).get(bank_id, Load())
        row = BankRow(
            bank_id=found.id,
            name=found.name,
            site_id=found.site_id,
            site_name=site.name if site else "",
            online=found.online,
            status_since=found.status_since,
            last_heartbeat_at=found.last_heartbeat_at,
            clock_skew_s=found.clock_skew_s,
            open_alarms=sum(len(kinds) for kinds in alarms.values()),
            load=load,
        )
        return BankView(row, _maintenance(found), _doors(s, found, alarms))


def _alarms(s: Session, bank_id: str) -> dict[str, list[str]]:
    query = select(Alarm.compartment, Alarm.kind).where(
        col(Alarm.bank_id) == bank_id, col(Alarm.cleared_at).is_(None)
    )
    found: dict[str, list[str]] = {}
    for where, kind in s.exec(query.order_by(col(Alarm.raised_at))):
        found.setdefault(where, []).append(kind)
    return found


def _maintenance(found: Bank) -> bool | None:
    state = found.state or {}
    value = state.get("maintenance")
    return value if isinstance(value, bool) else None


def _reported(found: Bank) -> dict[str, dict[str, object]]:
    """The bank's last reported state of each compartment, by label."""
    listed = (found.state or {}).get("compartments")
    if not isinstance(listed, list):
        return {}
    return {str(c.get("label")): c for c in listed if isinstance(c, dict)}


def _doors(s: Session, found: Bank, alarms: dict[str, list[str]]) -> tuple[Door, ...]:
    reported = _reported(found)
    parcels = {
        c: (carrier, waybill)
        for c, carrier, waybill in s.exec(
            select(Parcel.compartment_id, Parcel.carrier_id, Parcel.waybill).where(
                col(Parcel.bank_id) == found.id, col(Parcel.status).in_(IN_LOCKER)
            )
        )
    }
    holds = dict(
        s.exec(
            select(Reservation.compartment_id, Reservation.carrier_id).where(
                col(Reservation.bank_id) == found.id,
                col(Reservation.state) == ReservationState.ACTIVE,
            )
        ).all()
    )
    query = select(Compartment).where(col(Compartment.bank_id) == found.id)
    doors = []
    for c in s.exec(query.order_by(col(Compartment.label))):
        parcel, kinds = parcels.get(c.id), alarms.get(c.label, [])
        facts = {ALARM_STATES[k] for k in kinds if k in ALARM_STATES}
        facts |= _reported_facts(reported.get(c.label, {}), c.in_service)
        facts |= {DoorState.OCCUPIED} if parcel else set()
        facts |= {DoorState.RESERVED} if c.id in holds else set()
        state = next((st for st in PRECEDENCE if st in facts), DoorState.FREE)
        carrier = parcel[0] if parcel else holds.get(c.id)
        waybill = parcel[1] if parcel else None
        doors.append(Door(c.label, c.size, state, carrier, waybill, c.in_service, tuple(kinds)))
    return tuple(doors)


def _reported_facts(reported: dict[str, object], in_service: bool) -> set[DoorState]:
    facts = set()
    if reported.get("door") == "open":
        facts.add(DoorState.OPEN)
    if not in_service or reported.get("in_service") is False:
        facts.add(DoorState.OUT_OF_SERVICE)
    return facts


def door_history(
    engine: Engine, viewer: Viewer, bank_id: str, label: str, *, limit: int = 50
) -> tuple[DoorEntry, ...]:
    """The door's parcel events, alarms and commands, newest first, ``limit`` in all."""
    limit = clamp(limit)
    with transaction(engine) as s:
        seen_bank(s, viewer, bank_id)
        query = select(Compartment.id).where(
            col(Compartment.bank_id) == bank_id, col(Compartment.label) == label
        )
        compartment = s.exec(query).first()
        if compartment is None:
            raise NotFound(f"no compartment {label} at {bank_id}")
        entries = [
            *_parcel_entries(s, compartment, limit),
            *_alarm_entries(s, bank_id, label, limit),
            *_command_entries(s, bank_id, label, limit),
        ]
    entries.sort(key=lambda e: e.at, reverse=True)
    return tuple(entries[:limit])


def _parcel_entries(s: Session, compartment_id: str, limit: int) -> list[DoorEntry]:
    query = (
        select(ParcelEvent.at, ParcelEvent.status, Parcel.carrier_id, Parcel.waybill)
        .join(Parcel, col(Parcel.id) == col(ParcelEvent.parcel_id))
        .where(col(Parcel.compartment_id) == compartment_id)
        .order_by(col(ParcelEvent.at).desc())
        .limit(limit)
    )
    return [
        DoorEntry(at, "parcel", str(status), f"{carrier} {waybill}")
        for at, status, carrier, waybill in s.exec(query)
    ]


def _alarm_entries(s: Session, bank_id: str, label: str, limit: int) -> list[DoorEntry]:
    query = (
        select(Alarm)
        .where(col(Alarm.bank_id) == bank_id, col(Alarm.compartment) == label)
        .order_by(col(Alarm.raised_at).desc())
        .limit(limit)
    )
    return [
        DoorEntry(a.raised_at, "alarm", a.kind, a.cleared_at.isoformat() if a.cleared_at else "")
        for a in s.exec(query)
    ]


def _command_entries(s: Session, bank_id: str, label: str, limit: int) -> list[DoorEntry]:
    query = (
        select(Command, CommandAck)
        .outerjoin(CommandAck, col(CommandAck.command_id) == col(Command.id))
        .where(
            col(Command.bank_id) == bank_id,
            json_text(Command, "payload", "compartment") == label,
        )
        .order_by(col(Command.created_at).desc())
        .limit(limit)
    )
    return [
        DoorEntry(c.created_at, "command", c.type, ack.outcome if ack else str(c.state))
        for c, ack in s.exec(query)
    ]


def actions(engine: Engine, viewer: Viewer, bank_id: str, *, limit: int = 50) -> tuple[Action, ...]:
    """The bank's commands, newest first, with the bank's answer where there is one."""
    limit = clamp(limit)
    with transaction(engine) as s:
        seen_bank(s, viewer, bank_id)
        query = (
            select(Command, CommandAck)
            .outerjoin(CommandAck, col(CommandAck.command_id) == col(Command.id))
            .where(col(Command.bank_id) == bank_id)
            .order_by(col(Command.created_at).desc(), col(Command.id))
            .limit(limit)
        )
        return tuple(_action(c, ack) for c, ack in s.exec(query))


def _action(c: Command, ack: CommandAck | None) -> Action:
    shown = {k: c.payload[k] for k in SHOWN_PAYLOAD if k in c.payload}
    return Action(
        command_id=c.id,
        type=c.type,
        created_at=c.created_at,
        state=str(c.state),
        detail=shown,
        outcome=ack.outcome if ack else None,
        answered_at=ack.at if ack else None,
        answer_detail=ack.detail if ack else "",
    )
