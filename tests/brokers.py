"""Brokers for link tests: a Mosquitto of the test's own on a free port (persistence on, so that
a test can restart it), and the embedded amqtt."""

from __future__ import annotations

import getpass
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ci_required

STOP_TIMEOUT_S = 30.0  # a loaded CI machine may take seconds to write the persistence file


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_program(name: str) -> str:
    """The path of ``name``: a missing one fails under CI and skips elsewhere."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    reason = f"{name} is not installed (apt-get install {name})"
    if ci_required():
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)


def wait_port(port: int, timeout: float = 30.0, alive: Callable[[], bool] = lambda: True) -> None:
    """Until something listens on ``port``; ``alive`` false (the server died) ends it at once."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise RuntimeError(f"the server for port {port} exited before it listened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Mosquitto:
    """``mosquitto -c`` with a generated config: loopback, persistence in ``folder``."""

    def __init__(
        self, folder: Path, port: int | None = None, extra: str = "", *, anonymous: bool = True
    ) -> None:
        self.binary = require_program("mosquitto")
        self.folder = folder
        self.port = port or free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"user {getpass.getuser()}\n"  # as root it would switch to mosquitto: no tmp access
            f"allow_anonymous {'true' if anonymous else 'false'}\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "max_queued_messages 0\n"  # no limit: a bank offline for days loses nothing
            "max_inflight_messages 0\n"
            "set_tcp_nodelay true\n"
            f"log_dest file {folder}/mosquitto.log\n" + extra
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        """Start and wait until it listens; one that dies first (its port taken, say) fails
        with its log rather than leaving the test talking to whatever holds the port."""
        process = subprocess.Popen([self.binary, "-c", str(self.config)])
        self.process = process
        try:
            wait_port(self.port, alive=lambda: process.poll() is None)
        except (OSError, RuntimeError) as exc:
            self.stop()
            log = self.folder / "mosquitto.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"mosquitto did not start on {self.port}: {exc}\n{tail}") from exc
        return self

    def stop(self) -> None:
        """A clean stop: Mosquitto writes its persistence file on SIGTERM (killed if it has not
        exited after ``STOP_TIMEOUT_S``); the process is always reaped."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()
