"""``locker board sensor`` against the twin's temperature transmitter on a pseudo-terminal."""

from __future__ import annotations

import json

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
