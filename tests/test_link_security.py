"""The link behind a Mosquitto as production runs it: no anonymous clients, a password per bank,
and the ACL from ``docs/examples/mosquitto/acl`` confining each bank to its own topics."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from cloud.core.db import transaction
from cloud.models import InboundEvent
from cloud.services.commands import enqueue_command
from locker_contract.commands import MaintenanceSet
from locker_contract.events import DoorForcedOpen
from locker_contract.tasks import cancel_all
from tests.brokers import Mosquitto, require_program
from tests.linkbench import Rig, applied_seq, fast_settings, rows, until

ACL = Path(__file__).parents[1] / "docs" / "examples" / "mosquitto" / "acl"
BANK, OTHER = "maple-court-3", "elm-row-1"


@pytest.fixture
def passwords(tmp_path: Path) -> dict[str, str]:
    return {user: secrets.token_hex(16) for user in ("cloud", BANK, OTHER)}


@pytest.fixture
def guarded(tmp_path: Path, passwords: dict[str, str]) -> Iterator[Mosquitto]:
    tool = require_program("mosquitto_passwd")
    file = tmp_path / "passwords"
    file.touch()
    for user, password in passwords.items():
        subprocess.run([tool, "-b", str(file), user, password], check=True)
    broker = Mosquitto(tmp_path / "mosquitto", anonymous=False,
                       extra=f"password_file {file}\nacl_file {ACL}\n").start()  # fmt: skip
    yield broker
    broker.stop()


def secret_file(folder: Path, name: str, password: str) -> Path:
    path = folder / f"{name}.password"
    path.write_text(password + "\n")
    path.chmod(0o600)
    return path


async def test_each_bank_speaks_only_for_itself(
    guarded: Mosquitto, passwords: dict[str, str], tmp_path: Path, rig: Rig
) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    settings = fast_settings(url).model_copy(update={
        "broker_username": "cloud",
        "broker_password_file": secret_file(tmp_path, "cloud", passwords["cloud"]),
    })  # fmt: skip
    cloud = rig.cloud(rig.database(url, [BANK, OTHER]), settings, guarded.url)
    edge = rig.edge(BANK, guarded.url)
    assert edge.config.link is not None
    spec = edge.config.link.model_copy(
        update={"password_file": secret_file(tmp_path, BANK, passwords[BANK])}
    )
    edge.config = edge.config.model_copy(update={"link": spec})
    cloud.start()
    edge.start()
    edge.emit(DoorForcedOpen(compartment="A01"))
    await until(lambda: applied_seq(cloud.engine, BANK) == 1, what="the bank's own event")

    with pytest.raises(aiomqtt.MqttError):  # no anonymous clients
        async with aiomqtt.Client("127.0.0.1", guarded.port, timeout=5):
            pass
    forged = {"event_id": str(uuid.uuid4()), "bank_id": BANK, "seq": 2,
              "time": datetime.now(UTC).isoformat(),
              "event": {"type": "door.forced_open", "compartment": "A02"}}  # fmt: skip
    async with aiomqtt.Client("127.0.0.1", guarded.port, username=OTHER,
                              password=passwords[OTHER], protocol=aiomqtt.ProtocolVersion.V5,
                              timeout=5) as rogue:  # fmt: skip
        await rogue.subscribe(f"banks/{BANK}/cmd", qos=1)  # refused by the ACL
        await rogue.publish(f"banks/{BANK}/events", json.dumps(forged), qos=1)  # dropped
        eavesdropped: list[str] = []

        async def listen() -> None:
            async for message in rogue.messages:
                eavesdropped.append(str(message.topic))

        listener = asyncio.create_task(listen())
        with transaction(cloud.engine) as s:
            enqueue_command(s, BANK, MaintenanceSet(on=True))
        # maintenance and the storage outage it begins (decision 0017)
        await until(lambda: applied_seq(cloud.engine, BANK) == 3, what="the maintenance events")
        await asyncio.sleep(0.5)  # room for a leak to show; its absence is what is checked
        await cancel_all([listener])
    assert eavesdropped == []  # the other bank never saw this bank's command
    assert cloud.worker is not None
    assert cloud.worker.stats.events == 3  # the forged event never reached the cloud
    stream = [(e.type, e.body.get("compartment")) for e in rows(cloud.engine, InboundEvent)]
    assert sorted(stream, key=str) == [
        ("bank.maintenance", None),
        ("door.forced_open", "A01"),
        ("storage.outage", None),
    ]
    await edge.stop()
    await cloud.stop()
