"""``locker demo --serve`` as a person tries it: run it, sign in to the console it prints, watch
couriers come, force a door with ``locker twin`` and see the alarm in the console, then Ctrl-C."""

from __future__ import annotations

import http.client
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

CLI = [sys.executable, "-m", "locker_cli.main"]
STARTUP_S = 90.0  # two edges, a broker, a cloud and a console on a busy 2-core machine
SEEN_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first line (seen or to come) that matches ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.seen:
                if found := re.search(pattern, line):
                    return found
            try:
                self.seen.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(  # noqa: B904  (the line never came: nothing to chain)
                    f"no line matching {pattern!r} in:\n" + "\n".join(self.seen)
                )


@pytest.fixture
def demo() -> Iterator[tuple[Demo, int]]:
    port = _free_port()
    args = ["demo", "--serve", "--port", str(port), "--pace", "0.4", "--for", "300", "--seed", "3"]
    with subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, text=True) as process:
        running = Demo(process)
        threading.Thread(target=running.read, daemon=True).start()
        try:
            yield running, port
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            finally:
                process.kill()


@dataclass
class Page:
    status: int
    text: str


class Browser:
    """A plain HTTP client that keeps the console's cookies by hand: they are ``Secure``, which
    browsers honour on ``localhost`` over plain HTTP, and follows no redirect."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def _send(self, method: str, path: str, body: str | None = None) -> Page:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items() if v)}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("localhost", self.port, timeout=30)
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            for header in response.headers.get_all("set-cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name] = rest.partition(";")[0]
            return Page(response.status, response.read().decode())
        finally:
            connection.close()

    def get(self, path: str) -> Page:
        return self._send("GET", path)

    def post(self, path: str, data: dict[str, str]) -> Page:
        return self._send("POST", path, urllib.parse.urlencode(data))


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_a_site_runs_for_people_to_click_around_in(demo: tuple[Demo, int]) -> None:
    running, port = demo
    password = running.until(r"sign in:\s+manager@maple-court\.example\s+password (\S+)", STARTUP_S)
    control = running.until(r"--control (\S+twin-maple-court-3\.sock)", 5)
    running.until(r"Ctrl-C stops it all", 5)
    browser = Browser(port)
    form = browser.get("/console/sign-in")
    assert form.status == 200
    signed = browser.post(
        "/console/sign-in",
        {
            "csrf_token": _csrf(form.text),
            "email": "manager@maple-court.example",
            "password": password.group(1),
            "next": "/console/",
        },
    )
    assert signed.status == 303
    fleet = browser.get("/console/")
    assert fleet.status == 200
    assert "maple-court-3" in fleet.text
    assert "maple-court-4" in fleet.text
    running.until(r"maple-court-\d: \S+ deposits \w+ in [AB]\d\d", SEEN_S)  # couriers come

    before = browser.get("/console/alarms?bank=maple-court-3").text
    label = next(f"A{n:02d}" for n in range(1, 9) if f"· A{n:02d}" not in before)
    forced = subprocess.run(
        [*CLI, "twin", "force", f"1/{int(label[1:])}", "--control", control.group(1)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert forced.returncode == 0, forced.stderr
    deadline = time.monotonic() + SEEN_S
    while f"· {label}" not in browser.get("/console/alarms?bank=maple-court-3").text:
        assert time.monotonic() < deadline, f"no alarm for {label} in the console"
        time.sleep(0.5)

    running.process.send_signal(signal.SIGINT)  # Ctrl-C stops it all, cleanly
    assert running.process.wait(timeout=30) == 0
