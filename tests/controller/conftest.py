"""The edge daemon against the twin: a real pty, a real store, the real API over TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from controller.api import create_app
from controller.config import load_config
from controller.daemon import Edge
from controller.store import event_types, transaction
from hil_sim import Simulator

# Two 8-lock 8A/80 boards: A01-A08 on board 1, B01-B08 on board 2. Sizes rise along each board.
SIZES = ["S", "S", "M", "M", "L", "L", "XL", "XL"]
FAST_POLICY = """
[policy]
poll_interval_s = 0.05
left_open_after_s = 1.0
unlock_confirm_s = 1.0
session_timeout_s = 30
board_reprobe_s = 0.5
"""


def config_text(port: str, db: Path, protocol: str = "xor8a", extra: str = FAST_POLICY) -> str:
    boards = (1, 2) if protocol == "xor8a" else (0, 1)
    lines = [
        f'[bank]\nid = "maple-court-3"\nname = "Maple Court, block 3"\ndatabase = "{db}"',
        f'[[bus]]\nname = "main"\nport = "{port}"\nprotocol = "{protocol}"',
    ]
    lines += [
        f"[[bus.board]]\naddress = {b}\nchannels = {8 if protocol == 'xor8a' else 16}"
        for b in boards
    ]
    for row, board in zip("AB", boards, strict=True):
        for n, size in enumerate(SIZES, start=1):
            low = "true" if n <= 2 else "false"
            lines.append(
                f'[[compartment]]\nlabel = "{row}{n:02d}"\nbus = "main"\nboard = {board}\n'
                f'channel = {n}\nsize = "{size}"\nlow = {low}'
            )
    return "\n\n".join(lines) + "\n" + extra


@dataclass
class Bank:
    sim: Simulator
    client: TestClient
    edge: Edge
    config_path: Path

    def events(self) -> list[str]:
        with transaction(self.edge.engine) as s:
            return event_types(s)

    def session(self) -> Session:
        return Session(self.edge.engine)

    def courier(self, courier_id: str, carrier: str, pin: str = "2468") -> dict[str, str]:
        from typer.testing import CliRunner

        from locker_cli.main import app

        done = CliRunner().invoke(
            app,
            ["edge", "--config", str(self.config_path), "couriers", "add", "--id", courier_id,
             "--carrier", carrier, "--pin", pin],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        signed = self.client.post(
            "/api/courier/sign-in", json={"courier_id": courier_id, "pin": pin}
        )
        assert signed.status_code == 200, signed.text
        return {"Authorization": f"Bearer {signed.json()['token']}"}


def make_bank(
    tmp_path: Path, sim: Simulator, protocol: str = "xor8a", extra: str = FAST_POLICY
) -> Iterator[Bank]:
    """The bank on ``sim``; the twin stopped and the store closed even when a test fails (the
    app's shutdown closes the store too: disposing twice is harmless)."""
    path = tmp_path / "edge.toml"
    try:
        path.write_text(config_text(sim.start(), tmp_path / "edge.db", protocol, extra))
        edge = Edge(load_config(path))
        try:
            with TestClient(create_app(edge)) as client:
                yield Bank(sim, client, edge, path)
        finally:
            edge.engine.dispose()
    finally:
        sim.stop()


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    sim = Simulator("xor8a", [1, 2], 8, faults="jammed@1/4", close_after=None)
    yield from make_bank(tmp_path, sim)


@pytest.fixture
def kerong_bank(tmp_path: Path) -> Iterator[Bank]:
    sim = Simulator("kerong-cu16", [0, 1], close_after=None)
    yield from make_bank(tmp_path, sim, "kerong-cu16")
