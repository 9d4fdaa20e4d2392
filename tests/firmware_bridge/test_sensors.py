"""Sensor profiles: how registers become a temperature, and when they must not."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.codecs import modbus_rtu as rtu
from firmware_bridge.errors import InvalidRequest
from firmware_bridge.sensors import (
    SHT20,
    ReadingStatus,
    SensorProfile,
    SensorReading,
    parse_profile,
    profile_named,
    reading_of,
    sensor_exchange,
    unlock_inside,
)


def test_sht20_reads_input_registers_one_and_two_in_one_request() -> None:
    exchange = sensor_exchange(1, SHT20)
    assert exchange.frame == bytes.fromhex("01 04 00 01 00 02 20 0B")
    assert exchange.reply_bytes == 9
    assert SHT20.baud == 9600


def test_sht20_decodes_the_manuals_values() -> None:
    assert SHT20.reading(1, (0x0131, 0x0222)) == SensorReading(1, ReadingStatus.OK, 30.5, 54.6)
    assert SHT20.reading(1, (0xFF33, 0x0222)).celsius == -20.5


@pytest.mark.parametrize(
    "registers",
    [
        (0x7FFF, 500),  # a broken probe's 3276.7 C
        (0x8000, 500),  # -3276.8 C
        (0xFE6F, 500),  # -40.1 C, just below the SHT20's range
    ],
)
def test_values_no_probe_can_measure_are_no_temperature(registers: tuple[int, int]) -> None:
    reading = SHT20.reading(3, registers)
    assert reading == SensorReading(3, ReadingStatus.OUT_OF_RANGE)
    assert reading.celsius is None
    assert reading.reason == "out-of-range"


def test_the_range_is_inclusive() -> None:
    assert SHT20.reading(1, (0xFE70, 0)).celsius == -40.0  # -400 / 10
    assert SHT20.reading(1, (600, 1000)).humidity == 100.0


def test_humidity_above_saturation_is_dropped_but_the_temperature_kept() -> None:
    # a condensing probe in a fridge reads past 100 %RH: the cold chain still needs its 4.1 C
    assert SHT20.reading(1, (41, 1001)) == SensorReading(1, ReadingStatus.OK, 4.1, None)
    assert SHT20.reading(1, (41, 0xFFFF)) == SensorReading(1, ReadingStatus.OK, 4.1, None)


def test_a_custom_profile_reads_holding_registers_unsigned_by_the_hundred() -> None:
    profile = parse_profile("function=3,temperature=0x10,humidity=0x12,signed=no,scale=100")
    assert profile.request(5) == rtu.ReadRegisters(5, rtu.READ_HOLDING, 0x10, 3)
    reading = profile.reading(5, (2050, 0xFFFF, 450))
    assert reading == SensorReading(5, ReadingStatus.OK, 20.5, 45.0)


def test_humidity_before_temperature_and_no_humidity() -> None:
    before = SensorProfile("b", temperature_register=4, humidity_register=2)
    assert (before.first, before.count) == (2, 3)
    assert before.reading(1, (300, 0, 55)).humidity == 30.0
    alone = parse_profile("humidity=none,temperature=0")
    assert (alone.first, alone.count) == (0, 1)
    assert alone.reading(1, (55,)) == SensorReading(1, ReadingStatus.OK, 5.5, None)


def test_a_profile_spec_keeps_its_base_for_unset_keys() -> None:
    profile = parse_profile("base=sht20, baud=19200, min=-30, max=70.5, humidity_scale=1")
    assert profile == replace(
        SHT20, name="custom", baud=19200, celsius_min=-30, celsius_max=70.5, humidity_scale=1
    )
    assert parse_profile("signed=yes").signed
    assert parse_profile(" sht20 ") is SHT20


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("colour=red", "unknown sensor profile key"),
        ("scale", "unknown sensor profile"),
        ("scale=", "not key=value"),
        ("signed=maybe", "yes or no"),
        ("scale=ten", "whole number"),
        ("min=cold", "must be a number"),
        ("scale=7", "scale must be one of"),
        ("function=6", "03 or 04"),
        ("temperature=0,humidity=20", "within 8 registers"),
        ("min=10,max=0", "celsius_min < celsius_max"),
        ("baud=0", "baud must be positive"),
        ("temperature=0x10000,humidity=none", "out of 0-65535"),
    ],
)
def test_bad_profiles_are_refused_with_a_reason(spec: str, message: str) -> None:
    with pytest.raises((InvalidRequest, KeyError), match=message):
        parse_profile(spec)


def test_unknown_profile_names_list_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: sht20"):
        profile_named("dht22")


def test_attempt_outcomes_become_readings_with_reasons() -> None:
    exception = rtu.ExceptionReply(1, rtu.READ_INPUT, rtu.ExceptionCode.ILLEGAL_DATA_ADDRESS)
    reading = reading_of(1, SHT20, exception, garbled=False)
    assert reading.status is ReadingStatus.EXCEPTION
    assert reading.reason == "exception illegal-data-address"
    assert reading_of(1, SHT20, None, garbled=False).reason == "timeout"
    assert reading_of(1, SHT20, None, garbled=True).reason == "garbled"
    ok = reading_of(1, SHT20, rtu.RegistersReply(1, rtu.READ_INPUT, (50, 600)), garbled=True)
    assert ok.ok
    assert ok.reason is None


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_a_reading_has_a_temperature_only_within_the_sensors_range(temp: int, hum: int) -> None:
    reading = SHT20.reading(1, (temp, hum))
    assert reading.ok == (reading.celsius is not None)
    if reading.celsius is not None:
        assert SHT20.celsius_min <= reading.celsius <= SHT20.celsius_max
        assert (reading.humidity is None) == (hum > 1000)
        assert reading.humidity is None or 0.0 <= reading.humidity <= 100.0


@pytest.mark.parametrize(
    ("frame", "inside"),
    [
        ("8A 01 01 11 9B", True),  # the 8A/80 open of board 1 lock 1
        ("3A 04 04 00 8A 03 07 11 9F", True),  # sensor 58 at 13.8 C, 77.5 %RH: board 3 lock 7
        ("02 00 31 03 36", True),  # the KR-CU16 unlock of board 0 lock 1
        ("00 02 1F 31 03 55 00", True),
        ("80 01 00 33 B2", False),  # a read is not an unlock
        ("8A 01 01 11 9C", False),  # nor is a frame that fails its check
        ("02 00 30 03 35", False),
        ("8A 01 01 11", False),
    ],
)
def test_unlocks_hidden_in_a_frame_are_found(frame: str, inside: bool) -> None:
    assert unlock_inside(bytes.fromhex(frame)) is inside


@given(st.integers(rtu.ADDRESS_MIN, rtu.ADDRESS_MAX))
def test_no_sht20_request_holds_an_unlock(address: int) -> None:
    assert not unlock_inside(sensor_exchange(address, SHT20).frame)
