"""``locker sim``: the hardware twin on a pseudo-terminal, until interrupted."""

from __future__ import annotations

import signal
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from hil_sim.simulator import Simulator


def _addresses(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected numbers separated by commas, got {text!r}") from None


def _control(sim: Simulator, path: str) -> AbstractContextManager[object]:
    from hil_sim.control import ControlServer

    return ControlServer(sim, path) if path else nullcontext()


def run(
    protocol: str = typer.Option("xor8a", "--protocol", help="xor8a or kerong-cu16."),
    boards: str = typer.Option("1", "--boards", help="Board addresses, e.g. 1,2."),
    channels: int = typer.Option(24, "--channels", min=2, max=50, help="Locks per 8A/80 board."),
    seed: int = typer.Option(0, "--seed", help="Seed for faults that happen at random."),
    faults: str = typer.Option("", "--faults", help="e.g. jammed@1/3,garbage@1=0.2"),
    baud: int | None = typer.Option(None, "--baud", help="Line speed [default: the family's]."),
    scale: float = typer.Option(1.0, "--scale", min=0.001, help="Simulated seconds per second."),
    close_after: float = typer.Option(
        5.0, "--close-after", help="Seconds before a person shuts an open door (<0: never)."
    ),
    control: str = typer.Option(
        "", "--control", help="A Unix socket path: act on doors from outside (`locker twin`)."
    ),
    sensors: str = typer.Option(
        "", "--sensors", help="Temperature transmitters and their zones' doors, e.g. 10=1/5+1/6."
    ),
) -> None:
    """Simulate lock boards on a pseudo-terminal; prints the device path on the first line."""
    from hil_sim.faults import FaultSpecError
    from hil_sim.sensors import parse_sensors
    from hil_sim.simulator import SimulationError, Simulator

    try:
        sim = Simulator(
            protocol,
            _addresses(boards),
            channels,
            baud=baud,
            seed=seed,
            faults=faults,
            scale=scale,
            close_after=None if close_after < 0 else close_after,
            sensors=parse_sensors(sensors),
        )
    except (FaultSpecError, ValueError, KeyError, SimulationError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with sim, _control(sim, control):
        typer.echo(sim.path)
        typer.echo(f"simulating {protocol} boards {boards} at {sim.baud} baud", err=True)
        if control:
            typer.echo(f"doors act on `locker twin ... --control {control}`", err=True)
        stop.wait()
    typer.echo(f"stopped after {len(sim.frames)} frames", err=True)
