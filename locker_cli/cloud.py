"""``locker cloud``: the fleet manager's server and its bootstrap.

Settings come from the environment: ``LOCKER_CLOUD_DATABASE_URL`` (SQLite by default,
``postgresql://...`` in production) and ``LOCKER_CLOUD_SECRET_KEY`` (required; no placeholder).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cloud.core.config import Settings

app = typer.Typer(help="The cloud fleet manager.", no_args_is_help=True)


def _settings() -> Settings:
    from pydantic import ValidationError

    from cloud.core.config import Settings

    try:
        return Settings()  # type: ignore[call-arg]  # from the environment
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            typer.echo(f"error: LOCKER_CLOUD_{where.upper()}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from cloud.core.migrate import upgrade

    upgrade(_settings().database_url)
    typer.echo("schema up to date")


@app.command("create-admin")
def create_admin(label: str = typer.Option("admin", "--label")) -> None:
    """Create an admin API key (printed once; stored only hashed). There is no default account."""
    from cloud.core.db import make_engine
    from cloud.core.migrate import upgrade
    from cloud.services.auth import create_admin as create

    settings = _settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    typer.echo(create(engine, settings.secret_key, label))
    engine.dispose()


@app.command("keygen-notify")
def keygen_notify(
    private_key_file: Annotated[
        Path,
        typer.Option(help="where to write the private key (a new file, mode 0600)"),
    ],
) -> None:
    """A key pair for sealed pickup codes: prints the public key for the banks' [link]
    notify_public_key, writes the private key for LOCKER_CLOUD_NOTIFY_PRIVATE_KEY_FILE."""
    from locker_contract import sealing

    public, private = sealing.new_key_pair()
    try:
        sealing.write_private_key(private_key_file, private)
    except sealing.SealingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(public)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(2, "--workers", min=1),
) -> None:
    """Serve the API (OpenAPI page at /docs) with several worker processes."""
    import uvicorn

    from cloud.core.server import NoDelayH11Protocol

    _settings()
    uvicorn.run(
        "cloud.main:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=NoDelayH11Protocol,
    )


@app.command()
def ingest(
    name: str = typer.Option("1", "--name", help="This worker's name in its group (stable)."),
) -> None:
    """Run the ingest worker: events in, acks and commands out, bank presence tracked.

    With ``LOCKER_CLOUD_BROKER_URL`` (``mqtt://host:port``, MQTT 5) it joins the shared group
    ``LOCKER_CLOUD_INGEST_GROUP``, so several workers split the load. Without it the worker runs
    the embedded broker (amqtt) on ``LOCKER_CLOUD_EMBEDDED_PORT``, for a demo or a trial.
    """
    import asyncio
    import contextlib
    import logging

    from cloud.core.db import make_engine
    from cloud.link.embedded import embedded_broker
    from cloud.link.worker import IngestWorker

    settings = _settings()
    root = logging.getLogger()
    root.setLevel(min(root.level, logging.INFO))  # a daemon says what it does
    engine = make_engine(settings.database_url)

    async def run() -> None:
        async with contextlib.AsyncExitStack() as stack:
            broker = settings.broker_url
            if broker is None:
                broker = await stack.enter_async_context(
                    embedded_broker(settings.embedded_host, settings.embedded_port)
                )
            typer.echo(f"ingest worker {name} on {broker}")
            await IngestWorker(engine, settings, broker, name=name).run()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    engine.dispose()
