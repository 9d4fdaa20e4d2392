"""``locker contract``: the edge-cloud MQTT contract as documents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The edge-cloud MQTT contract.", no_args_is_help=True)
DOCS = Path("docs/contract")


@app.command("schema")
def schema(folder: Annotated[Path, typer.Argument()] = DOCS) -> None:
    """Regenerate the JSON Schemas and the AsyncAPI document from the contract's models."""
    from locker_contract.schema import write_docs

    for path in write_docs(folder):
        typer.echo(path)
