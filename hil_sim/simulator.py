"""``Simulator``: boards, doors, people and faults on one bus, as tests and tools script them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType

from firmware_bridge.transport import Transport
from hil_sim.boards import BoardFaults, KerongBoard, SimBoard, Xor8aBoard
from hil_sim.bus import ReceivedFrame, SimBus
from hil_sim.clock import ScaledClock
from hil_sim.door import Door, DoorEvent, DoorState
from hil_sim.faults import SENSOR_FAULTS, Fault, parse_faults
from hil_sim.memory import serve
from hil_sim.pty import PtyPort
from hil_sim.sensors import ModbusSensor, SensorSetup, build_line

log = logging.getLogger(__name__)

PROTOCOLS = {"xor8a": 9600, "kerong-cu16": 19200}


class SimulationError(Exception):
    """A scripted action that cannot happen physically (an item put through a shut door)."""


class Simulator:
    """A bus of simulated boards; ``start()`` puts it behind a pseudo-terminal."""

    def __init__(
        self,
        protocol: str = "xor8a",
        boards: Sequence[int] = (1,),
        channels: int = 24,
        *,
        baud: int | None = None,
        seed: int = 0,
        faults: str = "",
        scale: float = 1.0,
        set_is_closed: bool = True,
        status_bytes: int | None = None,
        close_after: float | None = 5.0,
        sensors: Sequence[SensorSetup] = (),
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
        self.protocol = protocol
        self.baud = baud or PROTOCOLS[protocol]
        self.clock = ScaledClock(scale)
        sims: list[SimBoard] = [
            KerongBoard(a, set_is_closed=set_is_closed, close_after=close_after)
            if protocol == "kerong-cu16"
            else Xor8aBoard(a, channels, set_is_closed, status_bytes, close_after)
            for a in boards
        ]
        doors = {(b.address, n): door for b in sims for n, door in b.doors.items()}
        line = build_line(sensors, doors, seed)
        self.bus = SimBus(protocol, sims, self.clock, seed, line)
        self._port: PtyPort | None = None
        for fault in parse_faults(faults):
            self.apply(fault)

    # --- the line -------------------------------------------------------------------------

    def start(self) -> str:
        """Open the pseudo-terminal and serve it; return the device path to open."""
        if self._port is None:
            self._port = PtyPort(self.bus, self.baud)
            self._port.start()
            log.info(
                "simulating %s boards %s on %s", self.protocol, list(self.bus.boards), self.path
            )
        return self._port.path

    @property
    def path(self) -> str:
        if self._port is None:
            raise SimulationError("simulator not started")
        return self._port.path

    def stop(self) -> None:
        if self._port is not None:
            self._port.stop()
            self._port = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def serve(self, transport: Transport) -> None:
        """Serve the bus on an in-memory transport instead of a pty (until cancelled)."""
        await serve(self.bus, transport, self.baud)

    @property
    def frames(self) -> list[ReceivedFrame]:
        """Every request received, with the time its last byte ended on the wire."""
        with self.bus.lock:
            return list(self.bus.frames)

    # --- boards and faults ----------------------------------------------------------------

    def board(self, address: int) -> SimBoard:
        try:
            return self.bus.boards[address]
        except KeyError:
            raise SimulationError(f"no simulated board {address}") from None

    def sensor(self, address: int) -> ModbusSensor:
        """The temperature transmitter at ``address``, its zone brought up to the present."""
        with self.bus.lock:
            try:
                sensor = self.bus.sensors.sensors[address]
            except KeyError:
                raise SimulationError(f"no simulated sensor {address}") from None
            sensor.zone.advance(self.clock.now())
            return sensor

    def faults(self, address: int) -> BoardFaults:
        return self.board(address).faults

    def apply(self, fault: Fault) -> None:
        """Apply one parsed fault (see ``hil_sim.faults``)."""
        with self.bus.lock:
            if fault.kind in SENSOR_FAULTS:
                self.sensor(fault.board or 0)
                self.bus.sensors.apply(fault, self.clock.now())
                return
            if fault.lock is not None and fault.board is not None:
                self._apply_door_fault(self.door(fault.board, fault.lock), fault)
                return
            targets = [fault.board] if fault.board is not None else list(self.bus.boards)
            for address in targets:
                self._apply_board_fault(self.faults(address), fault)

    @staticmethod
    def _apply_board_fault(faults: BoardFaults, fault: Fault) -> None:
        match fault.kind:
            case "no-reply":
                faults.no_reply = bool(fault.value)
            case "unplugged":
                faults.unplugged = bool(fault.value)
            case "garbage":
                faults.garbage = fault.value
            case "bit-errors":
                faults.bit_errors = fault.value
            case "slow":
                faults.slow = fault.value

    @staticmethod
    def _apply_door_fault(door: Door, fault: Fault) -> None:
        match fault.kind:
            case "jammed":
                door.jammed = bool(fault.value)
            case "wont-close":
                door.wont_close = bool(fault.value)
            case "forced":
                door.schedule(fault.value, DoorEvent.FORCE)

    def unplug(self, address: int) -> None:
        with self.bus.lock:
            self.faults(address).unplugged = True

    def plug(self, address: int) -> None:
        with self.bus.lock:
            self.faults(address).unplugged = False

    # --- doors and people -----------------------------------------------------------------

    def door(self, board: int, lock: int) -> Door:
        """The door, brought up to the present."""
        with self.bus.lock:
            try:
                door = self.board(board).doors[lock]
            except KeyError:
                raise SimulationError(f"board {board} has no lock {lock}") from None
            door.advance(self.clock.now())
            return door

    def _act(self, board: int, lock: int, event: DoorEvent) -> Door:
        with self.bus.lock:
            door = self.door(board, lock)
            door.schedule(self.clock.now(), event)
            door.advance(self.clock.now())
            return door

    def close_door(self, board: int, lock: int) -> bool:
        """A person pushes the door shut; return whether it latched."""
        return self._act(board, lock, DoorEvent.CLOSE).state is DoorState.LOCKED

    def force_open(self, board: int, lock: int) -> None:
        """Someone pries the door open without an unlock."""
        self._act(board, lock, DoorEvent.FORCE)

    def put_item(self, board: int, lock: int) -> None:
        self._set_item(board, lock, present=True)

    def take_item(self, board: int, lock: int) -> None:
        self._set_item(board, lock, present=False)

    def _set_item(self, board: int, lock: int, *, present: bool) -> None:
        with self.bus.lock:
            door = self.door(board, lock)
            if door.state is not DoorState.OPEN:
                raise SimulationError(f"door {board}/{lock} is {door.state.value}, not open")
            door.item = present
