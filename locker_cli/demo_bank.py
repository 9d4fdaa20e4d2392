"""Act two of ``locker demo``: a bank at work on the hardware twin, linked to the cloud.

Two couriers of two companies deposit for one recipient, who opens both doors with one code
after a wrong try; then someone forces a door. Everything goes through the edge daemon's flows
and door supervisor over a real pseudo-terminal; the bank's events travel over MQTT (the
embedded amqtt broker) to the cloud's ingest worker, which applies them once, in order; then the
cloud sends the bank a command and prints its answer.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from controller.daemon import Edge
    from hil_sim import Simulator
    from locker_cli.demo_cloud import DemoCloud

SIZES = ["S", "S", "M", "M", "L", "L", "XL", "XL"]


def _config(
    port: str, folder: Path, broker: str, notify_key: str, bank: str = "maple-court-3"
) -> dict[str, object]:
    compartments = [
        {"label": f"{row}{n:02d}", "bus": "main", "board": board, "channel": n, "size": size}
        for row, board in (("A", 1), ("B", 2))
        for n, size in enumerate(SIZES, start=1)
    ]
    return {
        "bank": {
            "id": bank,
            "database": folder / "edge.db",
            "key_file": folder / "bank.key",
        },
        "policy": {"poll_interval_s": 0.1},
        "link": {
            "broker": broker,
            "heartbeat_s": 1.0,
            "resync_jitter_s": 0.2,
            "notify_public_key": notify_key,
        },
        "bus": [
            {
                "name": "main",
                "port": port,
                "protocol": "xor8a",
                "board": [{"address": 1, "channels": 8}, {"address": 2, "channels": 8}],
            }
        ],
        "compartment": compartments,
    }


async def _until(check: object, timeout: float = 5.0) -> None:
    assert callable(check)
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the twin did not get there in time")


def _door(label: str) -> tuple[int, int]:
    return "AB".index(label[0]) + 1, int(label[1:])


async def _shut_when_open(sim: Simulator, label: str) -> None:
    from hil_sim.door import DoorState

    board, lock = _door(label)
    await _until(lambda: sim.door(board, lock).state is DoorState.OPEN)
    sim.close_door(board, lock)


async def _deposit(edge: Edge, sim: Simulator, courier_id: str, secret: str, waybill: str) -> str:
    from controller.config import Size

    courier = edge.flows.sign_in(courier_id, secret)
    deposit = await edge.flows.start_deposit(
        courier, waybill=waybill, phone="138 0013 8000", size=Size.M, consent="phone_call"
    )
    label = str(deposit.compartment)
    typer.echo(
        f"{courier.carrier} courier {courier_id} deposits {waybill}: door {label} {deposit.state}"
    )
    await _shut_when_open(sim, label)
    await _until(lambda: edge.flows.deposit(deposit.id).state == "recorded")
    typer.echo(f"  door {label} shut: parcel recorded")
    return label


def _known(edge: Edge, courier_id: str) -> bool:
    from controller.store import Courier, transaction

    with transaction(edge.engine) as s:
        return s.get(Courier, courier_id) is not None


async def _script(edge: Edge, sim: Simulator, cloud: DemoCloud) -> None:
    from cloud.services.personal_data import mask_phone
    from controller import admin
    from controller.errors import WrongCode
    from controller.store import transaction

    with transaction(edge.engine) as s:  # a courier added at the bank itself, with a PIN
        now = edge.clock.wall()
        admin.add_courier(
            s, edge.key, courier_id="jd-0007", carrier="jd", pin="2468", ttl_h=72, now=now
        )
    code = await asyncio.to_thread(cloud.courier_code, "sf-express", "sf-0042")
    typer.echo(
        "SF Express accepts its share of this bank; its courier sf-0042 fetches today's "
        "code for this bank from the cloud"
    )
    await _until(lambda: _known(edge, "sf-0042"))  # its verifier came with the commands
    first = await _deposit(edge, sim, "sf-0042", code, "SF1008611")
    second = await _deposit(edge, sim, "jd-0007", "2468", "JD0020099")
    await _until(lambda: cloud.parcels_told() == 2)  # one message: the second joined the first
    [message] = await cloud.deliver()
    typer.echo("the cloud's notifier texts the recipient (development outbox):")
    to, _, text = message.strip().partition("\n")
    typer.echo(f"  | To: {mask_phone(to.removeprefix('To: '))}")
    for line in filter(None, text.splitlines()):
        typer.echo(f"  | {line}")
    code = message.partition("取件码")[2][:8]  # the recipient reads the code
    try:
        await edge.flows.pickup("0000 0000")
    except WrongCode as exc:
        typer.echo(f"recipient mistypes: {exc.message}, {exc.detail['attempts_left']} tries left")
    doors = await edge.flows.pickup(code)
    typer.echo(
        "recipient enters the code: "
        + ", ".join(f"door {d.compartment} {d.outcome}" for d in doors)
    )
    for label in (first, second):
        await _shut_when_open(sim, label)
    await _until(lambda: sum(e["type"] == "parcel.picked_up" for e in cloud.events()) == 2)
    typer.echo("both doors shut: both parcels picked up, the code is used up")
    sim.force_open(2, 7)
    await _until(lambda: any(e["type"] == "door.forced_open" for e in cloud.events()))
    typer.echo("someone pries door B07 open: alarm raised")
    await _until(lambda: cloud.alarms().count("door.forced_open B07") == 1)
    typer.echo("\nthe cloud received the bank's events over MQTT, each once, in order:")
    for event in cloud.events():
        where = event.get("compartment", "")
        typer.echo(f"  {event['seq']:>3}  {event['type']:<24} {where}")
    typer.echo(f"bank online: {cloud.online()}; open alarms: {', '.join(cloud.alarms())}")
    typer.echo("\nthe cloud puts the bank into maintenance (a command, applied once, answered):")
    command = cloud.command("bank.maintenance", {"on": True})
    await _until(lambda: cloud.answer(command) is not None)
    typer.echo(
        f"  bank answers: {cloud.answer(command)}; kiosk in maintenance: "
        f"{edge.flows.in_maintenance()}"
    )


def run_bank_act() -> None:
    from controller.config import EdgeConfig
    from controller.daemon import Edge
    from hil_sim import Simulator
    from locker_cli.demo_cloud import demo_cloud

    async def act(sim: Simulator, folder: Path) -> None:
        async with demo_cloud(folder) as cloud:
            config = _config(sim.path, folder, cloud.broker, cloud.notify_public_key)
            edge = Edge(EdgeConfig.model_validate(config))
            await edge.start()
            try:
                await _script(edge, sim, cloud)
            finally:
                await edge.stop()

    typer.echo("\nA bank at work, linked to the cloud: Maple Court, 2 boards x 8 compartments\n")
    with (
        tempfile.TemporaryDirectory() as tmp,
        Simulator("xor8a", [1, 2], 8, close_after=None) as sim,
    ):
        asyncio.run(act(sim, Path(tmp)))
