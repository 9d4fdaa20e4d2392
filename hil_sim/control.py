"""Acting on a running twin from outside: a line protocol on a Unix socket.

A person trying the demo, a test or a script shuts, forces or jams a door of a twin that runs in
another process (``locker sim --control PATH``, ``locker demo --serve``) with one line per act:

    close 1/4        a person pushes door 4 of board 1 shut   -> ok 1/4 locked
    force 1/4        someone pries it open without an unlock  -> ok 1/4 open
    jam 1/4          its lock stops releasing; unjam 1/4 undoes it
    put 1/4          an item goes into the open compartment; take 1/4 takes it out
    unplug 2         board 2 loses power; plug 2 gives it back
    state 1/4        what the door is doing now               -> ok 1/4 locked item
    fault SPEC       any ``--faults`` item (``hil_sim.faults``), e.g. fault garbage@1=0.2

Every answer is one line, ``ok ...`` or ``error <why>``; a bad line never stops the server. The
socket is created with mode 0600 (only its owner may act on the doors), and lines are bounded.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hil_sim.faults import Fault, FaultSpecError, parse_faults
from hil_sim.simulator import SimulationError, Simulator

log = logging.getLogger(__name__)

LINE_MAX = 256  # bytes in one command line; a longer one is refused, not buffered
REPLY_TIMEOUT_S = 5.0  # how long a client waits for the twin's answer

_DOOR = re.compile(r"^(\d{1,3})/(\d{1,3})$")
_BOARD = re.compile(r"^(\d{1,3})$")


class ControlError(Exception):
    """An act the twin refused or could not read; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    board: int
    lock: int | None = None


Act = Callable[[Simulator, Target], str]


def _door_state(sim: Simulator, t: Target) -> str:
    assert t.lock is not None
    door = sim.door(t.board, t.lock)
    extras = [word for word, on in (("item", door.item), ("jammed", door.jammed)) if on]
    return " ".join([f"{t.board}/{t.lock}", door.state.value, *extras])


def _close(sim: Simulator, t: Target) -> str:
    assert t.lock is not None
    latched = sim.close_door(t.board, t.lock)
    return _door_state(sim, t) + ("" if latched else " (did not latch)")


def _force(sim: Simulator, t: Target) -> str:
    assert t.lock is not None
    sim.force_open(t.board, t.lock)
    return _door_state(sim, t)


def _jam(on: bool) -> Act:
    def act(sim: Simulator, t: Target) -> str:
        sim.apply(Fault("jammed", t.board, t.lock, 1.0 if on else 0.0))
        return _door_state(sim, t)

    return act


def _item(present: bool) -> Act:
    def act(sim: Simulator, t: Target) -> str:
        assert t.lock is not None
        (sim.put_item if present else sim.take_item)(t.board, t.lock)
        return _door_state(sim, t)

    return act


def _power(on: bool) -> Act:
    def act(sim: Simulator, t: Target) -> str:
        (sim.plug if on else sim.unplug)(t.board)
        return f"{t.board} {'plugged' if on else 'unplugged'}"

    return act


# verb -> (what it acts on, the act)
DOOR_ACTS: dict[str, Act] = {
    "close": _close,
    "force": _force,
    "jam": _jam(True),
    "unjam": _jam(False),
    "put": _item(True),
    "take": _item(False),
    "state": _door_state,
}
BOARD_ACTS: dict[str, Act] = {"unplug": _power(False), "plug": _power(True)}


def execute(sim: Simulator, line: str) -> str:
    """Carry out one command line on ``sim``; the answer line (``ok ...`` or ``error ...``)."""
    try:
        return "ok " + _dispatch(sim, line.strip())
    except (ControlError, SimulationError, FaultSpecError) as exc:
        return f"error {exc}"


def _dispatch(sim: Simulator, line: str) -> str:
    verb, _, rest = line.partition(" ")
    rest = rest.strip()
    if verb == "fault":
        faults = parse_faults(rest)
        if not faults:
            raise ControlError("fault needs a spec, e.g. fault jammed@1/3")
        for fault in faults:
            sim.apply(fault)
        return f"fault {rest}"
    if verb in DOOR_ACTS:
        return DOOR_ACTS[verb](sim, _target(rest, _DOOR, "BOARD/LOCK"))
    if verb in BOARD_ACTS:
        return BOARD_ACTS[verb](sim, _target(rest, _BOARD, "BOARD"))
    known = ", ".join([*DOOR_ACTS, *BOARD_ACTS, "fault"])
    raise ControlError(f"unknown act {verb[:20]!r}; known: {known}")


def _target(text: str, pattern: re.Pattern[str], shape: str) -> Target:
    match = pattern.match(text)
    if match is None:
        raise ControlError(f"expected {shape}, got {text[:20]!r}")
    lock = match.group(2) if pattern.groups == 2 else None
    return Target(int(match.group(1)), None if lock is None else int(lock))


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        while raw := self.rfile.readline(LINE_MAX + 1):
            if len(raw) > LINE_MAX and not raw.endswith(b"\n"):
                self.wfile.write(f"error line longer than {LINE_MAX} bytes\n".encode())
                return  # the rest of it is not worth reading
            answer = execute(self.server.sim, raw.decode("utf-8", "replace"))
            log.info("twin control: %s -> %s", raw.strip()[:40], answer)
            self.wfile.write(answer.encode() + b"\n")


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, sim: Simulator) -> None:
        self.sim = sim
        super().__init__(path, _Handler)


class ControlServer:
    """Serves ``execute`` on a Unix socket at ``path`` (mode 0600) in a thread of its own."""

    def __init__(self, sim: Simulator, path: str | Path) -> None:
        self.sim = sim
        self.path = str(path)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        if os.path.exists(self.path):
            os.unlink(self.path)  # a socket left by a twin that died
        old = os.umask(0o177)
        try:
            self._server = _Server(self.path, self.sim)
        finally:
            os.umask(old)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="twin-control", daemon=True
        )
        self._thread.start()
        return self.path

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if os.path.exists(self.path):
            os.unlink(self.path)

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def act(path: str | Path, line: str, timeout: float = REPLY_TIMEOUT_S) -> str:
    """Send one command line to the twin at ``path``; its answer after ``ok``.

    Raises ``ControlError`` with the twin's reason when it refuses, or when nothing answers."""
    if "\n" in line or len(line.encode()) > LINE_MAX:
        raise ControlError(f"one line of at most {LINE_MAX} bytes, please")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(line.encode() + b"\n")
            with sock.makefile("rb") as reader:
                answer = reader.readline(LINE_MAX * 2).decode().strip()
    except OSError as exc:
        raise ControlError(f"no twin answers at {path}: {exc}") from None
    verdict, _, rest = answer.partition(" ")
    if verdict != "ok":
        raise ControlError(rest or "the twin closed the connection without an answer")
    return rest


__all__ = ["ControlError", "ControlServer", "act", "execute"]
