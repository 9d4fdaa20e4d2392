"""A real daemon on the twin, served by uvicorn, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from controller.api import create_app, server_config
from controller.config import load_config
from controller.daemon import Edge
from hil_sim import Simulator
from tests.conftest import ci_required
from tests.controller.conftest import FAST_POLICY, config_text

CHROMIUM = os.environ.get("LOCKER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parents[3] / "docs" / "screenshots"
START_TIMEOUT_S = 60.0  # a deadline, not a wait: the server usually starts in well under 1 s


def require_chromium() -> None:
    """The service rule for browsers: fail under CI=true, skip elsewhere."""
    if Path(CHROMIUM).exists():
        return
    reason = f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    if ci_required():
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Kiosk:
    url: str
    sim: Simulator
    edge: Edge
    config_path: Path


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    require_chromium()
    yield from serve_kiosk(tmp_path)


def serve_kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    """The daemon on the twin, served by uvicorn as ``locker edge`` serves it."""
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    path = tmp_path / "edge.toml"
    port = _free_port()
    api = f'\n[api]\nhost = "127.0.0.1"\nport = {port}\n'
    path.write_text(config_text(sim.start(), tmp_path / "edge.db", extra=FAST_POLICY) + api)
    edge = Edge(load_config(path))
    server = uvicorn.Server(server_config(create_app(edge), edge.config.api, log_level="warning"))
    thread = threading.Thread(target=server.run, name="kiosk-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            assert thread.is_alive(), "the kiosk server stopped before it started"
            assert time.monotonic() < deadline, "the kiosk server did not start"
            time.sleep(0.05)
        yield Kiosk(f"http://127.0.0.1:{port}", sim, edge, path)
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
        stopped = not thread.is_alive()
        edge.engine.dispose()
        sim.stop()
        assert stopped, "the kiosk server did not stop"
