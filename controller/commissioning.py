"""Commissioning: open each door in turn and record which work, before the bank goes live."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from controller.clock import Clock, SystemClock
from controller.config import EdgeConfig
from controller.daemon import open_buses, seed_compartments
from controller.doors import CLOSED, DoorOutcome, DoorSupervisor
from controller.lifecycles import UnlockFlow
from controller.store import Compartment, Intent, emit, open_store, transaction
from locker_contract.events import CompartmentService

SHUT_POLL_S = 0.2


class _Installer:
    """Nobody's flow: doors opened for commissioning mean nothing to deposits or pickups."""

    def door_opened(self, session: Session, label: str, intent: Intent | None) -> None:
        return None

    def door_closed(self, session: Session, label: str, item: bool | None) -> None:
        return None

    def unlock_interrupted(self, session: Session, intent: Intent) -> None:
        return None


async def commission_all(
    config: EdgeConfig, *, wait_s: float, clock: Clock | None = None
) -> list[str]:
    """Open every compartment once; those that do not open go out of service. One line each."""
    clock = clock or SystemClock()
    engine = open_store(config.bank.database)
    seed_compartments(config, engine)
    buses, transports = await open_buses(config)
    doors = DoorSupervisor(engine, config, buses, _Installer(), clock)
    lines = []
    try:
        await doors.poll_once()
        for spec in config.compartments:
            outcome = await doors.unlock(
                spec.label, reason="commissioning", flow=UnlockFlow.ADMIN, ref="commission"
            )
            works = outcome in (DoorOutcome.OPENED, DoorOutcome.ALREADY_OPEN)
            _record(engine, spec.label, works, outcome)
            shut = works and await _wait_shut(doors, engine, spec.label, wait_s, clock)
            note = "" if not works or shut else "; not shut again in time"
            lines.append(f"{spec.label}: {'works' if works else 'FAILED'} ({outcome}){note}")
    finally:
        for transport in transports:
            await transport.close()
        engine.dispose()
    return lines


def _record(engine: Engine, label: str, works: bool, outcome: DoorOutcome) -> None:
    with transaction(engine) as s:
        comp = s.get_one(Compartment, label)
        if works and not comp.in_service and comp.service_note.startswith("commissioning"):
            comp.in_service, comp.service_note, comp.jam_count = True, "", 0
            emit(
                s,
                CompartmentService(
                    compartment=label, in_service=True, reason="commissioning: opened"
                ),
            )
        elif not works and comp.in_service:
            comp.in_service, comp.service_note = False, f"commissioning: {outcome}"
            emit(
                s, CompartmentService(compartment=label, in_service=False, reason=comp.service_note)
            )
        s.add(comp)


async def _wait_shut(
    doors: DoorSupervisor, engine: Engine, label: str, wait_s: float, clock: Clock
) -> bool:
    deadline = clock.monotonic() + wait_s
    while clock.monotonic() < deadline:
        await doors.poll_once()
        with transaction(engine) as s:
            if s.get_one(Compartment, label).door == CLOSED:
                return True
        await clock.sleep(SHUT_POLL_S)
    return False
