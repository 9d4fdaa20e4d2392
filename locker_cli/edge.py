"""``locker edge``: the daemon of one locker bank, and its local administration.

``locker edge --config edge.toml`` runs the daemon. The subcommands change the bank's store
directly, each change with its event, so a bank with no cloud at all (a building's own locker)
is fully administered from here.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from locker_contract.cold import TemperatureClass
from locker_contract.vocabulary import Consent

if TYPE_CHECKING:
    from sqlmodel import Session

    from controller.config import EdgeConfig

app = typer.Typer(help="The edge daemon of a locker bank.", invoke_without_command=True)
couriers = typer.Typer(help="Courier credentials kept at this bank.", no_args_is_help=True)
app.add_typer(couriers, name="couriers")


@dataclass
class _Bank:
    """What ``locker edge`` knows of the bank: its file, and the configuration once read."""

    path: Path
    config: EdgeConfig | None = None


def _config(ctx: typer.Context) -> EdgeConfig:
    """The bank's configuration, read when a command first needs it (``--help`` never does);
    an unusable file exits 2 with every problem listed."""
    from controller.config import ConfigError, load_config

    bank = ctx.find_object(_Bank)
    assert bank is not None, "the edge callback sets it"
    if bank.config is None:
        try:
            bank.config = load_config(bank.path)
        except ConfigError as exc:
            typer.echo(f"error: {exc.path} is not usable:", err=True)
            for problem in exc.problems:
                typer.echo(f"  - {problem}", err=True)
            raise typer.Exit(2) from None
    return bank.config


CONFIG = typer.Option(
    Path("edge.toml"), "--config", envvar="LOCKER_EDGE_CONFIG", help="The bank's TOML file."
)


@app.callback()
def main(ctx: typer.Context, config: Path = CONFIG) -> None:
    """Run the daemon (no subcommand), or administer the bank."""
    ctx.obj = _Bank(config)  # read by the first command that needs it: --help needs no file
    if ctx.invoked_subcommand is None:
        _serve(_config(ctx))


def _serve(config: EdgeConfig) -> None:
    """Start the bank first (a missing port is a one-line error), then serve the kiosk API."""
    import uvicorn

    from controller.api import create_app, server_config
    from controller.daemon import Edge
    from firmware_bridge.errors import BridgeError

    async def run() -> None:
        edge = Edge(config)
        await edge.start()
        try:
            app_ = create_app(edge, start_edge=False)
            await uvicorn.Server(server_config(app_, config.api, log_level="info")).serve()
        finally:
            await edge.stop()

    try:
        asyncio.run(run())
    except BridgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@couriers.command("add")
def couriers_add(
    ctx: typer.Context,
    courier_id: str = typer.Option(..., "--id", help="The courier's id, as the carrier issues it."),
    carrier: str = typer.Option(..., "--carrier", help="The courier's company."),
    name: str = typer.Option("", "--name"),
    pin: str = typer.Option("", "--pin", help="4-12 digits; asked for when not given."),
    ttl_hours: float | None = typer.Option(None, "--ttl-hours", help="Valid offline this long."),
) -> None:
    """Add (or renew) a courier's kiosk credential."""
    from controller import admin, codes
    from controller.clock import SystemClock

    config = _config(ctx)
    ttl = ttl_hours or config.policy.credential_ttl_h
    key = codes.load_or_create_key(config.bank.key_file)
    pin = pin or getpass.getpass("PIN: ")
    _admin(
        ctx,
        lambda s: admin.add_courier(
            s,
            key,
            courier_id=courier_id,
            carrier=carrier,
            pin=pin,
            ttl_h=ttl,
            name=name,
            now=SystemClock().wall(),
        ),
    )
    typer.echo(f"courier {courier_id} ({carrier}) valid for {ttl:g} h")


def _admin(ctx: typer.Context, change: Callable[[Session], None]) -> None:
    """Apply one administrative change (or read) in one transaction on the bank's store, closed
    afterwards; its errors exit with a reason."""
    from controller.errors import EdgeError
    from controller.store import open_store, transaction

    engine = open_store(_config(ctx).bank.database)
    try:
        with transaction(engine) as s:
            change(s)
    except EdgeError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2 if exc.status == 422 else 1) from None
    finally:
        engine.dispose()


@couriers.command("revoke")
def couriers_revoke(ctx: typer.Context, courier_id: str) -> None:
    """Revoke a courier's credential at once."""
    from controller import admin

    _admin(ctx, lambda s: admin.revoke_courier(s, courier_id))
    typer.echo(f"courier {courier_id} revoked")


@couriers.command("list")
def couriers_list(ctx: typer.Context) -> None:
    """Couriers with their carrier and validity."""
    from sqlmodel import select

    from controller.store import Courier

    def show(s: Session) -> None:
        for c in s.exec(select(Courier).order_by(Courier.id)):
            state = "revoked" if c.revoked else f"valid until {c.expires_at:%Y-%m-%d %H:%M}"
            typer.echo(f"{c.id}\t{c.carrier}\t{c.name}\t{state}")

    _admin(ctx, show)


@app.command()
def expect(
    ctx: typer.Context,
    consent: Annotated[
        Consent, typer.Option("--consent", help="How the recipient agreed, on record.")
    ],
    waybill: str = typer.Option(..., "--waybill"),
    carrier: str = typer.Option(..., "--carrier"),
    phone: str = typer.Option(..., "--phone", help="The recipient's phone number."),
    klass: Annotated[
        TemperatureClass | None,
        typer.Option("--class", help="A chilled or frozen parcel goes only into its class."),
    ] = None,
) -> None:
    """Announce a waybill whose recipient agreed to locker delivery."""
    from controller import admin
    from controller.cold import placement

    def announce(s: Session) -> None:
        admin.expect_parcel(s, waybill=waybill, carrier=carrier, phone=phone, consent=consent.value)
        placement.announce(s, carrier, waybill, klass)

    _admin(ctx, announce)
    typer.echo(f"waybill {waybill} expected")


@app.command()
def parcels(ctx: typer.Context, show_all: bool = typer.Option(False, "--all")) -> None:
    """Parcels in the bank (with --all, also those picked up or returned)."""
    from sqlmodel import col, select

    from controller.codes import mask_phone
    from controller.store import ACTIVE_PARCEL_STATES, Parcel

    query = select(Parcel).order_by(Parcel.compartment)
    if not show_all:
        query = query.where(col(Parcel.state).in_(ACTIVE_PARCEL_STATES))

    def show(s: Session) -> None:
        for p in s.exec(query):
            phone = mask_phone(p.recipient_phone)
            typer.echo(f"{p.compartment}\t{p.waybill}\t{p.carrier}\t{phone}\t{p.state}")

    _admin(ctx, show)


@app.command()
def maintenance(ctx: typer.Context, mode: str = typer.Argument(..., help="on or off")) -> None:
    """Stop (on) or resume (off) deposits and pickups at the kiosk."""
    from controller import admin

    if mode not in ("on", "off"):
        typer.echo("error: say on or off", err=True)
        raise typer.Exit(2)
    _admin(ctx, lambda s: admin.set_maintenance(s, on=mode == "on"))
    typer.echo(f"maintenance {mode}")


@app.command()
def keypad(ctx: typer.Context) -> None:
    """End every pickup-code lockout and the kiosk's slow mode after its daily budget."""
    from controller import admin

    _admin(ctx, admin.reenable_keypad)
    typer.echo("code entry back to normal")


@app.command()
def commission(
    ctx: typer.Context,
    wait: float = typer.Option(30.0, "--wait", help="Seconds to wait for each door to be shut."),
) -> None:
    """Open each door in turn (the daemon must be stopped) and record which work."""
    from controller.commissioning import commission_all

    for line in asyncio.run(commission_all(_config(ctx), wait_s=wait)):
        typer.echo(line)
