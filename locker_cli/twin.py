"""``locker twin``: act on a door of a running twin from outside (``hil_sim.control``).

The twin is ``locker sim --control PATH`` or ``locker demo --serve`` (which prints its PATH)."""

from __future__ import annotations

import typer

VERBS = "close, force, jam, unjam, put, take, state (a door: BOARD/LOCK); unplug, plug (BOARD)"


def run(
    verb: str = typer.Argument(..., help=f"What to do: {VERBS}; or fault SPEC."),
    target: str = typer.Argument(..., help="BOARD/LOCK, BOARD, or a --faults item."),
    control: str = typer.Option(..., "--control", help="The twin's control socket."),
) -> None:
    """Shut, force or jam a door of a running twin, as a person at the locker would."""
    from hil_sim.control import ControlError, act

    try:
        typer.echo(act(control, f"{verb} {target}"))
    except ControlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
