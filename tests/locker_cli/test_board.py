"""``locker board`` against the twin over a pseudo-terminal, for every fault the twin offers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hil_sim import Simulator
from hil_sim.door import DoorState
from tests.locker_cli.conftest import Locker

pytestmark = pytest.mark.pty

FAST = ("--timeout", "0.15")


def open_args(path: str, board: int, lock: int, *extra: str) -> tuple[str, ...]:
    """Arguments of `locker board open` for an 8A/80 board on ``path``."""
    return ("board", "open", "--port", path, "--protocol", "xor8a", "--board", str(board),
            "--lock", str(lock), *extra)  # fmt: skip


def test_scan_prints_only_the_boards(locker: Locker) -> None:
    with Simulator("xor8a", [2, 5]) as sim:
        done = locker("board", "scan", "--port", sim.path, "--protocol", "xor8a", *FAST)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["board 2", "board 5"]
    assert "probing 31" in done.stderr


def test_scan_kerong_from_zero(locker: Locker) -> None:
    with Simulator("kerong-cu16", [0, 3]) as sim:
        done = locker("board", "scan", "--port", sim.path, "--protocol", "kerong-cu16", *FAST)
    assert done.stdout.splitlines() == ["board 0", "board 3"]


def test_scan_of_an_empty_bus_fails_with_a_reason(locker: Locker) -> None:
    with Simulator("xor8a", [1], faults="unplugged") as sim:
        done = locker(
            "board", "scan", "--port", sim.path, "--protocol", "xor8a", "--timeout", "0.02"
        )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1] == "error: no board answered"


def test_status_lines_follow_the_reply(locker: Locker) -> None:
    with Simulator("xor8a", [1], channels=8, status_bytes=3, close_after=None) as sim:
        sim.force_open(1, 2)
        done = locker("board", "status", "--port", sim.path, "--protocol", "xor8a", "--board", "1")
        narrowed = locker(
            "board", "status", "--port", sim.path, "--protocol", "xor8a", "--board", "1",
            "--channels", "8",
        )  # fmt: skip
    lines = done.stdout.splitlines()
    assert len(lines) == 24  # three status bytes carry 24 channels
    assert lines[:3] == ["lock 1: closed", "lock 2: open", "lock 3: closed"]
    assert len(narrowed.stdout.splitlines()) == 8


def test_status_with_items_and_json(locker: Locker) -> None:
    with Simulator("kerong-cu16", [1], close_after=None) as sim:
        sim.force_open(1, 3)
        sim.put_item(1, 3)
        args = ("board", "status", "--port", sim.path, "--protocol", "kerong-cu16", "--board", "1")
        done = locker(*args)
        as_json = locker(*args, "--json")
    lines = done.stdout.splitlines()
    assert lines[0] == "lock 1: closed, item: empty"
    assert lines[2] == "lock 3: open, item: present"
    assert len(lines) == 16
    parsed = json.loads(as_json.stdout)
    assert parsed["locks"][2] == {"lock": 3, "state": "open", "item": True}


def test_open_says_the_door_was_seen_open(locker: Locker) -> None:
    with Simulator("xor8a", [1], close_after=None) as sim:
        done = locker(*open_args(sim.path, 1, 7))
        assert sim.door(1, 7).state is not DoorState.LOCKED
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "board 1 lock 7: opened (seen open after the pulse)"


OPEN_FAULTS = [
    ("jammed@1/7", 1, "never seen open"),
    ("no-reply", 1, "no valid reply"),
    ("unplugged", 1, "no valid reply"),
    ("slow=2", 1, "no valid reply"),
    ("garbage=1", 0, "opened"),
    ("bit-errors=0.002", 0, "opened"),
]


@pytest.mark.parametrize(("faults", "code", "says"), OPEN_FAULTS)
def test_open_under_faults(locker: Locker, faults: str, code: int, says: str) -> None:
    with Simulator("xor8a", [1], faults=faults, seed=3, close_after=None) as sim:
        done = locker(*open_args(sim.path, 1, 7, *FAST))
        door_open = sim.door(1, 7).state is not DoorState.LOCKED
    assert done.returncode == code, done.stderr
    assert says in (done.stdout + done.stderr)
    assert len((done.stdout + done.stderr).strip().splitlines()) == 1  # one-line reason
    assert door_open == (code == 0)  # never a false "opened"


def test_bad_arguments_exit_2_with_a_reason(locker: Locker) -> None:
    with Simulator("xor8a", [1]) as sim:
        done = locker(*open_args(sim.path, 40, 1))
    assert done.returncode == 2
    assert done.stderr.strip() == "error: 8A/80 board address must be 1-31, got 40"


def test_missing_port_is_a_one_line_error(locker: Locker) -> None:
    done = locker("board", "scan", "--port", "/dev/serial/by-id/nothing", "--protocol", "xor8a")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: /dev/serial/by-id/nothing: cannot open")


def test_board_commands_do_not_import_the_cloud() -> None:
    code = (
        "import sys; from locker_cli.main import app; from typer.testing import CliRunner;"
        "CliRunner().invoke(app, ['board', 'scan', '--help']);"
        "bad = {m for m in sys.modules if m.split('.')[0] in {'fastapi', 'sqlmodel', 'cloud'}};"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sim_prints_its_path_and_survives_a_killed_client(locker: Locker) -> None:
    sim = subprocess.Popen(
        [sys.executable, "-m", "locker_cli.main", "sim", "--boards", "1,2", "--channels", "12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        path = sim.stdout.readline().strip()
        assert path.startswith("/dev/")
        reader = subprocess.Popen(
            [sys.executable, "-c", f"import serial; s = serial.Serial({path!r}); s.read(10**6)"]
        )
        reader.kill()  # kill -9 of a client holding the port
        reader.wait()
        done = locker("board", "scan", "--port", path, "--protocol", "xor8a", *FAST)
        assert done.stdout.splitlines() == ["board 1", "board 2"]
    finally:
        sim.terminate()
        _, err = sim.communicate(timeout=10)
    assert sim.returncode == 0
    assert "stopped after" in err


def test_sim_refuses_a_bad_fault_spec(locker: Locker) -> None:
    done = locker("sim", "--faults", "melted@1")
    assert done.returncode == 2
    assert "unknown fault 'melted'" in done.stderr


def test_demo_runs(locker: Locker) -> None:
    done = locker("demo")
    assert done.returncode == 0, done.stderr
    assert "board 2 lock 4: pulse sent but the lock was never seen open" in done.stdout
    assert "board 1 lock 1: opened" in done.stdout
    assert "-> 8A 01 01 11 9B" in done.stdout
    assert "recipient enters the code: door A03 opened, door A04 opened" in done.stdout
    assert "parcel.picked_up" in done.stdout
    assert "door.forced_open         B07" in done.stdout
    assert "the cloud received the bank's events over MQTT, each once, in order" in done.stdout
    assert "bank answers: applied; kiosk in maintenance: True" in done.stdout


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")
def test_help_lists_the_commands(locker: Locker) -> None:
    done = locker("--help")
    for name in ("board", "sim", "demo"):
        assert name in done.stdout
