"""The kiosk app's state: each app built by ``create_app`` keeps its own (the routers are
module-level, the state is not), and the metrics read the store with counts in SQL."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import func, select

from controller.api import create_app
from controller.config import load_config
from controller.daemon import Edge
from controller.store import Outbox
from hil_sim import Simulator
from tests.controller.conftest import Bank, config_text, make_bank
from tests.controller.fakeclock import FakeClock


def _pending_metric(bank: Bank) -> float:
    text = bank.client.get("/metrics").text
    line = next(x for x in text.splitlines() if x.startswith('locker_compartments{state="outbox'))
    return float(line.rsplit(" ", 1)[1])


def test_the_outbox_gauge_is_the_number_of_rows_waiting(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    body = {"waybill": "GAUGE1", "phone": "13800138000", "size": "M", "consent": "phone_call"}
    assert bank.client.post("/api/deposits", json=body, headers=headers).status_code == 201
    with bank.session() as s:
        rows = s.exec(select(func.count()).select_from(Outbox)).one()
    assert rows > 0  # a standalone bank: nothing acknowledges them
    assert _pending_metric(bank) == rows


def test_two_apps_keep_their_own_sessions(tmp_path: Path, bank: Bank) -> None:
    other_sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    other_path = tmp_path / "other"
    other_path.mkdir()
    with contextmanager(make_bank)(other_path, other_sim) as other:
        headers = bank.courier("sf-1", "sf-express")
        assert bank.client.get("/api/returns", headers=headers).status_code == 200
        refused = other.client.get("/api/returns", headers=headers)
        assert refused.status_code == 401, refused.text


def test_courier_sessions_end_on_the_banks_clock(tmp_path: Path) -> None:
    """The app's sessions read the bank's one clock: 30 s of it end a session (FAST_POLICY)."""
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    path = tmp_path / "edge.toml"
    clock = FakeClock(follow=True)
    try:
        path.write_text(config_text(sim.start(), tmp_path / "edge.db"))
        edge = Edge(load_config(path), clock=clock)
        try:
            with TestClient(create_app(edge)) as client:
                headers = Bank(sim, client, edge, path).courier("sf-1", "sf-express")
                assert client.get("/api/returns", headers=headers).status_code == 200
                clock.advance(31)
                ended = client.get("/api/returns", headers=headers)
                assert ended.status_code == 401, ended.text
                assert "session has ended" in ended.json()["detail"]
        finally:
            edge.engine.dispose()
    finally:
        sim.stop()
