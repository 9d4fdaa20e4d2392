"""The edge's side of the link as a person at the kiosk and a monitoring system see it: a bank
whose broker is unreachable keeps working, says so, counts what waits, and catches up."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hil_sim import Simulator
from tests.brokers import Mosquitto, free_port
from tests.controller.conftest import FAST_POLICY, Bank, make_bank

PORT = free_port()


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def cut_off(tmp_path: Path) -> Iterator[Bank]:
    """A bank configured for a broker that is not there (yet)."""
    link = (f'\n[link]\nbroker = "mqtt://127.0.0.1:{PORT}"\nbackoff_base_s = 0.05\n'
            "backoff_cap_s = 0.2\nresync_jitter_s = 0\n")  # fmt: skip
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    yield from make_bank(tmp_path, sim, extra=FAST_POLICY + link)


def test_a_bank_without_its_broker_works_says_so_and_catches_up(
    cut_off: Bank, tmp_path: Path
) -> None:
    cut_off.sim.force_open(1, 2)  # something happens while the network is down
    wait_until(lambda: "door.forced_open" in cut_off.events())
    status = cut_off.client.get("/api/status").json()["link"]
    assert status["configured"]
    assert not status["connected"]
    wait_until(lambda: cut_off.client.get("/api/status").json()["link"]["reconnects"] >= 2)
    home = cut_off.client.get("/kiosk/").text
    assert "离线运行中" in home
    metrics = cut_off.client.get("/metrics").text
    assert "locker_link_connected 0.0" in metrics

    broker = Mosquitto(tmp_path / "mosquitto", port=PORT).start()  # the network returns
    try:
        wait_until(lambda: cut_off.client.get("/api/status").json()["link"]["connected"])
        assert "离线运行中" not in cut_off.client.get("/kiosk/").text
        link = cut_off.client.get("/api/status").json()["link"]
        assert link["unacknowledged"] >= 1  # published, but no cloud has applied it yet
        assert "door.forced_open" in cut_off.events()  # kept until a cloud's ack covers it
    finally:
        broker.stop()


def test_a_standalone_bank_reports_no_link(tmp_path: Path) -> None:
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    for bank in make_bank(tmp_path, sim):
        assert bank.client.get("/api/status").json()["link"] == {
            "configured": False, "connected": False, "acked_seq": 0, "unacknowledged": 0,
            "reconnects": 0,
        }  # fmt: skip
        assert "离线运行中" not in bank.client.get("/kiosk/").text
