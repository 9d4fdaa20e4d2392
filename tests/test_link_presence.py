"""A bank's presence in the cloud follows its link at once: online as soon as anything of it
arrives (even a bank registered after its edge connected, whose retained ``online`` the worker
saw while it knew no such bank), offline as soon as its Last Will arrives."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from cloud.models import Bank, BankCursor
from locker_contract.messages import BankState, BankStatus
from tests.brokers import Mosquitto, require_program
from tests.linkbench import Rig, fast_settings, until

BANK, KNOWN = "maple-court-3", "elm-row-1"
SLOW_S = 3600.0  # the heartbeat timeout: the sweep never decides here


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


def online(engine: Engine) -> bool | None:
    with Session(engine) as s:
        bank = s.get(Bank, BANK)
        return None if bank is None else bank.online


def _state(engine: Engine) -> object:
    with Session(engine) as s:
        return s.get_one(Bank, KNOWN).state


def register(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(Bank(id=BANK, site_id="site", name=BANK))
        s.flush()
        s.add(BankCursor(bank_id=BANK))
        s.commit()


def event(seq: int) -> str:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "bank_id": BANK,
            "seq": seq,
            "time": datetime.now(UTC).isoformat(),
            "event": {"type": "door.forced_open", "compartment": "A01"},
        }
    )


async def test_online_at_a_late_registered_banks_first_message_offline_at_its_will(
    mosquitto: Mosquitto, rig: Rig, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    settings = fast_settings(url).model_copy(update={"heartbeat_timeout_s": SLOW_S})
    engine = rig.database(url, [KNOWN])
    cloud = rig.cloud(engine, settings, mosquitto.url)
    cloud.start()
    v5 = aiomqtt.ProtocolVersion.V5
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, protocol=v5) as edge:
        up = BankStatus(state="online").model_dump_json()
        await edge.publish(f"banks/{BANK}/status", up, qos=1, retain=True)
        # a state of another bank, retained, after it: the worker subscribes to status before
        # state, so once this state is stored the bank's online was heard (and ignored)
        state = BankState(time=datetime.now(UTC), maintenance=False, compartments=[])
        await edge.publish(f"banks/{KNOWN}/state", state.model_dump_json(), qos=1, retain=True)
        await until(lambda: _state(engine) is not None, what="the other bank's state stored")
        register(engine)
        assert online(engine) is False
        await edge.publish(f"banks/{BANK}/events", event(1), qos=1)
        await until(lambda: online(engine) is True, what="online at its first event")

    # an edge that dies without a word: the broker publishes its Last Will
    down = BankStatus(state="offline").model_dump_json()
    will = ["--will-topic", f"banks/{BANK}/status", "--will-payload", down, "--will-retain"]
    sub = await asyncio.create_subprocess_exec(
        require_program("mosquitto_sub"),
        "-p",
        str(mosquitto.port),
        "-V",
        "mqttv5",
        "-i",
        f"edge-{BANK}",
        "-t",
        f"banks/{BANK}/cmd",
        "-q",
        "1",
        *will,
        "--will-qos",
        "1",
    )
    try:
        await until(lambda: f"as edge-{BANK}" in _clients(mosquitto), what="the edge connected")
        sub.send_signal(signal.SIGKILL)
        await sub.wait()
        killed = time.monotonic()
        await until(lambda: online(engine) is False, what="offline at its Last Will")
        assert time.monotonic() - killed < SLOW_S / 100  # at once, not at a heartbeat timeout
    finally:
        if sub.returncode is None:
            sub.kill()
            await sub.wait()
    await cloud.stop()


def _clients(broker: Mosquitto) -> str:
    log = broker.folder / "mosquitto.log"
    return log.read_text(errors="replace") if log.exists() else ""
