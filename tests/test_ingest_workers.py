"""Several ingest workers for real, behind a Mosquitto configured as
``docs/examples/mosquitto/smartlocker.conf`` says (its lines, with this machine's ports and files):
they stay connected together and share the load; a worker killed while it holds a batch loses
none of it (the broker's message is acknowledged only after the commit that stored it)."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import aiomqtt
import psycopg
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col

from cloud.models import Alarm, Bank, InboundEvent
from locker_contract.events import DoorForcedOpen
from locker_contract.messages import Heartbeat
from tests.brokers import Mosquitto, free_port, require_program
from tests.cloud.conftest import postgres_database, secret
from tests.linkbench import CloudSide, Rig, applied_seq, fast_settings, rows, until
from tests.test_link_security import secret_file

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "docs" / "examples" / "mosquitto"
BANKS = ("maple-court-3", "elm-row-1")


class ExampleBroker(Mosquitto):
    """Mosquitto run with the example config's own lines: the banks' listener and the cloud's,
    each with its password file; TLS files, addresses and paths made this machine's."""

    def __init__(self, folder: Path, passwords: dict[str, str]) -> None:
        super().__init__(folder)
        self.bank_port, self.cloud_port = self.port, free_port()
        tool = require_program("mosquitto_passwd")
        files = {"passwords": folder / "passwords", "cloud-passwords": folder / "cloud-passwords"}
        for file in files.values():
            file.touch()
        for user, password in passwords.items():
            file = files["cloud-passwords" if user == "cloud" else "passwords"]
            subprocess.run([tool, "-b", str(file), user, password], check=True)
        lines = [f"user {getpass.getuser()}", f"log_dest file {folder}/mosquitto.log"]
        for line in (EXAMPLES / "smartlocker.conf").read_text().splitlines():
            lines.append(self._here(line, files))
        self.config.write_text("\n".join(lines) + "\n")

    def _here(self, line: str, files: dict[str, Path]) -> str:
        key, _, value = line.partition(" ")
        if key in {"certfile", "keyfile"}:
            return ""  # no TLS on loopback
        if key == "listener":
            port = self.bank_port if value == "8883" else self.cloud_port
            return f"listener {port} 127.0.0.1"
        if key == "password_file":
            return f"password_file {files[Path(value).name]}"
        if key == "acl_file":
            return f"acl_file {EXAMPLES / 'acl'}"
        if key == "persistence_location":
            return f"persistence_location {self.folder}/"
        return line

    @property
    def cloud_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.cloud_port}"


@pytest.fixture
def passwords() -> dict[str, str]:
    return {user: secrets.token_hex(16) for user in ("cloud", *BANKS)}


@pytest.fixture
def example(tmp_path: Path, passwords: dict[str, str]) -> Iterator[ExampleBroker]:
    broker = ExampleBroker(tmp_path / "mosquitto", passwords)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres_database()


def forced(n: int, first: int) -> list[dict[str, str]]:
    return [
        {"type": "door.forced_open", "compartment": f"{chr(65 + i // 100)}{i % 100:02d}"}
        for i in range(first, first + n)
    ]


async def test_two_workers_stay_connected_together_and_share_the_load(
    example: ExampleBroker, passwords: dict[str, str], postgres_url: str, rig: Rig, tmp_path: Path
) -> None:
    engine = rig.database(postgres_url, list(BANKS))
    settings = fast_settings(postgres_url).model_copy(
        update={
            "broker_username": "cloud",
            "broker_password_file": secret_file(tmp_path, "cloud", passwords["cloud"]),
        }
    )
    workers = [rig.cloud(engine, settings, example.cloud_url, name=n) for n in "12"]
    edges = []
    for bank in BANKS:
        edge = rig.edge(bank, example.url)
        assert edge.config.link is not None
        password = secret_file(tmp_path, bank, passwords[bank])
        spec = edge.config.link.model_copy(update={"password_file": password})
        edge.config = edge.config.model_copy(update={"link": spec})
        edges.append(edge)
    for side in rig.sides:
        side.start()

    def busy(cloud: CloudSide) -> bool:
        return cloud.worker is not None and cloud.worker.stats.events > 0

    emitted = 0
    while emitted < 100 or not all(busy(w) for w in workers):
        assert emitted < 2000, "the shared subscription never split the load"
        for edge in edges:
            edge.emit(*_events(20, emitted))
        emitted += 20
        for bank in BANKS:
            await until(partial(lambda b, n: applied_seq(engine, b) == n, bank, emitted), what=bank)
    for cloud in workers:
        assert cloud.worker is not None
        assert cloud.worker.stats.connected
        assert cloud.worker.stats.reconnects == 0  # neither took the other's session
    assert len(rows(engine, InboundEvent)) == 2 * emitted
    assert len(rows(engine, Alarm, col(Alarm.kind) == "door.forced_open")) == 2 * emitted


def _events(n: int, first: int) -> list[DoorForcedOpen]:
    return [DoorForcedOpen.model_validate(event) for event in forced(n, first)]


def _worker(postgres_url: str, broker: str, name: str, folder: Path) -> subprocess.Popen[bytes]:
    """``locker cloud ingest`` in a process of its own, as deployed."""
    env = os.environ | {
        "LOCKER_CLOUD_DATABASE_URL": postgres_url,
        "LOCKER_CLOUD_SECRET_KEY": secret(),
        "LOCKER_CLOUD_BROKER_URL": broker,
        "PYTHONPATH": str(ROOT),  # this tree's code, whatever is installed
    }
    locker = Path(sys.executable).parent / "locker"
    with (folder / f"worker-{name}.log").open("ab") as log:
        return subprocess.Popen(
            [str(locker), "cloud", "ingest", "--name", name],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def _until_subscribed(port: int, engine: Engine, bank: str) -> None:
    """The bank's heartbeats, until one reaches the database through the worker."""
    beat = Heartbeat(
        edge_time=datetime.now(UTC),
        last_seq=0,
        acked_seq=0,
        uptime_s=1.0,
        boards_online=1,
        boards_total=1,
    ).model_dump_json()

    def heard() -> bool:
        with Session(engine) as s:
            return s.get_one(Bank, bank).last_heartbeat_at is not None

    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5) as raw:
        for _ in range(600):
            await raw.publish(f"banks/{bank}/heartbeat", beat, qos=1)
            with contextlib.suppress(AssertionError):
                await until(heard, timeout=0.5, what="a heartbeat stored")
                return
    raise AssertionError("the worker never stored a heartbeat")


def _waiting_on_a_lock(postgres_url: str) -> bool:
    with psycopg.connect(postgres_url, autocommit=True) as db:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        row = db.execute(query).fetchone()
        return row is not None and int(row[0]) > 0


async def test_a_worker_killed_holding_a_batch_loses_none_of_it(
    postgres_url: str, rig: Rig, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    bank, count = BANKS[0], 40
    engine = rig.database(postgres_url, [bank])
    worker = _worker(postgres_url, broker.url, "k", tmp_path)
    try:
        await _until_subscribed(broker.port, engine, bank)
        # the bank's cursor locked: the worker's batch waits in its transaction, unacknowledged
        with psycopg.connect(postgres_url) as holder:
            holder.execute("SELECT 1 FROM bankcursor WHERE bank_id = %s FOR UPDATE", (bank,))
            async with aiomqtt.Client(
                "127.0.0.1", broker.port, identifier="raw-bank", protocol=aiomqtt.ProtocolVersion.V5
            ) as raw:
                for seq, event in enumerate(forced(count, 0), start=1):
                    envelope = {
                        "event_id": str(uuid.uuid4()),
                        "bank_id": bank,
                        "seq": seq,
                        "time": datetime.now(UTC).isoformat(),
                        "event": event,
                    }
                    await raw.publish(f"banks/{bank}/events", json.dumps(envelope), qos=1)
            await until(partial(_waiting_on_a_lock, postgres_url), what="a batch held")
            worker.send_signal(signal.SIGKILL)  # dies holding it: nothing of it was committed
            worker.wait()
            holder.rollback()
        assert applied_seq(engine, bank) == 0
        # the same worker comes back: the broker delivers again what was never acknowledged
        worker = _worker(postgres_url, broker.url, "k", tmp_path)
        await until(lambda: applied_seq(engine, bank) == count, what="every event applied")
        events = rows(engine, InboundEvent, col(InboundEvent.bank_id) == bank)
        assert sorted(e.seq for e in events) == list(range(1, count + 1))
        assert all(e.applied for e in events)
        assert len(rows(engine, Alarm, col(Alarm.kind) == "door.forced_open")) == count
    finally:
        worker.terminate()
        worker.wait()
        broker.stop()
