"""``locker cloud``: the fleet manager's server and its bootstrap.

Settings come from the environment: ``LOCKER_CLOUD_DATABASE_URL`` (SQLite by default,
``postgresql://...`` in production) and ``LOCKER_CLOUD_SECRET_KEY`` (required; no placeholder).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from locker_cli import cloud_notify, cloud_people, cloud_webhooks

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cloud.core.config import Settings
    from cloud.models import KeyPublic

app = typer.Typer(help="The cloud fleet manager.", no_args_is_help=True)


def _settings() -> Settings:
    from pydantic import ValidationError

    from cloud.core.config import Settings

    try:
        return Settings()  # from the environment
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            typer.echo(f"error: LOCKER_CLOUD_{where.upper()}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


app.command()(cloud_notify.notify)  # recipients' messages (issue 14)
cloud_people.register(app)  # create-admin (and the first console person), invite, reset-link


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from cloud.core.migrate import upgrade

    upgrade(_settings().database_url)
    typer.echo("schema up to date")


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
    access_log: bool = typer.Option(
        False,
        "--access-log/--no-access-log",
        help="A line per request on stderr (uvicorn's). Off by default: the proxy in front logs "
        "requests, and the line costs a tenth of a worker's CPU per reservation.",
    ),
) -> None:
    """Serve the API (OpenAPI page at /docs) with several worker processes, each on its own
    listening socket so that the kernel spreads connections over all of them."""
    from cloud.core.server import serve as serve_workers

    _settings()
    serve_workers(
        "cloud.main:app_from_environment",
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
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

    from cloud.core import heap
    from cloud.core.db import make_engine
    from cloud.link.embedded import embedded_broker
    from cloud.link.worker import IngestWorker
    from locker_contract.broker import BrokerUrl

    settings = _settings()  # refuses a broker URL with a password, and never prints it
    root = logging.getLogger()
    root.setLevel(min(root.level, logging.INFO))  # a daemon says what it does
    engine = make_engine(settings.database_url)
    heap.settle()  # a process of its own, started: see cloud.core.heap

    async def run() -> None:
        async with contextlib.AsyncExitStack() as stack:
            broker = settings.broker_url
            if broker is None:
                broker = await stack.enter_async_context(
                    embedded_broker(settings.embedded_host, settings.embedded_port)
                )
            typer.echo(f"ingest worker {name} on {BrokerUrl.parse(broker)}")  # no credentials
            await IngestWorker(engine, settings, broker, name=name).run()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    engine.dispose()


@contextlib.contextmanager
def _engine() -> Iterator[tuple[Settings, Engine]]:
    """The settings and an engine on their database, disposed afterwards; a service's refusal
    becomes one line on stderr and exit status 1."""
    from cloud.core.db import make_engine
    from cloud.services.errors import CloudError

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        yield settings, engine
    except CloudError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@app.command()
def purge() -> None:
    """Erase the phone numbers of parcels that ended ``LOCKER_CLOUD_PERSONAL_DATA_RETENTION_DAYS``
    ago (30 by default), wherever the cloud keeps them; an announced parcel never deposited ends
    ``LOCKER_CLOUD_ANNOUNCEMENT_EXPIRY_DAYS`` (14) after its announcement; and delete zones'
    temperature samples older than ``LOCKER_CLOUD_COLD_RETENTION_DAYS`` (366). Run it daily."""
    from datetime import timedelta

    from cloud.coldchain.retention import purge_samples
    from cloud.models import utcnow
    from cloud.services.personal_data import purge_personal_data

    with _engine() as (settings, engine):
        retention = timedelta(days=settings.personal_data_retention_days)
        lapse = timedelta(days=settings.announcement_expiry_days)
        done = purge_personal_data(engine, utcnow(), retention, lapse)
        samples = purge_samples(engine, utcnow() - timedelta(days=settings.cold_retention_days))
    typer.echo(f"deleted {samples} temperature sample(s) past LOCKER_CLOUD_COLD_RETENTION_DAYS")
    typer.echo(
        f"erased the phone numbers of {done.parcels} parcel(s): {done.notifications} "
        f"notification(s), {done.events} event(s), {done.commands} command(s)"
    )


app.command()(cloud_webhooks.webhooks)  # the carriers' webhook sender (issue 16)


keys = typer.Typer(
    help="API keys of every role: list, revoke, rotate. Acts as an admin (whoever runs this "
    "holds the database); each change is audited as locker-cli.",
    no_args_is_help=True,
)
app.add_typer(keys, name="keys")


@keys.command("list")
def keys_list(
    role: Annotated[
        str | None, typer.Option(help="admin, operator, manager, carrier, courier")
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="revoked keys too")] = False,
) -> None:
    """One line per key: id, role, state, scope, label (never the key itself)."""
    from cloud.models import KeyState, Role
    from cloud.services import keys as service

    try:
        wanted = Role(role) if role else None
    except ValueError:
        typer.echo(f"error: --role: one of {', '.join(r.value for r in Role)}", err=True)
        raise typer.Exit(2) from None
    with _engine() as (_, engine):
        found = service.list_keys(engine, service.CONSOLE, wanted)
    for key in found:
        if everything or key.state is not KeyState.REVOKED:
            typer.echo(_key_line(key))


def _key_line(key: KeyPublic) -> str:
    scopes = {
        "operator": key.operator_id,
        "site": key.site_id,
        "carrier": key.carrier_id,
        "courier": key.courier_id,
    }
    scope = " ".join(f"{name}={value}" for name, value in scopes.items() if value)
    return f"{key.id}  {key.role:<8}  {key.state.value:<8}  {scope or '-'}  {key.label}"


@keys.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="the key's id (keys list)")]) -> None:
    """Revoke a key at once (a leaked manager's, say): refused from its next request on."""
    from cloud.services import keys as service

    with _engine() as (_, engine):
        key = service.revoke(engine, service.CONSOLE, key_id)
    typer.echo(_key_line(key))


@keys.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="the key's id (keys list)")],
    overlap_s: Annotated[
        float, typer.Option(min=0, help="seconds the old key stays valid (at most 3600)")
    ] = 0.0,
) -> None:
    """A new key for the same role and scope, printed once on stdout; the old one revoked."""
    from cloud.services import keys as service

    with _engine() as (settings, engine):
        rotated = service.rotate(
            engine, service.CONSOLE, settings.secret_key, key_id, overlap_s=overlap_s
        )
    typer.echo(f"replaced: {_key_line(rotated.old)}", err=True)
    typer.echo(rotated.key)
