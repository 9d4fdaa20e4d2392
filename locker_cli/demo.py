"""``locker demo``: the installer's commands against the hardware twin, with the wire shown.

Needs nothing installed beyond the project: two simulated 8A/80 boards on a pseudo-terminal, one
of them with a jammed lock, driven through exactly the code paths of ``locker board``.
"""

from __future__ import annotations

import asyncio
import time

import typer

from locker_cli.board import BusOptions, connect, describe_unlock, status_lines

DEMO_BOARDS = (1, 2)
DEMO_FAULTS = "jammed@2/4"


def run(
    trace: bool = typer.Option(True, "--trace/--no-trace", help="Show every frame on the wire."),
    serve: bool = typer.Option(
        False, "--serve", help="Keep a whole site running, with the managers' console."
    ),
    port: int = typer.Option(8000, "--port", help="The console's port (with --serve)."),
    pace: float = typer.Option(6.0, "--pace", min=0.05, help="Seconds between visitors."),
    seconds: float | None = typer.Option(None, "--for", min=1, help="Stop after this long."),
    seed: int = typer.Option(0, "--seed", help="The visitors' script (with --serve)."),
) -> None:
    """Scan, read, open a few doors and show a jammed one, on simulated boards; then a bank
    at work, linked to the cloud. With --serve: a site to click around in, until Ctrl-C."""
    if serve:
        from locker_cli import demo_serve

        demo_serve.run(port, pace, seconds, seed)
        return
    from hil_sim import Simulator

    with Simulator("xor8a", DEMO_BOARDS, 24, faults=DEMO_FAULTS, close_after=3.0) as sim:
        typer.echo(f"Simulated 8A/80 bus on {sim.path} (boards 1 and 2, 24 locks each)\n")
        asyncio.run(_script(BusOptions(sim.path, "xor8a"), trace=trace))
        typer.echo(f"\n{len(sim.frames)} frames reached the boards; lock 2/4 is jammed on purpose.")
    from locker_cli.demo_bank import run_bank_act

    run_bank_act()


class WireLog:
    """Prints each frame on one line: bytes received in a burst are gathered until the next
    transmission (or the end), stamped with the time of their first byte."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self._rx = bytearray()
        self._rx_at = 0.0

    def __call__(self, direction: str, data: bytes, at: float) -> None:
        if direction == "rx":
            self._rx_at = self._rx_at if self._rx else at
            self._rx += data
            return
        self.flush()
        self._line("->" if direction == "tx" else "x ", data, at)

    def flush(self) -> None:
        if self._rx:
            self._line("<-", bytes(self._rx), self._rx_at)
            self._rx.clear()

    def _line(self, arrow: str, data: bytes, at: float) -> None:
        typer.echo(f"    {1000 * (at - self.start):8.1f} ms  {arrow} {data.hex(' ').upper()}")


async def _script(options: BusOptions, *, trace: bool) -> None:
    wire = WireLog()
    async with connect(options, list(DEMO_BOARDS), trace=wire if trace else None) as bus:
        typer.echo("$ locker board scan")
        found = await bus.scan(range(1, 4))
        wire.flush()
        typer.echo("\n".join(f"board {address}" for address in found))
        typer.echo("\n$ locker board status --board 1   (first 4 of 24 locks)")
        status = await bus.confirmed_status(1)
        wire.flush()
        typer.echo("\n".join(status_lines(status)[:4]))
        for board, lock in ((1, 1), (1, 2), (2, 3), (2, 4)):
            typer.echo(f"\n$ locker board open --board {board} --lock {lock}")
            result = await bus.open_lock(board, lock)
            wire.flush()
            typer.echo(describe_unlock(result)[0])
        typer.echo("\n$ locker board status --board 2   (first 4 of 24 locks)")
        status = await bus.confirmed_status(2)
        wire.flush()
        typer.echo("\n".join(status_lines(status)[:4]))
