"""No plain pickup code at rest on the bank (decision 0011): sealed for the cloud's notifier when
the bank has its key, shown to the depositing courier from memory when it has none; deleted rows
zeroed in the store."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from controller.config import ConfigError, load_config
from controller.flows import Flows
from controller.handoff import Handoff
from controller.store import Outbox, open_store
from hil_sim import Simulator
from hil_sim.door import DoorState
from locker_contract import sealing
from tests.controller.conftest import FAST_POLICY, Bank, config_text, make_bank
from tests.controller.fakeclock import FakeClock
from tests.waiting import wait_until

PUBLIC, PRIVATE = sealing.new_key_pair()


def store_files(bank: Bank) -> bytes:
    """Every byte the bank's store holds on disk now: the database, its WAL and shared memory."""
    database = bank.edge.config.bank.database
    found = [Path(f"{database}{tail}") for tail in ("", "-wal", "-shm")]
    return b"".join(path.read_bytes() for path in found if path.exists())


def deposit_and_shut(bank: Bank, headers: dict[str, str], waybill: str) -> dict[str, object]:
    body = {"waybill": waybill, "phone": "13800138000", "size": "M", "consent": "phone_call"}
    started = bank.client.post("/api/deposits", json=body, headers=headers).json()
    board, lock = 1 + "AB".index(started["compartment"][0]), int(started["compartment"][1:])
    wait_until(lambda: bank.sim.door(board, lock).state is DoorState.OPEN)
    assert bank.sim.close_door(board, lock)
    url = f"/api/deposits/{started['deposit_id']}"
    wait_until(lambda: bank.client.get(url, headers=headers).json()["state"] == "recorded")
    return dict(bank.client.get(url, headers=headers).json())


def deposited_bodies(bank: Bank) -> list[dict[str, object]]:
    with bank.session() as s:
        query = select(Outbox).where(Outbox.type == "parcel.deposited")
        return [json.loads(r.body) for r in s.exec(query.order_by(col(Outbox.seq)))]


def picked_up(bank: Bank, code: str, label: str) -> None:
    [door] = bank.client.post("/api/pickup", json={"code": code}).json()
    assert (door["compartment"], door["outcome"]) == (label, "opened")


@pytest.fixture
def sealing_bank(tmp_path: Path) -> Iterator[Bank]:
    """A bank with the notifier's key (its broker is not there: the link does not matter)."""
    link = f'\n[link]\nbroker = "mqtt://127.0.0.1:9"\nnotify_public_key = "{PUBLIC}"\n'
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    yield from make_bank(tmp_path, sim, extra=FAST_POLICY + link)


@pytest.mark.pty
def test_with_the_notifier_key_the_code_leaves_sealed_and_only_sealed(
    sealing_bank: Bank,
) -> None:
    headers = sealing_bank.courier("sf-1", "sf-express")
    done = deposit_and_shut(sealing_bank, headers, "SEAL1")
    assert done["pickup_code"] is None  # the recipient is told by the cloud, not the courier
    [body] = deposited_bodies(sealing_bank)
    assert "pickup_code" not in body
    code = sealing.open_code(sealing.private_key(PRIVATE), str(body["sealed_code"]))
    assert code.encode() not in store_files(sealing_bank)
    picked_up(sealing_bank, code, str(done["compartment"]))  # the sealed code is the real one


@pytest.mark.pty
def test_without_a_key_the_courier_is_shown_the_code_and_the_store_keeps_none(
    bank: Bank,
) -> None:
    sf = bank.courier("sf-1", "sf-express")
    done = deposit_and_shut(bank, sf, "HAND1")
    code = done["pickup_code"]
    assert isinstance(code, str)
    assert len(code) == 8
    assert [b["sealed_code"] for b in deposited_bodies(bank)] == [None]
    assert code.encode() not in store_files(bank)
    jd = bank.courier("jd-1", "jd")
    theirs = bank.client.get(f"/api/deposits/{done['deposit_id']}", headers=jd)
    assert theirs.status_code == 404  # another courier sees neither the deposit nor its code
    page_url = f"/kiosk/courier/deposit/{done['deposit_id']}"
    bank.client.cookies.clear()
    assert f"{code[:4]} {code[4:]}" not in bank.client.get(page_url).text  # no session: no code
    signed = bank.client.post("/kiosk/courier", data={"courier_id": "sf-1", "pin": "2468"})
    assert signed.status_code == 200, signed.text
    page = bank.client.get(page_url).text
    assert f"{code[:4]} {code[4:]}" in page  # the kiosk's recorded screen shows it to hand on
    assert "notified" not in page  # and does not pretend the recipient was told
    picked_up(bank, code, str(done["compartment"]))


def test_a_linked_bank_without_the_key_says_so_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "edge.toml"
    base = config_text("/dev/ttyUSB0", tmp_path / "edge.db")
    link = '\n[link]\nbroker = "mqtt://b"\n'
    standalone, sealing_link, keyless_link = "", link + f'notify_public_key = "{PUBLIC}"\n', link
    for table, warned in ((standalone, False), (sealing_link, False), (keyless_link, True)):
        path.write_text(base + table)
        engine = open_store(tmp_path / "edge.db")
        caplog.clear()
        Flows(engine, load_config(path), b"k" * 32)
        engine.dispose()
        assert ("no [link] notify_public_key" in caplog.text) is warned


def test_a_handed_code_is_held_for_its_courier_and_only_for_a_while() -> None:
    clock = FakeClock()
    handoff = Handoff(ttl_s=30.0, clock=clock)
    handoff.hold("d-1", "sf-1", "12345678")
    assert handoff.show("d-1", "sf-1") == "12345678"
    assert handoff.show("d-1", "jd-1") is None
    assert handoff.show("d-2", "sf-1") is None
    clock.advance(29.9)
    assert handoff.show("d-1", "sf-1") == "12345678"  # shown again while the courier looks
    clock.advance(0.1)
    assert handoff.show("d-1", "sf-1") is None
    assert len(handoff) == 0  # forgotten, not only hidden


def test_the_notifier_key_comes_from_the_config_or_a_file_beside_it(tmp_path: Path) -> None:
    base = config_text("/dev/ttyUSB0", Path("edge.db"))
    path = tmp_path / "edge.toml"
    (tmp_path / "notify.pub").write_text(PUBLIC + "\n")
    path.write_text(base + '\n[link]\nbroker = "mqtt://b"\nnotify_public_key_file = "notify.pub"\n')
    link = load_config(path).link
    assert link is not None
    assert link.notify_public_key == PUBLIC
    assert link.notify_public_key_file == tmp_path / "notify.pub"
    assert link.sealing_key() is not None
    path.write_text(base + f'\n[link]\nbroker = "mqtt://b"\nnotify_public_key = "{PUBLIC}"\n')
    link = load_config(path).link
    assert link is not None
    assert bytes(link.sealing_key() or b"") == bytes(sealing.public_key(PUBLIC))
    path.write_text(base + '\n[link]\nbroker = "mqtt://b"\n')
    link = load_config(path).link
    assert link is not None
    assert link.sealing_key() is None


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        ('notify_public_key = "c2hvcnQ="', "notify public key: .*32 bytes"),
        ('notify_public_key_file = "missing.pub"', "notify_public_key_file: .*missing.pub"),
        (f'notify_public_key = "{PUBLIC}"\nnotify_public_key_file = "x.pub"', "not both"),
    ],
)
def test_a_bad_notifier_key_is_refused_at_start(tmp_path: Path, link: str, problem: str) -> None:
    path = tmp_path / "edge.toml"
    base = config_text("/dev/ttyUSB0", Path("edge.db"))
    path.write_text(base + f'\n[link]\nbroker = "mqtt://b"\n{link}\n')
    with pytest.raises(ConfigError, match=problem):
        load_config(path)


def test_deleted_rows_are_zeroed_in_the_store(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "edge.db")
    marker = "ZEROED-AFTER-DELETE-" * 20
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch (body TEXT)")
        conn.exec_driver_sql("INSERT INTO scratch VALUES (?)", (marker,))
    with engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        conn.exec_driver_sql("DELETE FROM scratch")
    engine.dispose()
    check = sqlite3.connect(tmp_path / "edge.db")
    try:  # the WAL folded into the database and emptied
        assert check.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        assert check.execute("SELECT count(*) FROM scratch").fetchone() == (0,)
    finally:
        check.close()
    assert marker.encode() not in (tmp_path / "edge.db").read_bytes()
