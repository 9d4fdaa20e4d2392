"""A small bank with a fridge: its configuration text, a store, a scripted sensor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controller.cold.sampler import Measurement
from controller.cold.zones import SensorSpec
from controller.store import open_store
from hil_sim import Simulator
from hil_sim.sensors import SensorSetup
from tests.controller.conftest import FAST_POLICY, Bank, make_bank

BANK = """
[bank]
id = "cold-street-1"

[[bus]]
name = "main"
port = "/dev/null"
protocol = "xor8a"

[[bus.board]]
address = 1
channels = 8
"""

FRIDGE = """
[[zones]]
name = "fridge-1"
class = "chilled"
compartments = ["A05", "A06"]
sensor = { bus = "main", address = 10, profile = "sht20" }
"""


def bank_toml(zones: str = FRIDGE, extra: str = "") -> str:
    """A bank of A01-A06 on one board (A01-A02 small, A03-A04 medium, A05-A06 medium in the
    fridge by default), with ``zones`` and ``extra`` appended."""
    sizes = ["S", "S", "M", "M", "M", "M"]
    compartments = [
        f'[[compartment]]\nlabel = "A{n:02d}"\nbus = "main"\nboard = 1\nchannel = {n}\n'
        f'size = "{size}"'
        for n, size in enumerate(sizes, start=1)
    ]
    return BANK + "\n" + "\n".join(compartments) + "\n" + zones + "\n" + extra


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(tmp_path / "edge.db")
    yield engine
    engine.dispose()


class ScriptedSensor:
    """A sensor reader whose next answers the test sets: a temperature, or a failure."""

    def __init__(self, celsius: float = 4.0) -> None:
        self.celsius: float | None = celsius
        self.failure: Exception | None = None  # SensorFailed, or a bug
        self.asked: list[SensorSpec] = []

    async def __call__(self, sensor: SensorSpec) -> Measurement:
        self.asked.append(sensor)
        if self.failure is not None:
            raise self.failure
        assert self.celsius is not None
        return Measurement(self.celsius, 55.0)


# On the twin's bank (tests.controller.conftest: A01-A08, B01-B08, sizes S S M M L L XL XL):
# A04 (jammed in the twin) and B04 are the fridge's, both medium; A03 and B03 are medium too
TWIN_FRIDGE = """
[[zones]]
name = "fridge-1"
class = "chilled"
compartments = ["A04", "B04"]
sensor = { bus = "main", address = 10 }
"""


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    """The twin's bank with a fridge of two compartments and its transmitter."""
    fridge = SensorSetup(10, doors=((1, 4), (2, 4)))  # its transmitter, on the locks' bus
    sim = Simulator("xor8a", [1, 2], 8, faults="jammed@1/4", close_after=None, sensors=[fridge])
    yield from make_bank(tmp_path, sim, extra=FAST_POLICY + TWIN_FRIDGE)
