"""The simulated RS-485 bus: frames the master's bytes, lets boards answer, applies faults.

Sans-IO like the bridge's codecs: ``receive`` takes bytes with the time their last byte ended on
the wire and returns what to transmit and when; ``pty`` and ``memory`` move the bytes.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hil_sim.boards import SimBoard
from hil_sim.framing import RequestFramer
from hil_sim.sensors import SensorLine

GARBAGE_MAX = 4  # junk bytes put before a reply by the garbage fault


class SimTime(Protocol):
    """The simulation clock, as the bus reads it."""

    def now(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Transmission:
    at: float  # wire-clock time the first byte should leave
    data: bytes


@dataclass(frozen=True, slots=True)
class ReceivedFrame:
    at: float  # wire-clock time its last byte ended on the wire
    data: bytes


class SimBus:
    """Boards sharing one line. Thread-safe: the serial runner and the test script share it."""

    def __init__(
        self,
        protocol: str,
        boards: Sequence[SimBoard],
        clock: SimTime,
        seed: int = 0,
        sensors: SensorLine | None = None,
    ) -> None:
        self.protocol = protocol
        self.boards = {board.address: board for board in boards}
        self.sensors = sensors or SensorLine()  # Modbus transmitters sharing the line
        self.clock = clock
        self.frames: list[ReceivedFrame] = []
        self.lock = threading.RLock()
        self._framer = RequestFramer(protocol)
        self._rng = random.Random(seed)

    def receive(self, data: bytes, ended_at: float) -> list[Transmission]:
        """Take bytes from the master; return the replies to send, in time order."""
        with self.lock:
            out: list[Transmission] = []
            for command in self._framer.feed(data):
                self.frames.append(ReceivedFrame(ended_at, command.raw))
                now = self.clock.now()
                for board in self.boards.values():
                    if board.faults.unplugged:
                        continue
                    answer = board.handle(command, now)
                    if answer is None or board.faults.no_reply:
                        continue
                    delay, reply = answer
                    out.append(
                        Transmission(
                            ended_at + delay + board.faults.slow, self._spoil(board, reply)
                        )
                    )
            for frame in self.sensors.feed(data):
                self.frames.append(ReceivedFrame(ended_at, frame))
                if (answer := self.sensors.answer(frame, self.clock.now())) is not None:
                    out.append(Transmission(ended_at + answer[0], answer[1]))
            return sorted(out, key=lambda t: t.at)

    def _spoil(self, board: SimBoard, reply: bytes) -> bytes:
        faults = board.faults
        if faults.bit_errors:
            reply = bytes(self._flip(byte, faults.bit_errors) for byte in reply)
        if faults.garbage and self._rng.random() < faults.garbage:
            junk = self._rng.randbytes(self._rng.randint(1, GARBAGE_MAX))
            reply = junk + reply
        return reply

    def _flip(self, byte: int, rate: float) -> int:
        for bit in range(8):
            if self._rng.random() < rate:
                byte ^= 1 << bit
        return byte
