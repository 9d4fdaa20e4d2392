"""The whole system once: the cloud (API in process, ingest worker as its own process), a
Mosquitto of the test's own, and two banks on the twin, each an edge daemon with its link.

A carrier accepts its shares of both banks and reserves at one; the reservation reaches the
bank; a courier signs in with the day's code for that bank fetched from the cloud (its verifier
pushed), and deposits the announced parcel through the kiosk API; the
recipient picks up with the code; a door is forced at the other bank. The cloud's records and
alarms show each step once, in order.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from cloud.models import Alarm, Bank, CommandAck, InboundEvent, Notification, ParcelEvent
from cloud.services.notices import open_notification
from controller.api import create_app
from controller.config import load_config
from controller.daemon import Edge
from controller.store import Hold, Outbox, event_types, transaction
from hil_sim import Simulator
from hil_sim.door import DoorState
from locker_contract import sealing
from tests.brokers import Mosquitto
from tests.cloud.conftest import Cloud, build_cloud
from tests.controller.conftest import FAST_POLICY, SIZES, config_text
from tests.linkbench import FAST_LINK
from tests.waiting import wait_until

EAST, WEST = "east-1", "west-1"
NOTIFY_PUBLIC, NOTIFY_PRIVATE = sealing.new_key_pair()  # the cloud notifier's key pair


@dataclass
class Site:
    sim: Simulator
    edge: Edge
    client: TestClient

    def events(self) -> list[str]:
        with transaction(self.edge.engine) as s:
            return event_types(s)

    def door_open(self, board: int, lock: int) -> bool:
        return self.sim.door(board, lock).state is DoorState.OPEN


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


@pytest.fixture
def cloud(database_url: str, mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Cloud]:
    for made in build_cloud(database_url):
        env = os.environ | {
            "LOCKER_CLOUD_DATABASE_URL": database_url,
            "LOCKER_CLOUD_SECRET_KEY": made.settings.secret_key,
            "LOCKER_CLOUD_BROKER_URL": mosquitto.url,
            "LOCKER_CLOUD_COMMAND_POLL_S": "0.1",
            "LOCKER_CLOUD_COMMAND_RETRY_S": "2",
        }
        log = (tmp_path / "ingest.log").open("wb")
        worker = subprocess.Popen([sys.executable, "-m", "locker_cli.main", "cloud", "ingest"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            yield made
        finally:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            log.close()


def start_site(tmp_path: Path, bank_id: str, broker: str) -> Iterator[Site]:
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    folder = tmp_path / bank_id
    folder.mkdir()
    text = config_text(sim.start(), folder / "edge.db", extra=FAST_POLICY)
    link = "\n".join(f"{k} = {v}" for k, v in FAST_LINK.items())
    path = folder / "edge.toml"
    path.write_text(text.replace("maple-court-3", bank_id) + f'\n[link]\nbroker = "{broker}"\n'
                    + f'notify_public_key = "{NOTIFY_PUBLIC}"\n' + link + "\n")  # fmt: skip
    edge = Edge(load_config(path))
    with TestClient(create_app(edge)) as client:
        yield Site(sim, edge, client)
    sim.stop()


@pytest.fixture
def east(tmp_path: Path, mosquitto: Mosquitto, cloud: Cloud) -> Iterator[Site]:
    yield from start_site(tmp_path, EAST, mosquitto.url)


@pytest.fixture
def west(tmp_path: Path, mosquitto: Mosquitto, cloud: Cloud) -> Iterator[Site]:
    yield from start_site(tmp_path, WEST, mosquitto.url)


def set_up_fleet(cloud: Cloud) -> None:
    """An operator's site with both banks (the twin's 16 compartments), and carrier sf."""
    made = cloud.ok("POST", "/api/v1/operators", cloud.admin, json={"name": "Estates Ltd"})
    cloud.keys["operator"] = {"Authorization": f"Bearer {made['api_key']}"}
    site = cloud.ok("POST", "/api/v1/sites", cloud.keys["operator"],
                    json={"name": "Maple Court", "lat": 31.2, "lon": 121.4})  # fmt: skip
    compartments = [
        {"label": f"{row}{n:02d}", "size": size, "low": n <= 2}
        for row in "AB"
        for n, size in enumerate(SIZES, start=1)
    ]
    for bank_id in (EAST, WEST):
        cloud.ok("POST", "/api/v1/banks", cloud.keys["operator"], json={
            "id": bank_id, "site_id": site["id"], "name": bank_id, "compartments": compartments,
        })  # fmt: skip
    carrier = cloud.ok("POST", "/api/v1/carriers", cloud.admin, json={"id": "sf", "name": "SF"})
    cloud.keys["sf"] = {"Authorization": f"Bearer {carrier['api_key']}"}
    for bank_id in (EAST, WEST):  # the operator offers, the carrier accepts (decision 0010)
        cloud.ok("PUT", f"/api/v1/banks/{bank_id}/policies/sf", cloud.keys["operator"],
                 json={"guaranteed": 2, "ceiling": 8})  # fmt: skip
        cloud.ok("POST", f"/api/v1/shares/{bank_id}/accept", cloud.keys["sf"])


def drained(site: Site) -> bool:
    with transaction(site.edge.engine) as s:
        return s.exec(select(Outbox)).first() is None


def code_at(cloud: Cloud, bank_id: str) -> str:
    """The day's code of carrier sf's one courier at ``bank_id``, from the carriers' API."""
    [day] = cloud.ok("GET", f"/api/v1/banks/{bank_id}/courier-codes", cloud.keys["sf"])
    return str(day["code"])


def sign_in_with_the_days_code(cloud: Cloud, site: Site, courier_id: str) -> dict[str, str]:
    """Once the code's verifier has reached the bank with the commands; another bank's code for
    the same day opens nothing here."""
    today = {"courier_id": courier_id, "pin": code_at(cloud, EAST)}
    wait_until(lambda: site.client.post("/api/courier/sign-in", json=today).status_code == 200,
               what="the courier's code at the bank")  # fmt: skip
    elsewhere = {"courier_id": courier_id, "pin": code_at(cloud, WEST)}
    assert site.client.post("/api/courier/sign-in", json=elsewhere).status_code == 401
    signed = site.client.post("/api/courier/sign-in", json=today)
    return {"Authorization": f"Bearer {signed.json()['token']}"}


def history(cloud: Cloud, waybill: str) -> list[str]:
    answer = cloud.ok("GET", f"/api/v1/parcels/{waybill}", cloud.keys["sf"])
    return [e["status"] for e in answer["history"]]


def test_reserve_deposit_pickup_and_a_forced_door_across_two_banks(
    cloud: Cloud, east: Site, west: Site
) -> None:
    set_up_fleet(cloud)
    cloud.ok("POST", "/api/v1/couriers", cloud.keys["sf"], json={"id": "sf-1", "name": "Wang"})
    cloud.ok("POST", "/api/v1/parcels", cloud.keys["sf"], json={
        "waybill": "SF100", "bank_id": EAST, "recipient_phone": "13800138000",
        "consent": "sms_reply",
    })  # fmt: skip
    reservation = cloud.ok("POST", "/api/v1/reservations", cloud.keys["sf"],
                           json={"bank_id": EAST, "size": "M", "kind": "hard"})  # fmt: skip

    # the reservation reaches the bank, as a hold on the compartment the cloud chose
    def held() -> set[str]:
        with transaction(east.edge.engine) as s:
            return {h.reservation_id for h in s.exec(select(Hold))}

    wait_until(lambda: reservation["id"] in held(), what="the hold at the bank")
    with transaction(east.edge.engine) as s:
        label = s.get_one(Hold, reservation["id"]).compartment

    # the courier signs in with the day's code for this bank, fetched from the cloud
    courier = sign_in_with_the_days_code(cloud, east, "sf-1")
    started = east.client.post("/api/deposits", headers=courier,
                               json={"waybill": "SF100", "size": "M"})  # fmt: skip
    assert started.status_code == 201, started.text
    assert started.json()["compartment"] == label  # its own reservation, first
    board, lock = 1 + "AB".index(label[0]), int(label[1:])
    wait_until(lambda: east.door_open(board, lock), what="the deposit door open")
    assert east.sim.close_door(board, lock)
    wait_until(lambda: "parcel.deposited" in east.events(), what="the deposit recorded")
    wait_until(lambda: history(cloud, "SF100") == ["announced", "in_locker"], what="in_locker")
    answer = cloud.ok("GET", f"/api/v1/reservations/{reservation['id']}", cloud.keys["sf"])
    assert answer["state"] == "fulfilled"

    # the recipient picks up with the code the bank sent
    with Session(cloud.engine) as s:  # the SMS the recipient is sent, with the code
        notice = s.exec(select(Notification).where(Notification.waybill == "SF100")).one()
    message = open_notification(notice, sealing.private_key(NOTIFY_PRIVATE))
    code = message.rpartition("Pickup code: ")[2]
    assert east.client.post("/api/pickup", json={"code": code}).status_code == 200
    wait_until(lambda: east.door_open(board, lock), what="the pickup door open")
    assert east.sim.close_door(board, lock)
    wait_until(lambda: history(cloud, "SF100")[-1] == "picked_up", what="picked up")

    # a door forced at the other bank raises one alarm there
    west.sim.force_open(2, 5)
    wait_until(lambda: _alarms(cloud, WEST, "door.forced_open") == ["B05"], what="the alarm")

    # each step once, in order; both banks online; every command answered
    # both outboxes empty: every event applied and acknowledged, so no copy can come any more
    wait_until(lambda: drained(east) and drained(west), what="both banks' events acknowledged")
    assert history(cloud, "SF100") == ["announced", "in_locker", "picked_up"]
    assert _alarms(cloud, WEST, "door.forced_open") == ["B05"]
    assert _alarms(cloud, EAST, "door.forced_open") == []
    with Session(cloud.engine) as s:
        stream = list(s.exec(select(InboundEvent).where(
            InboundEvent.bank_id == EAST).order_by(col(InboundEvent.seq))))  # fmt: skip
        assert [e.seq for e in stream] == list(range(1, len(stream) + 1))  # whole, no gap
        assert all(e.applied for e in stream)
        assert [e.type for e in stream] == [
            "door.unlock_requested", "door.opened", "door.closed", "parcel.deposited",
            "door.unlock_requested", "door.opened", "door.closed", "parcel.picked_up",
        ]  # fmt: skip
        assert all(s.get_one(Bank, b).online for b in (EAST, WEST))
        events = list(s.exec(select(ParcelEvent)))
        assert len(events) == 3
        acks = list(s.exec(select(CommandAck)))
        assert acks
        assert {a.outcome for a in acks} == {"applied"}


def _alarms(cloud: Cloud, bank_id: str, kind: str) -> list[str]:
    with Session(cloud.engine) as s:
        query = select(Alarm).where(Alarm.bank_id == bank_id, Alarm.kind == kind)
        return [a.compartment for a in s.exec(query)]
