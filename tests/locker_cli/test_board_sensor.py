"""``locker board sensor`` against the twin's temperature transmitter on a pseudo-terminal."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hil_sim import Simulator
from hil_sim.sensors import SensorSetup
from hil_sim.thermal import ThermalParams
from tests.locker_cli.conftest import Locker

pytestmark = pytest.mark.pty

FROZEN = ThermalParams(setpoint=-20.0, pull_down=-35.0, start=-20.5)


def sensor_args(path: str, address: int, *extra: str) -> tuple[str, ...]:
    return ("board", "sensor", "--port", path, "--address", str(address), *extra)


def test_reads_and_prints_a_sensor(locker: Locker) -> None:
    with Simulator("xor8a", [1], sensors=[SensorSetup(10, params=FROZEN)]) as sim:
        done = locker(*sensor_args(sim.path, 10, "--profile", "sht20"))
        as_json = locker(*sensor_args(sim.path, 10, "--json"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "sensor 10: -20.5 C, 60.0 %RH\n"
    assert json.loads(as_json.stdout) == {
        "ok": True,
        "address": 10,
        "celsius": -20.5,
        "humidity": 60.0,
        "reason": None,
    }


def test_a_custom_profile_without_humidity(locker: Locker) -> None:
    with Simulator("xor8a", [], sensors=[SensorSetup(3)]) as sim:
        profile = ("--profile", "temperature=1,humidity=none,baud=19200", "--baud", "9600")
        done = locker(*sensor_args(sim.path, 3, *profile))
    assert done.stdout == "sensor 3: 5.0 C\n"


def test_a_silent_sensor_fails_with_its_reason(locker: Locker) -> None:
    with Simulator("xor8a", [], sensors=[SensorSetup(3)], faults="sensor-silent@3") as sim:
        done = locker(*sensor_args(sim.path, 3, "--timeout", "0.05"))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "error: sensor 3: no temperature (timeout)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--profile", "scale=7"), "sensor scale must be one of"),
        (("--address", "0"), "Modbus address must be 1-247"),
    ],
)
def test_bad_arguments_exit_2(locker: Locker, args: tuple[str, ...], message: str) -> None:
    with Simulator("xor8a", [], sensors=[SensorSetup(3)]) as sim:
        done = locker(*sensor_args(sim.path, 3, *args))
    assert done.returncode == 2
    assert message in done.stderr


def test_locker_sim_serves_transmitters_that_board_sensor_reads(locker: Locker) -> None:
    args = ["sim", "--boards", "1", "--sensors", "10=1/1+1/2", "--faults", "compressor-failure@10"]
    sim = subprocess.Popen(
        [sys.executable, "-m", "locker_cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        path = sim.stdout.readline().strip()
        done = locker(*sensor_args(path, 10))
    finally:
        sim.terminate()
        sim.communicate(timeout=10)
    assert done.stdout == "sensor 10: 5.0 C, 60.0 %RH\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--sensors", "ten"), "cannot read sensor 'ten'"),
        (("--sensors", "10=9/1"), "no simulated door (9, 1)"),
        (("--faults", "sensor-silent@9"), "no simulated sensor 9"),
    ],
)
def test_locker_sim_refuses_bad_sensors(
    locker: Locker, args: tuple[str, ...], message: str
) -> None:
    done = locker("sim", *args)
    assert done.returncode == 2
    assert message in done.stderr
