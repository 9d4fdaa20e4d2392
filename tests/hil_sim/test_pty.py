"""The twin on a real pseudo-terminal: raw bytes, pacing, timestamps, reconnection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import serial

from firmware_bridge.timing import char_time
from hil_sim import Simulator
from hil_sim.simulator import SimulationError

pytestmark = pytest.mark.pty


def _exchange(path: str, request: bytes, reply_len: int, baud: int) -> tuple[bytes, float]:
    with serial.Serial(path, baud, timeout=1) as port:
        port.reset_input_buffer()
        start = time.perf_counter()
        port.write(request)
        reply = port.read(reply_len)
        return reply, time.perf_counter() - start


def test_control_bytes_pass_untouched() -> None:
    # 0x03 (ETX, ^C), 0x11 (XON) and 0x13 (XOFF) would be eaten by a cooked pty.
    with Simulator("kerong-cu16", [1]) as sim:
        reply, _ = _exchange(sim.path, bytes.fromhex("02 10 30 03 45"), 9, 19200)
    assert reply[:3] == bytes.fromhex("02 10 35")
    assert reply[-2] == 0x03


def test_replies_are_paced_at_the_baud_rate() -> None:
    with Simulator("xor8a", [1], channels=50, baud=9600) as sim:
        reply, elapsed = _exchange(sim.path, bytes.fromhex("80 01 00 33 B2"), 11, 9600)
    assert len(reply) == 11
    # request + reply on the wire, at the very least
    assert elapsed >= 16 * char_time(9600)


def test_frames_are_stamped_with_their_last_byte() -> None:
    with Simulator("xor8a", [1]) as sim:
        before = time.perf_counter()
        _exchange(sim.path, bytes.fromhex("8A 01 01 11 9B"), 5, 9600)
        [frame] = sim.frames
    assert frame.data == bytes.fromhex("8A 01 01 11 9B")
    assert frame.at >= before + 5 * char_time(9600)


def test_a_killed_client_does_not_take_the_device_away() -> None:
    with Simulator("xor8a", [1]) as sim:
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import serial,time; s = serial.Serial({sim.path!r}); print('open', flush=True);"
                " time.sleep(60)",
            ],
            stdout=subprocess.PIPE,
        )
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"open\n"  # it holds the device: now kill it
        holder.stdout.close()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        reply, _ = _exchange(sim.path, bytes.fromhex("80 01 01 33 B3"), 5, 9600)
    assert reply == bytes.fromhex("80 01 01 11 91")


def test_scaled_time_runs_a_day_in_seconds() -> None:
    sim = Simulator("xor8a", [1], scale=86_400 / 2, close_after=3600)
    sim.force_open(1, 1)
    began = time.monotonic()
    while not sim.door(1, 1).latch_closed:  # the person shuts it an hour later: 83 ms here
        assert time.monotonic() - began < 30, "the door was never shut"
        time.sleep(0.01)
    sim.force_open(1, 1)
    assert not sim.door(1, 1).latch_closed
    sim.clock.skip(3600)  # a jump applies what was scheduled in between at once
    assert sim.door(1, 1).latch_closed


def test_simulator_refuses_impossible_actions() -> None:
    sim = Simulator("kerong-cu16", [0])
    with pytest.raises(SimulationError, match="not open"):
        sim.put_item(0, 1)
    with pytest.raises(SimulationError, match="no lock 17"):
        sim.door(0, 17)
    with pytest.raises(SimulationError, match="no simulated board 9"):
        sim.faults(9)
    with pytest.raises(SimulationError, match="not started"):
        _ = sim.path
    with pytest.raises(ValueError, match="unknown protocol"):
        Simulator("wkly")
