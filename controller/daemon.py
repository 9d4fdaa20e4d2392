"""``Edge``: the daemon's parts wired together, started and stopped as one."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine
from sqlmodel import select

from controller.clock import Clock, SystemClock
from controller.codes import load_or_create_key
from controller.cold.reader import bus_reader
from controller.cold.sampler import ZoneSampler
from controller.commands import CommandRunner
from controller.config import EdgeConfig
from controller.doors import DoorSupervisor
from controller.flows import Flows
from controller.link import EdgeLink
from controller.store import Compartment, emit, open_store, transaction
from firmware_bridge.bus import BusMaster, BusSettings
from firmware_bridge.families import family_named
from firmware_bridge.model import BoardConfig
from firmware_bridge.transport import Transport
from firmware_bridge.transport.serial import open_serial
from locker_contract.events import CompartmentService
from locker_contract.tasks import cancel_all

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY_S = 60.0


def seed_compartments(edge_config: EdgeConfig, engine: Engine) -> None:
    """Make the store's compartments match the configuration (labels, sizes, heights)."""
    configured = {c.label: c for c in edge_config.compartments}
    with transaction(engine) as s:
        for row in s.exec(select(Compartment)):
            spec = configured.pop(row.label, None)
            if spec is None and row.in_service:
                row.in_service, row.service_note = False, "no longer in the configuration"
                emit(
                    s,
                    CompartmentService(
                        compartment=row.label, in_service=False, reason=row.service_note
                    ),
                )
            elif spec is not None:
                row.size, row.low = spec.size.value, spec.low
            s.add(row)
        for spec in configured.values():
            s.add(Compartment(label=spec.label, size=spec.size.value, low=spec.low))


async def open_buses(config: EdgeConfig) -> tuple[dict[str, BusMaster], list[Transport]]:
    """A bus master for every configured bus, over its serial port."""
    policy = config.policy
    settings = BusSettings(
        confirm_window=policy.unlock_confirm_s, reprobe_after=policy.board_reprobe_s
    )
    buses: dict[str, BusMaster] = {}
    transports: list[Transport] = []
    try:
        for spec in config.buses:
            family = family_named(spec.protocol)
            transport = await open_serial(spec.port, spec.baud or family.default_baud)
            transports.append(transport)
            boards = [
                BoardConfig(b.address, b.channels, b.polarity, status_bytes=b.status_bytes)
                for b in spec.boards
            ]
            buses[spec.name] = BusMaster(
                transport, family, boards, baud=spec.baud, settings=settings
            )
    except BaseException:
        for opened in transports:
            await opened.close()
        raise
    return buses, transports


class Edge:
    """One locker bank: store, buses, door supervisor, flows and their background tasks."""

    def __init__(self, config: EdgeConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()  # the one clock every part reads
        self.engine = open_store(config.bank.database)
        self.key = load_or_create_key(config.bank.key_file)
        seed_compartments(config, self.engine)
        self.flows = Flows(self.engine, config, self.key, self.clock)
        self.buses: dict[str, BusMaster] = {}
        self.doors: DoorSupervisor | None = None
        self.cold: ZoneSampler | None = None  # once the buses are open, if a zone has a sensor
        self._transports: list[Transport] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.link: EdgeLink | None = None
        if config.link is not None:
            runner = CommandRunner(self.engine, self.key, self._doors, self.clock)
            self.link = EdgeLink(
                self.engine,
                config.bank.id,
                config.link,
                runner=runner,
                snapshot=self.flows.snapshot,
                boards=self._boards,
            )

    async def start(self) -> None:
        """Open every bus, read every door once (reconciling a crash), then run."""
        self.buses, self._transports = await open_buses(self.config)
        self.doors = DoorSupervisor(
            self.engine, self.config, self.buses, self.flows.door_events, self.clock
        )
        self.flows.doors = self.doors
        await self.doors.poll_once()
        self.doors.reconcile_restart()
        self.flows.abandon_orphans()
        self._tasks = [
            asyncio.create_task(self._poll_forever(), name="door-poller"),
            asyncio.create_task(self._housekeeping(), name="housekeeping"),
        ]
        if self.link is not None:
            self._tasks.append(asyncio.create_task(self.link.run(), name="link"))
        if any(zone.sensor is not None for zone in self.config.zones):
            reader = bus_reader(self.buses)
            zones, policy = self.config.zones, self.config.cold
            self.cold = ZoneSampler(self.engine, zones, policy, reader, self.clock)
            self._tasks.append(asyncio.create_task(self.cold.run(), name="zone-sampler"))
        log.info(
            "bank %s running: %d compartments", self.config.bank.id, len(self.config.compartments)
        )

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        for transport in self._transports:
            await transport.close()
        self.engine.dispose()

    def _doors(self) -> DoorSupervisor | None:
        return self.doors

    def _boards(self) -> tuple[int, int]:
        """Boards answering, and boards configured."""
        total = sum(len(bus.boards) for bus in self.config.buses)
        offline = (
            0 if self.doors is None else sum(not up for up in self.doors.boards_online().values())
        )
        return total - offline, total

    async def _poll_forever(self) -> None:
        assert self.doors is not None
        while True:
            try:
                await self.doors.poll_once()
                await self.flows.resume_openings()
                if self.link is not None:
                    self.link.nudge()
            except Exception:
                log.exception("door poll failed; retrying")
            await self.clock.sleep(self.config.policy.poll_interval_s)

    async def _housekeeping(self) -> None:
        while True:
            try:
                expired = self.flows.expire_storage()
                if expired:
                    log.info("%d parcels passed their storage period", expired)
                if self.cold is not None:
                    self.cold.purge()
            except Exception:
                log.exception("housekeeping failed; retrying")
            await self.clock.sleep(HOUSEKEEPING_EVERY_S)
