"""``locker demo --serve``: a whole site kept running on embedded defaults, to click around in.

Maple Court's two banks, each on a twin of its own (a pseudo-terminal, 2 boards x 8 doors) with
its edge daemon and kiosk; the cloud (embedded broker, SQLite, ingest worker, notifier) serving
the managers' console; and a scripted stream of couriers and recipients. It prints the console's
URL with a manager's sign-in (a password made for this run, never a default), each kiosk's URL
and each twin's control socket, on which ``locker twin force 1/3 --control PATH`` forces a door
while you watch the console. It runs until interrupted (or ``--for`` seconds).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import signal
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer
import uvicorn

if TYPE_CHECKING:
    from fastapi import FastAPI

    from controller.daemon import Edge
    from hil_sim import Simulator
    from locker_cli.demo_cloud import DemoCloud

log = logging.getLogger(__name__)

BANKS = ("maple-court-3", "maple-court-4")
MANAGER = "manager@maple-court.example"
COURIERS = {"sf-0042": "sf-express", "jd-0007": "jd"}
SIZES = ("S", "M", "L")
# maple-court-4 has a fridge: doors A07 and A08 (board 1, locks 7 and 8), with a Modbus
# temperature transmitter at address 10 on the locks' bus
FRIDGE_BANK, FRIDGE_SENSOR, FRIDGE_DOORS = "maple-court-4", 10, ((1, 7), (1, 8))
CHILLED_SHARE = 0.25  # of the deposits at a bank with a fridge, those of fresh food
DOOR_SHUT_AFTER_S = 2.0  # a courier or recipient shuts the door this long after it opens
FORCED_FOR_S = 25.0  # a forced door stays open this long: time to see it live in the console
JAMMED_FOR_S = 60.0  # until a technician frees a jammed lock
PICKUP_SHARE = 0.8  # of the messages received, the share whose recipient comes by (the rest
# stay, and become the console's overdue parcels)
SITE_ZONE = ZoneInfo("Asia/Shanghai")  # Maple Court's (locker_cli.demo_cloud)


@dataclass
class DemoBank:
    id: str
    sim: Simulator
    control: str  # the twin's control socket (``locker twin``)
    edge: Edge
    kiosk: str  # the kiosk's URL
    codes: dict[str, str] = field(default_factory=dict)  # courier -> today's code or PIN
    codes_day: date | None = None  # the day of its SF courier's code (the site's local day)


@dataclass
class Site:
    cloud: DemoCloud
    banks: list[DemoBank]
    console: str
    password: str
    rng: random.Random
    told: int = 0  # outbox messages read so far

    def today(self) -> date:
        """The site's local day: couriers' codes change at its midnight (decision 0010)."""
        return datetime.now(SITE_ZONE).date()


def _free_port() -> int:
    from locker_cli.demo_cloud import _free_port as free

    return free()


def _door(label: str) -> tuple[int, int]:
    return "AB".index(label[0]) + 1, int(label[1:])


@contextmanager
def _twins(folder: Path) -> Iterator[list[tuple[Simulator, str]]]:
    from hil_sim import Simulator
    from hil_sim.control import ControlServer
    from hil_sim.sensors import SensorSetup

    with ExitStack() as stack:
        twins = []
        for bank in BANKS:
            sensors = [SensorSetup(FRIDGE_SENSOR, FRIDGE_DOORS)] if bank == FRIDGE_BANK else []
            twin = Simulator("xor8a", [1, 2], 8, close_after=None, sensors=sensors)
            sim = stack.enter_context(twin)
            control = stack.enter_context(ControlServer(sim, folder / f"twin-{bank}.sock"))
            twins.append((sim, control.path))
        yield twins


class _Server(uvicorn.Server):
    """A uvicorn server among several in one loop: the demo handles Ctrl-C itself."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _server(app: FastAPI, port: int) -> uvicorn.Server:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    return _Server(config)


async def _start_bank(
    cloud: DemoCloud, bank: str, twin: tuple[Simulator, str], folder: Path
) -> tuple[DemoBank, uvicorn.Server]:
    from controller.api import create_app
    from controller.config import EdgeConfig
    from controller.daemon import Edge
    from locker_cli.demo_bank import _config

    sim, control = twin
    here = folder / bank
    here.mkdir()
    config = _config(sim.path, here, cloud.broker, cloud.notify_public_key, bank)
    port = _free_port()
    config["api"] = {"host": "127.0.0.1", "port": port}
    if bank == FRIDGE_BANK:
        config |= _fridge()
    edge = Edge(EdgeConfig.model_validate(config))
    await edge.start()
    kiosk = _server(create_app(edge, start_edge=False), port)
    return DemoBank(bank, sim, control, edge, f"http://127.0.0.1:{port}/"), kiosk


def _fridge() -> dict[str, object]:
    """The edge config's chilled zone of the fridge bank, sampled every 10 s, sent every 30 s."""
    labels = [f"{'AB'[board - 1]}{lock:02d}" for board, lock in FRIDGE_DOORS]
    sensor = {"bus": "main", "address": FRIDGE_SENSOR, "profile": "sht20"}
    zone = {"name": "fridge-1", "class": "chilled", "compartments": labels, "sensor": sensor}
    return {"zones": [zone], "cold": {"sample_every_s": 10, "send_every_s": 30}}


async def _couriers(site: Site) -> None:
    """SF Express's courier fetches each bank's code of the day from the cloud; JD's courier was
    added at each bank itself, with a PIN (as ``locker edge couriers add`` does)."""
    from controller import admin
    from controller.store import transaction

    for bank in site.banks:
        await _day_code(site, bank)
        pin = f"{site.rng.randrange(10**6):06d}"
        with transaction(bank.edge.engine) as s:
            now = bank.edge.clock.wall()
            admin.add_courier(
                s, bank.edge.key, courier_id="jd-0007", carrier="jd", pin=pin, ttl_h=72, now=now
            )
        bank.codes["jd-0007"] = pin
    for bank in site.banks:  # SF's verifier reaches the bank with the cloud's commands
        await _until(partial(_knows, bank, "sf-0042"), 30.0)


async def _day_code(site: Site, bank: DemoBank) -> None:
    code = site.cloud.courier_code
    bank.codes["sf-0042"] = await asyncio.to_thread(code, "sf-express", "sf-0042", bank.id)
    bank.codes_day = site.today()


def _knows(bank: DemoBank, courier_id: str) -> bool:
    from controller.store import Courier, transaction

    with transaction(bank.edge.engine) as s:
        return s.get(Courier, courier_id) is not None


async def _until(check: Callable[[], bool], timeout: float) -> bool:
    for _ in range(int(timeout / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


async def _shut_after(bank: DemoBank, label: str, delay: float) -> None:
    """A person shuts the door once it has sprung open (if it ever does: a jammed one won't)."""
    from hil_sim.door import DoorState

    board, lock = _door(label)
    if await _until(lambda: bank.sim.door(board, lock).state is DoorState.OPEN, 5.0):
        await asyncio.sleep(delay)
        bank.sim.close_door(board, lock)


# --- the stream of couriers and recipients ------------------------------------------------


@dataclass
class Stream:
    site: Site
    waiting: list[tuple[DemoBank, str]] = field(default_factory=list)  # (bank, pickup code)
    phones: dict[str, DemoBank] = field(default_factory=dict)  # recipient -> bank
    chores: set[asyncio.Task[None]] = field(default_factory=set)  # doors to shut later
    steps: int = 0

    def later(self, job: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(job)
        self.chores.add(task)
        task.add_done_callback(self.chores.discard)

    async def step(self) -> None:
        self.steps += 1
        await self.read_messages()
        rng = self.site.rng
        if self.steps % 9 == 0:
            self.force_a_door()
        elif self.steps % 13 == 0:
            self.jam_a_door()
        elif self.waiting and rng.random() < 0.5:
            await self.pickup()
        else:
            await self.deposit(rng.choice(self.site.banks))

    async def deposit(self, bank: DemoBank) -> None:
        from controller.config import Size
        from locker_contract.cold import TemperatureClass

        rng = self.site.rng
        courier_id = rng.choice(list(COURIERS))
        if courier_id == "sf-0042" and bank.codes_day != self.site.today():
            await _day_code(self.site, bank)  # the courier fetches the new day's code
        courier = bank.edge.flows.sign_in(courier_id, bank.codes[courier_id])
        phone = f"1380013{rng.randrange(10**4):04d}"
        waybill = f"{courier_id[:2].upper()}{rng.randrange(10**9):09d}"
        chilled = bank.id == FRIDGE_BANK and rng.random() < CHILLED_SHARE
        deposit = await bank.edge.flows.start_deposit(
            courier,
            waybill=waybill,
            phone=phone,
            size=Size(rng.choice(SIZES)),
            consent="phone_call",
            temperature_class=TemperatureClass.CHILLED if chilled else None,
        )
        self.phones[phone] = bank
        what = f"{waybill} (chilled)" if chilled else waybill
        typer.echo(f"{bank.id}: {courier_id} deposits {what} in {deposit.compartment}")
        self.later(_shut_after(bank, str(deposit.compartment), DOOR_SHUT_AFTER_S))

    async def read_messages(self) -> None:
        """The notifier's pass; a recipient told of a parcel may come by to pick it up."""
        messages = await self.site.cloud.deliver()
        for message in messages[self.site.told :]:
            to = message.partition("\n")[0].removeprefix("To: ").strip()
            code = message.partition("取件码")[2].strip(" :：")[:8]
            bank = self.phones.get(to)
            if bank is not None and code.isdigit() and self.site.rng.random() < PICKUP_SHARE:
                self.waiting.append((bank, code))
        self.site.told = len(messages)

    async def pickup(self) -> None:
        bank, code = self.waiting.pop(0)
        doors = await bank.edge.flows.pickup(code)
        for door in doors:
            typer.echo(f"{bank.id}: a recipient opens {door.compartment} ({door.outcome})")
            self.later(_shut_after(bank, str(door.compartment), DOOR_SHUT_AFTER_S))

    def force_a_door(self) -> None:
        bank = self.site.rng.choice(self.site.banks)
        board, lock = self.site.rng.choice(
            [(1, n) for n in range(1, 9)] + [(2, n) for n in range(1, 9)]
        )
        bank.sim.force_open(board, lock)
        typer.echo(f"{bank.id}: someone forces door {'AB'[board - 1]}{lock:02d} open")
        self.later(self.close_forced(bank, board, lock))

    async def close_forced(self, bank: DemoBank, board: int, lock: int) -> None:
        await asyncio.sleep(FORCED_FOR_S)
        bank.sim.close_door(board, lock)
        typer.echo(f"{bank.id}: door {'AB'[board - 1]}{lock:02d} is shut again")

    def jam_a_door(self) -> None:
        from hil_sim.faults import Fault

        bank = self.site.rng.choice(self.site.banks)
        lock = self.site.rng.randrange(1, 9)
        bank.sim.apply(Fault("jammed", 2, lock, 1.0))
        typer.echo(f"{bank.id}: the lock of B{lock:02d} jams")
        self.later(self.repair(bank, lock))

    async def repair(self, bank: DemoBank, lock: int) -> None:
        from hil_sim.faults import Fault

        await asyncio.sleep(JAMMED_FOR_S)
        bank.sim.apply(Fault("jammed", 2, lock, 0.0))
        typer.echo(f"{bank.id}: a technician frees the lock of B{lock:02d}")


async def _stream(stream: Stream, pace: float) -> None:
    from controller.errors import EdgeError

    while True:
        await asyncio.sleep(pace * stream.site.rng.uniform(0.5, 1.5))
        try:
            await stream.step()
        except EdgeError as exc:  # a full bank, a jammed door: the demo says so and goes on
            typer.echo(f"  ({exc.message})")


# --- the site -------------------------------------------------------------------------------


def _chill(cloud: DemoCloud) -> None:
    """The cloud's record of the fridge bank's chilled compartments (as an operator registers
    them), so that chilled parcels are announced and traced there."""
    from sqlmodel import col, update

    from cloud.core.db import transaction
    from cloud.models import Compartment

    labels = [f"{'AB'[board - 1]}{lock:02d}" for board, lock in FRIDGE_DOORS]
    with transaction(cloud.engine) as s:
        s.exec(
            update(Compartment)
            .where(col(Compartment.bank_id) == FRIDGE_BANK, col(Compartment.label).in_(labels))
            .values(temperature_class="chilled", zone="fridge-1")
        )


def _manager(cloud: DemoCloud) -> str:
    """The site's manager, with a password made for this run (shown once, stored hashed), set
    through the one-time link an invitation would mail."""
    from cloud.console.accounts import links
    from cloud.console.accounts.people import NewPerson, create_person, set_password
    from cloud.console.accounts.tables import LinkPurpose, PersonRole
    from cloud.core.db import transaction
    from cloud.models import utcnow

    password = secrets.token_urlsafe(12)
    new = NewPerson(MANAGER, "Maple Court manager", PersonRole.OPERATOR_ADMIN, "estates")
    now = utcnow()
    with transaction(cloud.engine) as s:
        person = create_person(s, new, now)
        token = links.issue(s, cloud.secret_key, person.id, LinkPurpose.INVITE, now)
    set_password(cloud.engine, cloud.secret_key, token, password, now)
    return password


def _announce(site: Site) -> None:
    typer.echo("\nMaple Court is running: two banks on twins, the cloud and its console.\n")
    typer.echo(f"  console:  {site.console}")
    typer.echo(f"  sign in:  {MANAGER}  password {site.password}  (made for this run)")
    for bank in site.banks:
        typer.echo(f"  {bank.id}: kiosk {bank.kiosk}")
        typer.echo(f"      its doors: locker twin force 1/3 --control {bank.control}")
        if bank.id == FRIDGE_BANK:
            fault = f"compressor-failure@{FRIDGE_SENSOR}"
            typer.echo(f"      its fridge: locker twin fault {fault} --control {bank.control}")
    typer.echo("\nCouriers and recipients come and go; Ctrl-C stops it all.\n")


async def _run(folder: Path, port: int, pace: float, seconds: float | None, seed: int) -> None:
    from cloud.main import create_app
    from locker_cli.demo_cloud import demo_cloud

    async with demo_cloud(folder, BANKS) as cloud:
        _chill(cloud)
        with _twins(folder) as twins:
            started = [
                await _start_bank(cloud, b, t, folder) for b, t in zip(BANKS, twins, strict=True)
            ]
            banks = [bank for bank, _ in started]
            console = _server(create_app(cloud.settings), port)
            servers = [console, *(kiosk for _, kiosk in started)]
            site = Site(
                cloud,
                banks,
                f"http://localhost:{port}/console/",
                _manager(cloud),
                random.Random(seed),
            )
            try:
                await _serve(site, servers, pace, seconds)
            finally:
                for bank in banks:
                    await bank.edge.stop()


async def _serve(
    site: Site, servers: list[uvicorn.Server], pace: float, seconds: float | None
) -> None:
    from locker_contract.tasks import cancel_all

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    running = [
        asyncio.create_task(server.serve(), name=f"serve-{i}") for i, server in enumerate(servers)
    ]
    stream = Stream(site)
    try:
        await _couriers(site)
        _announce(site)
        flow = asyncio.create_task(_stream(stream, pace), name="stream")
        stopped = asyncio.create_task(_wait(stop), name="stop")
        waiting: list[asyncio.Task[object]] = [stopped, flow, *running]
        await asyncio.wait(waiting, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        await cancel_all([flow, stopped, *stream.chores])
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*running, return_exceptions=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _wait(event: asyncio.Event) -> None:
    await event.wait()


def run(port: int, pace: float, seconds: float | None, seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="smartlocker-demo-") as tmp:
        asyncio.run(_run(Path(tmp), port, pace, seconds, seed))
