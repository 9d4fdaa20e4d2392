"""A zone's sensor read through the bank's bus masters (``firmware_bridge.sensors``).

The bus master answers every failure as a reading with a status; here each becomes the
sample failure the contract knows (``locker_contract.cold.SampleFailure``): silence is
``no_answer``, a frame that failed its checks or a Modbus exception is ``bad_reply``, a value the
sensor cannot measure is ``implausible``. A port lost under the bus is silence too: the sample is
recorded as failed and the next round tries again.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.cold.sampler import Measurement, SensorFailed, SensorReader
from controller.cold.zones import SensorSpec
from firmware_bridge.bus import BusMaster
from firmware_bridge.errors import TransportError
from firmware_bridge.sensors import ReadingStatus, parse_profile
from locker_contract.cold import SampleFailure

FAILURES: dict[ReadingStatus, SampleFailure] = {
    ReadingStatus.NO_REPLY: "no_answer",
    ReadingStatus.GARBLED: "bad_reply",
    ReadingStatus.EXCEPTION: "bad_reply",
    ReadingStatus.OUT_OF_RANGE: "implausible",
}


def bus_reader(buses: Mapping[str, BusMaster]) -> SensorReader:
    """A reader of zones' sensors on ``buses`` (by name, as configured)."""

    async def read(sensor: SensorSpec) -> Measurement:
        profile = parse_profile(sensor.profile)  # checked at load: cannot fail here
        try:
            reading = await buses[sensor.bus].read_sensor(sensor.address, profile)
        except TransportError as exc:
            raise SensorFailed("no_answer", str(exc)) from None
        if reading.celsius is None:
            raise SensorFailed(FAILURES.get(reading.status, "bad_reply"), reading.reason or "")
        return Measurement(reading.celsius, reading.humidity)

    return read
