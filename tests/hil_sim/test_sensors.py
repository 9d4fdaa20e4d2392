"""The twin's Modbus transmitters, byte for byte, and the zones their doors warm."""

from __future__ import annotations

import pytest

from firmware_bridge.codecs.checksum import crc16_modbus
from hil_sim import Simulator
from hil_sim.door import Door, DoorEvent
from hil_sim.faults import FaultSpecError, parse_faults
from hil_sim.sensors import (
    REPLY_DELAY,
    ChilledZone,
    ModbusSensor,
    SensorLine,
    SensorSetup,
    build_line,
    parse_sensors,
)
from hil_sim.simulator import SimulationError
from hil_sim.thermal import ThermalParams, ThermalZone

# The XY-MD02 manual's "read temperature" exchange: 0x0131 = 30.5 C (see the codec's tests).
MANUAL_REQUEST = bytes.fromhex("01 04 00 01 00 01 60 0A")
MANUAL_REPLY = bytes.fromhex("01 04 02 01 31 79 74")


def frame(body: str) -> bytes:
    data = bytes.fromhex(body)
    return data + crc16_modbus(data).to_bytes(2, "little")


def line_at(celsius: float, address: int = 1, doors: list[Door] | None = None) -> SensorLine:
    params = ThermalParams(setpoint=-20.0, pull_down=-35.0, start=celsius)
    zone = ChilledZone(ThermalZone(params), doors or [])
    return SensorLine([ModbusSensor(address, zone)])


def ask(line: SensorLine, request: bytes, now: float = 0.0) -> bytes | None:
    [received] = line.feed(request)
    answer = line.answer(received, now)
    return None if answer is None else answer[1]


def test_the_transmitter_answers_the_manuals_example_byte_for_byte() -> None:
    assert ask(line_at(30.5), MANUAL_REQUEST) == MANUAL_REPLY


def test_negative_temperatures_are_twos_complement() -> None:
    reply = ask(line_at(-20.5), frame("01 04 00 01 00 02"))
    assert reply is not None
    assert reply[3:5] == bytes.fromhex("FF 33")  # the manual's -20.5 C example
    assert reply[5:7] == (600).to_bytes(2, "big")  # 60.0 %RH


def test_holding_registers_carry_the_settings() -> None:
    reply = ask(line_at(5.0, address=7), frame("07 03 01 01 00 02"))
    assert reply == frame("07 03 04 00 07 00 00")


@pytest.mark.parametrize(
    ("request_", "reply"),
    [
        ("01 04 00 05 00 01", "01 84 02"),  # no such input register
        ("01 04 00 01 00 03", "01 84 02"),  # runs past the last one
        ("01 04 00 01 00 00", "01 84 02"),  # zero registers
        ("01 06 01 01 00 02", "01 86 01"),  # writes are not modelled
    ],
)
def test_what_the_transmitter_lacks_is_an_exception(request_: str, reply: str) -> None:
    assert ask(line_at(5.0), frame(request_)) == frame(reply)


def test_lock_board_traffic_and_other_devices_are_skipped() -> None:
    line = line_at(5.0)
    lock_read = bytes.fromhex("80 01 00 33 B2")
    other = frame("02 04 00 01 00 02")
    broken = bytearray(frame("01 04 00 01 00 02"))
    broken[-1] ^= 0xFF
    assert line.feed(lock_read + other + bytes(broken) + lock_read[:3]) == []
    assert line.feed(lock_read[3:] + frame("01 04 00 01 00 02")) == [frame("01 04 00 01 00 02")]
    assert line.rejected_bytes == 2 * len(lock_read) + len(other) + len(broken)


def test_a_line_without_transmitters_takes_nothing() -> None:
    line = SensorLine()
    assert line.feed(MANUAL_REQUEST) == []
    assert line.rejected_bytes == 0


def test_faults_silence_garble_and_break_the_transmitter() -> None:
    line = line_at(5.0)
    for fault in parse_faults("sensor-probe@1"):
        line.apply(fault, 0.0)
    assert ask(line, frame("01 04 00 01 00 01")) == frame("01 04 02 7F FF")
    for fault in parse_faults("sensor-garbage@1=1"):
        line.apply(fault, 0.0)
    garbled = ask(line, frame("01 04 00 01 00 01"))
    assert garbled is not None
    assert garbled != frame("01 04 02 7F FF")
    assert crc16_modbus(garbled[:-2]) != int.from_bytes(garbled[-2:], "little")
    for fault in parse_faults("sensor-silent@1"):
        line.apply(fault, 0.0)
    assert ask(line, frame("01 04 00 01 00 01")) is None
    with pytest.raises(KeyError, match="no simulated sensor 9"):
        line.apply(parse_faults("sensor-silent@9")[0], 0.0)
    with pytest.raises(KeyError, match="not a sensor fault"):
        line.apply(parse_faults("jammed@1/1")[0], 0.0)


def test_an_open_door_of_the_zone_warms_what_the_transmitter_reads() -> None:
    door = Door(1, 1, close_after=None)
    line = line_at(-20.0, doors=[door])
    cold = ask(line, frame("01 04 00 01 00 01"), now=0.0)
    door.schedule(1.0, DoorEvent.PULSE)  # unlocked at 1 s, springs open, nobody shuts it
    warm = ask(line, frame("01 04 00 01 00 01"), now=5 * 60.0)
    assert cold is not None
    assert warm is not None
    assert int.from_bytes(warm[3:5], "big", signed=True) > -150  # above -15 C after 5 minutes
    assert int.from_bytes(cold[3:5], "big", signed=True) == -200


def test_a_door_shut_again_stops_the_warming() -> None:
    door = Door(1, 1, close_after=30.0)
    zone = ChilledZone(ThermalZone(ThermalParams(start=5.0)), [door])
    door.schedule(0.0, DoorEvent.PULSE)
    zone.advance(20.0)
    assert zone.thermal.doors_open == 1
    zone.advance(60.0)
    assert zone.thermal.doors_open == 0
    assert zone.advance(10 * 60.0) < 8.0


def test_a_door_forced_and_shut_at_one_instant_leaves_the_zone_shut() -> None:
    # its moves at one time are taken in the order they happened, not by their states' names
    # ("locked" sorts before "open": the zone believed the door open for good, and warmed)
    door = Door(1, 1, close_after=None)
    zone = ChilledZone(ThermalZone(ThermalParams(start=5.0)), [door])
    door.schedule(10.0, DoorEvent.FORCE)
    door.schedule(10.0, DoorEvent.CLOSE)
    zone.advance(20.0)
    assert zone.thermal.doors_open == 0
    assert zone.advance(10 * 60.0) < 8.0


def test_the_simulator_wires_zones_to_its_doors_and_takes_sensor_faults() -> None:
    sim = Simulator(
        "xor8a",
        boards=(1,),
        channels=4,
        sensors=[SensorSetup(10, doors=((1, 1), (1, 2)))],
        faults="compressor-failure@10",
    )
    sensor = sim.sensor(10)
    assert [d.lock for d in sensor.zone.doors] == [1, 2]
    assert sensor.zone.thermal.compressor_failed
    sim.apply(parse_faults("compressor-failure@10=0")[0])
    assert not sim.sensor(10).zone.thermal.compressor_failed
    with pytest.raises(SimulationError, match="no simulated sensor 11"):
        sim.apply(parse_faults("sensor-silent@11")[0])
    with pytest.raises(SimulationError, match="no simulated sensor"):
        sim.sensor(11)


def test_a_zone_of_doors_that_do_not_exist_is_refused() -> None:
    with pytest.raises(KeyError, match="no simulated door"):
        build_line([SensorSetup(10, doors=((2, 1),))], {})


@pytest.mark.parametrize("spec", ["sensor-silent", "sensor-probe@1/2", "compressor-failure"])
def test_sensor_faults_need_an_address(spec: str) -> None:
    with pytest.raises(FaultSpecError, match="needs a sensor"):
        parse_faults(spec)


def test_replies_leave_after_the_transmitters_processing_time() -> None:
    line = line_at(5.0)
    [received] = line.feed(MANUAL_REQUEST)
    answer = line.answer(received, 0.0)
    assert answer is not None
    assert answer[0] == REPLY_DELAY


def test_sensor_specs_name_transmitters_and_their_doors() -> None:
    assert parse_sensors(" 10=1/5+1/6, 11 ,") == [
        SensorSetup(10, ((1, 5), (1, 6))),
        SensorSetup(11),
    ]
    for bad in ("x", "10=1", "10=a/b"):
        with pytest.raises(ValueError, match="cannot read sensor"):
            parse_sensors(bad)


@pytest.mark.parametrize("address", [0, 248, 300, -5])
def test_a_transmitter_needs_a_modbus_address(address: int) -> None:
    # 300 was taken and never answered (no frame can name it): a silent sensor, not an error
    with pytest.raises(ValueError, match="1-247"):
        parse_sensors(f"{address}=1/5")
    with pytest.raises(ValueError, match="1-247"):
        SensorSetup(address)
