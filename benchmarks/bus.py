"""Bus benchmark: what the bus master costs on top of the wire, measured end to end.

For each scenario a hardware twin (``hil_sim.Simulator``) serves simulated boards behind a real
pseudo-terminal paced at the baud rate, and a ``BusMaster`` drives it through the real serial
transport. Two things are measured:

- open: from the ``open_lock`` call to the end of the unlock frame's last byte on the simulated
  wire (the simulator stamps each request when its last byte ends). The board's states are
  confirmed just before, so the unlock goes out without a pre-read, as with the edge daemon,
  which polls every door continuously. The master still keeps its inter-frame gap after that
  confirming read, so the figure includes it. Every open must be reported ``opened``.
- poll: one ``read_status`` of every board in turn, i.e. one reading of every door.

Each is printed next to the pure wire time of the frames involved (bytes x 10 bits / baud) and
the ratio of the two. The rest is board processing time (the simulator's boards answer a read
after 3 ms), the inter-frame gaps, and host scheduling: asyncio, the pty, and the simulator's
pacing thread. The figures therefore depend on the machine and its load; compare runs from the
same machine only.

Run ``python -m benchmarks.bus`` (``make bench``), or with ``--quick`` for a short CI run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.common import heading
from firmware_bridge.bus import BusMaster, UnlockOutcome
from firmware_bridge.codecs import kerong_cu16, xor8a
from firmware_bridge.families import family_named
from firmware_bridge.model import BoardConfig
from firmware_bridge.timing import inter_frame_gap, wire_time
from firmware_bridge.transport.serial import SerialTransport, open_serial
from hil_sim import Simulator
from hil_sim.boards import READ_REPLY_DELAY
from hil_sim.bus import ReceivedFrame

FULL_OPENS, FULL_POLLS = 200, 100
QUICK_OPENS, QUICK_POLLS = 20, 10
WARM_UP_ROUNDS = 2  # an 8A/80 status length is trusted after two agreeing replies
MS = 1000.0


class BenchmarkError(Exception):
    """The bus did not do what is being measured; the figures would be meaningless."""


def _xor8a_unlock(board: int, lock: int) -> bytes:
    return xor8a.encode(xor8a.OpenLock(board, lock))


def _kerong_unlock(board: int, lock: int) -> bytes:
    return kerong_cu16.encode(kerong_cu16.Unlock(board, lock))


def _xor8a_status_exchange(channels: int) -> int:
    """Bytes of one 8A/80 read-all on the wire: request, then 80 BB S1..Sn 33 X."""
    return xor8a.FIXED_FRAME_LEN + 4 + math.ceil(channels / 8)


KERONG_STATUS_EXCHANGE = kerong_cu16.REQUEST_LEN + kerong_cu16.REPLY_LEN


@dataclass(frozen=True, slots=True)
class Scenario:
    """One bus to measure: its boards, line speed and the frames that matter on it."""

    protocol: str
    boards: tuple[int, ...]
    channels: int
    baud: int
    status_exchange_bytes: int  # request plus reply of one board's status read
    unlock_frame: Callable[[int, int], bytes]  # (board, lock) -> the unlock request's bytes

    @property
    def label(self) -> str:
        return f"{self.protocol} {len(self.boards)}x{self.channels} @ {self.baud}"

    def targets(self, count: int) -> list[tuple[int, int]]:
        """``count`` (board, lock) pairs, cycling over boards first, then locks."""
        n = len(self.boards)
        return [(self.boards[i % n], i // n % self.channels + 1) for i in range(count)]


SCENARIOS = (
    Scenario("xor8a", (1, 2, 3, 4), 24, 9600, _xor8a_status_exchange(24), _xor8a_unlock),
    Scenario("xor8a", (1, 2, 3, 4), 24, 115200, _xor8a_status_exchange(24), _xor8a_unlock),
    Scenario("kerong-cu16", (0, 1, 2, 3), 16, 19200, KERONG_STATUS_EXCHANGE, _kerong_unlock),
)


@dataclass(frozen=True, slots=True)
class Row:
    """One measured quantity: samples in seconds and the wire time they compare with."""

    scenario: str
    measure: str
    samples: list[float]
    wire: float

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        ordered = sorted(self.samples)
        return ordered[math.ceil(0.99 * len(ordered)) - 1]


# --- measuring ----------------------------------------------------------------------------


async def warm_up(bus: BusMaster, boards: Sequence[int]) -> None:
    for _ in range(WARM_UP_ROUNDS):
        for board in boards:
            await bus.confirmed_status(board)


async def time_polls(bus: BusMaster, boards: Sequence[int], count: int) -> list[float]:
    """Seconds to read every board once, ``count`` times."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        for board in boards:
            await bus.read_status(board)
        samples.append(time.perf_counter() - started)
    return samples


def unlock_sent_at(frames: Sequence[ReceivedFrame], frame: bytes, after: float) -> float:
    """When the first copy of ``frame`` sent after ``after`` ended on the wire."""
    for received in frames:
        if received.at > after and received.data == frame:
            return received.at
    raise BenchmarkError(f"unlock frame {frame.hex(' ')} never reached the simulated wire")


async def time_open(
    sim: Simulator, bus: BusMaster, scenario: Scenario, board: int, lock: int
) -> float:
    """Seconds from ``open_lock`` to the unlock frame's last byte; the door is shut again after."""
    await bus.confirmed_status(board)
    started = time.perf_counter()
    result = await bus.open_lock(board, lock)
    if result.outcome is not UnlockOutcome.OPENED:
        raise BenchmarkError(f"{scenario.label}: open {board}/{lock} was {result.outcome.value}")
    sent = unlock_sent_at(sim.frames, scenario.unlock_frame(board, lock), started)
    await shut(sim, board, lock)
    return sent - started


async def shut(sim: Simulator, board: int, lock: int) -> None:
    """A person pushes the door shut again (a released latch catches at once)."""
    if not sim.close_door(board, lock):
        raise BenchmarkError(f"door {board}/{lock} did not latch again")


async def time_opens(sim: Simulator, bus: BusMaster, scenario: Scenario, count: int) -> list[float]:
    return [await time_open(sim, bus, scenario, b, lk) for b, lk in scenario.targets(count)]


async def measure(scenario: Scenario, opens: int, polls: int) -> list[Row]:
    """Run one scenario against a fresh simulator; return its open and poll rows."""
    with Simulator(
        scenario.protocol,
        boards=scenario.boards,
        channels=scenario.channels,
        baud=scenario.baud,
        close_after=None,
    ) as sim:
        transport: SerialTransport = await open_serial(sim.path, scenario.baud)
        try:
            bus = BusMaster(
                transport,
                family_named(scenario.protocol),
                [BoardConfig(a) for a in scenario.boards],
                baud=scenario.baud,
            )
            await warm_up(bus, scenario.boards)
            poll_samples = await time_polls(bus, scenario.boards, polls)
            open_samples = await time_opens(sim, bus, scenario, opens)
        finally:
            await transport.close()
    board, lock = scenario.targets(1)[0]
    open_wire = wire_time(len(scenario.unlock_frame(board, lock)), scenario.baud)
    poll_wire = len(scenario.boards) * wire_time(scenario.status_exchange_bytes, scenario.baud)
    return [
        Row(scenario.label, "open", open_samples, open_wire),
        Row(scenario.label, "poll all", poll_samples, poll_wire),
    ]


# --- reporting ----------------------------------------------------------------------------

COLUMNS = ("scenario", "measure", "median ms", "p99 ms", "wire ms", "median/wire")


def header(opens: int, polls: int) -> str:
    return f"{heading('bus')}  {opens} opens, {polls} polls per scenario"


def cells(row: Row) -> tuple[str, ...]:
    return (
        row.scenario,
        row.measure,
        f"{row.median * MS:.2f}",
        f"{row.p99 * MS:.2f}",
        f"{row.wire * MS:.2f}",
        f"{row.median / row.wire:.1f}",
    )


def notes(scenarios: Sequence[Scenario]) -> list[str]:
    """What the ratios contain besides the wire, so that they can be read."""
    gaps = ", ".join(
        f"{baud}: {inter_frame_gap(baud) * MS:.0f} ms"
        for baud in dict.fromkeys(s.baud for s in scenarios)
    )
    return [
        f"open includes the master's inter-frame gap after the confirming read ({gaps});",
        "poll includes that gap before every read plus the simulated boards' reply delay "
        f"({READ_REPLY_DELAY * MS:.0f} ms each).",
    ]


def table(rows: Sequence[Row]) -> list[str]:
    """Text columns left-aligned, figures right-aligned, each as wide as its widest cell."""
    lines = [COLUMNS, *(cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]

    def fmt(line: tuple[str, ...]) -> str:
        text = [c.ljust(w) for c, w in zip(line[:2], widths[:2], strict=True)]
        figures = [c.rjust(w) for c, w in zip(line[2:], widths[2:], strict=True)]
        return "  ".join(text + figures)

    return [fmt(line) for line in lines]


# --- entry point --------------------------------------------------------------------------


async def run(opens: int, polls: int) -> list[Row]:
    rows: list[Row] = []
    for scenario in SCENARIOS:
        rows += await measure(scenario, opens, polls)
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_OPENS} opens and {QUICK_POLLS} polls per scenario (CI)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    opens, polls = (QUICK_OPENS, QUICK_POLLS) if args.quick else (FULL_OPENS, FULL_POLLS)
    print(header(opens, polls), flush=True)
    try:
        rows = asyncio.run(run(opens, polls))
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    for line in [*table(rows), *notes(SCENARIOS)]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
