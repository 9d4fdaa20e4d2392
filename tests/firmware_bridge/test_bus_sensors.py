"""The bus master reads Modbus temperature transmitters of the twin, between lock transactions."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from firmware_bridge.bus import UnlockOutcome
from firmware_bridge.errors import InvalidRequest
from firmware_bridge.model import LockState
from firmware_bridge.sensors import SHT20, ReadingStatus, SensorReading, parse_profile
from hil_sim import Simulator
from hil_sim.bus import ReceivedFrame
from hil_sim.faults import parse_faults
from hil_sim.sensors import SensorSetup
from hil_sim.thermal import ThermalParams
from tests.firmware_bridge.conftest import FAST, wired

SENSOR = 10
ATTEMPTS = 1 + FAST.read_retries
CHILLED_MAX = 8.0


def lock_bus(faults: str = "", sensors: tuple[int, ...] = (SENSOR,)) -> Simulator:
    """An 8A/80 board whose doors 1 and 2 are the chilled zone of the first sensor."""
    setups = [SensorSetup(a, doors=((1, 1), (1, 2)) if a == SENSOR else ()) for a in sensors]
    return Simulator(
        "xor8a", boards=(1,), channels=4, sensors=setups, faults=faults, close_after=None
    )


def sensor_frames(sim: Simulator) -> list[ReceivedFrame]:
    return [f for f in sim.frames if len(f.data) == 8]


async def test_reads_a_sensor_on_the_lock_boards_bus() -> None:
    sim = lock_bus()
    async with wired(sim) as bus:
        reading = await bus.read_sensor(SENSOR, SHT20)
    assert reading == SensorReading(SENSOR, ReadingStatus.OK, 5.0, 60.0)
    assert bus.sensor_parser.stats.frames == 1


async def test_reads_a_sensor_on_a_bus_of_its_own() -> None:
    sim = Simulator("xor8a", boards=(), sensors=[SensorSetup(1)])
    async with wired(sim) as bus:
        reading = await bus.read_sensor(1, SHT20)
    assert reading.celsius == 5.0


async def test_a_sensor_on_a_kerong_bus_must_speak_its_speed() -> None:
    sim = Simulator("kerong-cu16", boards=(0,), sensors=[SensorSetup(SENSOR)])
    async with wired(sim) as bus:
        with pytest.raises(InvalidRequest, match="9600 baud, this bus runs 19200"):
            await bus.read_sensor(SENSOR, SHT20)
        reading = await bus.read_sensor(SENSOR, replace(SHT20, baud=19200))
        status = await bus.read_status(0)
    assert reading.ok
    assert len(status.locks) == 16


async def test_a_silent_sensor_times_out_after_its_retries() -> None:
    sim = lock_bus(faults=f"sensor-silent@{SENSOR}")
    async with wired(sim) as bus:
        reading = await bus.read_sensor(SENSOR, SHT20)
        status = await bus.read_status(1)
    assert reading == SensorReading(SENSOR, ReadingStatus.NO_REPLY)
    assert reading.reason == "timeout"
    assert len(sensor_frames(sim)) == ATTEMPTS
    assert bus.metrics.timeouts == ATTEMPTS
    assert {status.lock(n).state for n in (1, 2, 3, 4)} == {LockState.CLOSED}  # boards unharmed


async def test_a_garbled_answer_is_counted_and_reported_never_a_temperature() -> None:
    sim = lock_bus(faults=f"sensor-garbage@{SENSOR}")
    async with wired(sim) as bus:
        reading = await bus.read_sensor(SENSOR, SHT20)
    assert reading == SensorReading(SENSOR, ReadingStatus.GARBLED)
    assert reading.celsius is None
    stats = bus.sensor_parser.stats
    assert stats.frames == 0
    assert stats.noise_bytes + stats.bad_frames > 0
    assert len(sensor_frames(sim)) == ATTEMPTS


async def test_half_garbled_answers_give_true_temperatures_or_none() -> None:
    sim = lock_bus(faults=f"sensor-garbage@{SENSOR}=0.5")
    async with wired(sim) as bus:
        readings = [await bus.read_sensor(SENSOR, SHT20) for _ in range(12)]
    temperatures = {r.celsius for r in readings if r.ok}
    assert temperatures == {5.0}
    assert bus.metrics.retries > 0  # garbled attempts were retried
    assert all(r.status is ReadingStatus.GARBLED for r in readings if not r.ok)


async def test_a_broken_probe_is_out_of_range_and_not_retried() -> None:
    sim = lock_bus(faults=f"sensor-probe@{SENSOR}")
    async with wired(sim) as bus:
        reading = await bus.read_sensor(SENSOR, SHT20)
    assert reading == SensorReading(SENSOR, ReadingStatus.OUT_OF_RANGE)
    assert len(sensor_frames(sim)) == 1


async def test_an_exception_is_reported_with_its_code_and_not_retried() -> None:
    sim = lock_bus()
    async with wired(sim) as bus:
        reading = await bus.read_sensor(SENSOR, parse_profile("temperature=5,humidity=none"))
    assert reading.status is ReadingStatus.EXCEPTION
    assert reading.reason == "exception illegal-data-address"
    assert len(sensor_frames(sim)) == 1


async def test_a_lock_transaction_waits_for_one_sensor_transaction_at_most() -> None:
    silent = (10, 11, 12, 13)
    sim = lock_bus(faults=",".join(f"sensor-silent@{a}" for a in silent), sensors=silent)
    async with wired(sim) as bus:
        reads = [asyncio.create_task(bus.read_sensor(a, SHT20)) for a in silent]
        for _ in range(1000):  # until the first sensor request is on the line
            if sim.frames:
                break
            await asyncio.sleep(0.001)
        await bus.read_status(1)
        await asyncio.gather(*reads)
    kinds = ["lock" if len(f.data) == 5 else "sensor" for f in sim.frames]
    assert kinds.index("lock") == 1  # behind the sensor request already sent, and no other
    assert kinds.count("sensor") == len(silent) * ATTEMPTS


async def test_an_open_door_warms_what_the_master_reads() -> None:
    sim = lock_bus()
    async with wired(sim) as bus:
        before = await bus.read_sensor(SENSOR, SHT20)
        unlock = await bus.open_lock(1, 1)
        sim.clock.skip(5 * 60)  # nobody shuts the door for five minutes
        after = await bus.read_sensor(SENSOR, SHT20)
    assert unlock.outcome is UnlockOutcome.OPENED
    assert before.celsius == 5.0
    assert after.celsius is not None
    assert after.celsius > CHILLED_MAX


async def test_a_compressor_failure_leaves_the_range_after_a_plausible_time() -> None:
    sim = lock_bus()
    async with wired(sim) as bus:
        sim.apply(parse_faults(f"compressor-failure@{SENSOR}")[0])
        sim.clock.skip(20 * 60)
        early = await bus.read_sensor(SENSOR, SHT20)
        sim.clock.skip(3 * 3600)
        late = await bus.read_sensor(SENSOR, SHT20)
    assert early.celsius is not None
    assert early.celsius <= CHILLED_MAX
    assert late.celsius is not None
    assert late.celsius > CHILLED_MAX


@pytest.mark.pty
async def test_the_master_reads_a_sensor_through_the_pty_between_unlocks() -> None:
    sim = lock_bus()
    async with wired(sim, link="pty") as bus:
        first = await bus.open_lock(1, 1)
        reading = await bus.read_sensor(SENSOR, SHT20)
        second = await bus.open_lock(1, 2)
        again = await bus.read_sensor(SENSOR, SHT20)
    assert (first.outcome, second.outcome) == (UnlockOutcome.OPENED, UnlockOutcome.OPENED)
    assert reading.ok
    assert again.ok
    opens = [i for i, f in enumerate(sim.frames) if f.data[0] == 0x8A]
    reads = [i for i, f in enumerate(sim.frames) if len(f.data) == 8]
    assert opens[0] < reads[0] < opens[1] < reads[1]


async def test_a_request_a_board_could_obey_is_refused_on_a_lock_bus() -> None:
    # Address 138 (0x8A), function 03 from 0x9811: 8A 03 98 11 00 is an 8A/80 open.
    risky = parse_profile("function=3,temperature=0x9811,humidity=none")
    async with wired(lock_bus()) as bus:
        with pytest.raises(InvalidRequest, match="for an unlock"):
            await bus.read_sensor(0x8A, risky)
    alone = Simulator("xor8a", boards=(), sensors=[SensorSetup(0x8A)])
    async with wired(alone) as bus:
        reading = await bus.read_sensor(0x8A, risky)  # no board hears it on a bus of its own
    assert reading.reason == "exception illegal-data-address"


async def test_a_reply_holding_an_unlock_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    params = ThermalParams(start=13.8)
    sim = Simulator("xor8a", boards=(3,), sensors=[SensorSetup(58, params=params, humidity=77.5)])
    async with wired(sim) as bus:
        reading = await bus.read_sensor(58, SHT20)
    assert (reading.celsius, reading.humidity) == (13.8, 77.5)
    assert "sensor 58 answered bytes a lock board could take for an unlock" in caplog.text
