"""Acting on a running twin from outside: the line protocol and its Unix socket."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hil_sim import Simulator
from hil_sim.control import LINE_MAX, ControlError, ControlServer, act, execute
from hil_sim.door import DoorState


@pytest.fixture
def sim() -> Simulator:
    return Simulator("xor8a", [1, 2], 8, close_after=None)


@pytest.fixture
def control(sim: Simulator, tmp_path: Path) -> Iterator[str]:
    with ControlServer(sim, tmp_path / "twin.sock") as server:
        yield server.path


def test_force_then_close_moves_the_door(sim: Simulator) -> None:
    assert execute(sim, "force 1/4") == "ok 1/4 open"
    assert sim.door(1, 4).state is DoorState.OPEN
    assert execute(sim, "put 1/4") == "ok 1/4 open item"
    assert execute(sim, "close 1/4\n") == "ok 1/4 locked item"
    assert sim.door(1, 4).state is DoorState.LOCKED


def test_a_jammed_lock_stays_shut_when_pulsed_until_unjammed(sim: Simulator) -> None:
    assert execute(sim, "jam 2/3") == "ok 2/3 locked jammed"
    assert sim.door(2, 3).jammed
    assert execute(sim, "unjam 2/3") == "ok 2/3 locked"
    assert not sim.door(2, 3).jammed


def test_a_door_that_does_not_latch_is_said_so(sim: Simulator) -> None:
    execute(sim, "fault wont-close@1/2")
    execute(sim, "force 1/2")
    assert execute(sim, "close 1/2") == "ok 1/2 open (did not latch)"


def test_boards_lose_and_regain_power(sim: Simulator) -> None:
    assert execute(sim, "unplug 2") == "ok 2 unplugged"
    assert sim.faults(2).unplugged
    assert execute(sim, "plug 2") == "ok 2 plugged"
    assert not sim.faults(2).unplugged


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("melt 1/4", "unknown act 'melt'"),
        ("close 1", "expected BOARD/LOCK"),
        ("close 9/1", "no simulated board 9"),
        ("close 1/99", "board 1 has no lock 99"),
        ("unplug 1/2", "expected BOARD"),
        ("put 1/5", "not open"),
        ("fault", "fault needs a spec"),
        ("fault melted@1", "unknown fault 'melted'"),
        ("", "unknown act ''"),
    ],
)
def test_bad_lines_get_a_reason_and_change_nothing(sim: Simulator, line: str, why: str) -> None:
    answer = execute(sim, line)
    assert answer.startswith("error ")
    assert why in answer
    assert all(door.state is DoorState.LOCKED for door in sim.board(1).doors.values())


def test_a_client_acts_through_the_socket(sim: Simulator, control: str) -> None:
    assert act(control, "force 2/7") == "2/7 open"
    assert sim.door(2, 7).state is DoorState.OPEN
    with pytest.raises(ControlError, match="expected BOARD/LOCK"):
        act(control, "close seven")
    assert act(control, "close 2/7") == "2/7 locked"  # the server outlived the bad line


def test_only_the_owner_may_act(control: str) -> None:
    assert stat.S_IMODE(os.stat(control).st_mode) == 0o600


def test_an_endless_line_is_refused_without_being_buffered(control: str) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(control)
        sock.sendall(b"x" * (LINE_MAX * 4))
        with sock.makefile("rb") as reader:
            answer = reader.readline()
    assert answer.startswith(b"error line longer than")
    with pytest.raises(ControlError, match="one line"):
        act(control, "close 1/1\nforce 1/2")


def test_nothing_answering_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="no twin answers"):
        act(tmp_path / "absent.sock", "state 1/1", timeout=1)


def test_a_stale_socket_file_is_replaced(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "twin.sock"
    path.write_text("left by a twin that died")
    with ControlServer(sim, path):
        assert act(path, "state 1/1") == "1/1 locked"
    assert not path.exists()


def test_locker_twin_acts_on_a_running_locker_sim(tmp_path: Path) -> None:
    """The commands as a person runs them: ``locker sim --control`` in one process, ``locker
    twin`` in another."""
    import subprocess
    import sys
    import time

    path = tmp_path / "twin.sock"
    cli = [sys.executable, "-m", "locker_cli.main"]
    command = [*cli, "sim", "--boards", "1", "--channels", "8", "--close-after", "-1"]
    with subprocess.Popen(
        [*command, "--control", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as twin:
        try:
            assert twin.stdout is not None
            assert twin.stdout.readline().startswith("/dev/")  # the device path: it runs
            for _ in range(100):
                if path.exists():
                    break
                time.sleep(0.05)
            run = [*cli, "twin", "force", "1/3", "--control", str(path)]
            done = subprocess.run(run, capture_output=True, text=True, timeout=60, check=False)
            assert (done.returncode, done.stdout.strip()) == (0, "1/3 open")
            run = [*cli, "twin", "close", "1/9", "--control", str(path)]
            done = subprocess.run(run, capture_output=True, text=True, timeout=60, check=False)
            assert done.returncode == 2
            assert "board 1 has no lock 9" in done.stderr
        finally:
            twin.terminate()
            twin.communicate(timeout=10)
