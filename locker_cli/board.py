"""``locker board``: the installer's commands, for real hardware and the simulator alike.

Numbers are as printed on the hardware: 8A/80 boards from 1, Kerong boards from 0, locks from 1.
Exit status: 0 on success, 1 with a one-line reason on stderr otherwise, 2 for bad arguments.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from firmware_bridge.bus import BusMaster, UnlockResult
    from firmware_bridge.model import BoardStatus
    from firmware_bridge.transport.trace import TraceSink

app = typer.Typer(help="Talk to lock boards on an RS-485 bus.", no_args_is_help=True)
T = TypeVar("T")


class Protocol(StrEnum):
    xor8a = "xor8a"
    kerong_cu16 = "kerong-cu16"


class Wiring(StrEnum):
    set_closed = "set-closed"
    set_open = "set-open"


PORT = typer.Option(..., "--port", help="Device path, /dev/serial/by-id/... link or socket://.")
PROTOCOL = typer.Option(..., "--protocol", help="Board family on this bus.")
BAUD = typer.Option(None, "--baud", help="Line speed [default: the family's].")
TIMEOUT = typer.Option(None, "--timeout", help="Seconds to wait for each reply.", min=0.001)
POLARITY = typer.Option(Wiring.set_closed, "--polarity", help="Feedback wiring: set bit means.")


@dataclass(frozen=True)
class BusOptions:
    port: str
    protocol: str
    baud: int | None = None
    timeout: float | None = None
    polarity: str = Wiring.set_closed.value
    channels: int | None = None


@asynccontextmanager
async def connect(
    options: BusOptions, boards: list[int], trace: TraceSink | None = None
) -> AsyncIterator[BusMaster]:
    """Open the port and yield a bus master for ``boards``; always closes the port."""
    from firmware_bridge.bus import BusMaster, BusSettings
    from firmware_bridge.families import family_named
    from firmware_bridge.model import BoardConfig, Polarity
    from firmware_bridge.transport import Transport
    from firmware_bridge.transport.serial import open_serial
    from firmware_bridge.transport.trace import Tracing

    family = family_named(options.protocol)
    baud = options.baud or family.default_baud
    transport: Transport = await open_serial(options.port, baud)
    if trace is not None:
        transport = Tracing(transport, trace)
    polarity = Polarity(options.polarity)
    configs = [BoardConfig(b, channels=options.channels, polarity=polarity) for b in boards]
    settings = BusSettings(reply_timeout=options.timeout)
    try:
        yield BusMaster(transport, family, configs, baud=baud, settings=settings)
    finally:
        await transport.close()


def status_lines(status: BoardStatus) -> list[str]:
    """``lock L: open|closed[, item: present|empty]``, one per lock."""
    lines = []
    for lock in status.locks:
        item = "" if lock.item is None else f", item: {'present' if lock.item else 'empty'}"
        lines.append(f"lock {lock.lock}: {lock.state.value}{item}")
    return lines


def status_json(status: BoardStatus) -> str:
    locks = [{"lock": s.lock, "state": s.state.value, "item": s.item} for s in status.locks]
    return json.dumps({"board": status.board, "locks": locks})


def describe_unlock(result: UnlockResult) -> tuple[str, bool]:
    """A sentence for the installer, and whether the door was seen open."""
    from firmware_bridge.bus import UnlockOutcome

    where = f"board {result.board} lock {result.lock}"
    match result.outcome:
        case UnlockOutcome.OPENED:
            return f"{where}: opened (seen open after the pulse)", True
        case UnlockOutcome.ALREADY_OPEN:
            return f"{where}: already open; no pulse sent", True
        case _:
            return f"{where}: pulse sent but the lock was never seen open (jammed?)", False


def run_or_exit(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work``; turn the bridge's errors into a one-line reason and a non-zero exit."""
    from firmware_bridge.errors import BridgeError, InvalidRequest

    try:
        return asyncio.run(work())
    except InvalidRequest as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (BridgeError, KeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def scan(
    port: str = PORT,
    protocol: Protocol = PROTOCOL,
    baud: int | None = BAUD,
    timeout: float | None = TIMEOUT,
) -> None:
    """Find the boards on the bus: one try per address; prints `board N` per board."""
    from firmware_bridge.families import family_named

    addresses = list(family_named(protocol.value).board_numbers)
    options = BusOptions(port, protocol.value, baud, timeout)

    async def work() -> list[int]:
        found = []
        async with connect(options, []) as bus:
            for address in addresses:
                typer.echo(f"probing {address}...", err=True)
                found += await bus.scan([address])
        return found

    found = run_or_exit(work)
    for address in found:
        typer.echo(f"board {address}")
    if not found:
        typer.echo("error: no board answered", err=True)
        raise typer.Exit(1)


@app.command()
def status(
    port: str = PORT,
    protocol: Protocol = PROTOCOL,
    board: int = typer.Option(..., "--board", help="Board number as set on the board."),
    baud: int | None = BAUD,
    timeout: float | None = TIMEOUT,
    polarity: Wiring = POLARITY,
    channels: int | None = typer.Option(None, "--channels", min=1, help="Locks to report."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of lines."),
) -> None:
    """Print every lock of one board: `lock L: open|closed`."""
    options = BusOptions(port, protocol.value, baud, timeout, polarity.value, channels)

    async def work() -> BoardStatus:
        async with connect(options, [board]) as bus:
            return await bus.confirmed_status(board)

    result = run_or_exit(work)
    typer.echo(status_json(result) if as_json else "\n".join(status_lines(result)))


@app.command("open")
def open_(
    port: str = PORT,
    protocol: Protocol = PROTOCOL,
    board: int = typer.Option(..., "--board", help="Board number as set on the board."),
    lock: int = typer.Option(..., "--lock", help="Lock number, from 1."),
    baud: int | None = BAUD,
    timeout: float | None = TIMEOUT,
    polarity: Wiring = POLARITY,
) -> None:
    """Open one lock and say whether the door was then seen open."""
    options = BusOptions(port, protocol.value, baud, timeout, polarity.value)

    async def work() -> UnlockResult:
        async with connect(options, [board]) as bus:
            return await bus.open_lock(board, lock)

    text, seen_open = describe_unlock(run_or_exit(work))
    typer.echo(text, file=sys.stdout if seen_open else sys.stderr)
    if not seen_open:
        raise typer.Exit(1)


@app.command()
def sensor(
    port: str = PORT,
    address: int = typer.Option(..., "--address", help="Modbus address of the transmitter."),
    profile: str = typer.Option(
        "sht20", "--profile", help="sht20, or key=value,... (function, temperature, scale...)."
    ),
    baud: int | None = typer.Option(None, "--baud", help="Line speed [default: the profile's]."),
    timeout: float | None = TIMEOUT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a line."),
) -> None:
    """Read one Modbus temperature transmitter: `sensor N: 5.0 C, 60.0 %RH`."""
    from firmware_bridge.sensors import SensorReading, parse_profile

    async def work() -> SensorReading:
        chosen = parse_profile(profile)
        chosen = replace(chosen, baud=baud) if baud else chosen
        options = BusOptions(port, Protocol.xor8a.value, chosen.baud, timeout)
        async with connect(options, []) as bus:
            return await bus.read_sensor(address, chosen)

    reading = run_or_exit(work)
    if as_json:
        fields = ("address", "celsius", "humidity", "reason")
        typer.echo(json.dumps({"ok": reading.ok} | {f: getattr(reading, f) for f in fields}))
    elif reading.ok:
        humidity = "" if reading.humidity is None else f", {reading.humidity:.1f} %RH"
        typer.echo(f"sensor {address}: {reading.celsius:.1f} C{humidity}")
    else:
        typer.echo(f"error: sensor {address}: no temperature ({reading.reason})", err=True)
    if not reading.ok:
        raise typer.Exit(1)
