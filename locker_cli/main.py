"""``locker``: one command for installers, operators and developers."""

from __future__ import annotations

import logging
import os

import typer

from locker_cli import board, cloud, contract, demo, edge, sim, twin

app = typer.Typer(
    name="locker",
    help="smartlocker: shared parcel lockers, from the RS-485 wire to the fleet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(board.app, name="board")
app.add_typer(edge.app, name="edge")
app.add_typer(cloud.app, name="cloud")
app.add_typer(contract.app, name="contract")
app.command("sim")(sim.run)
app.command("twin")(twin.run)
app.command("demo")(demo.run)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug detail to stderr."),
) -> None:
    level = logging.DEBUG if verbose else os.environ.get("LOCKER_LOG_LEVEL", "ERROR").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
