"""Sampling a fridge with a scripted sensor on a clock the test moves: samples stored, failures
recorded, excursions after the class's duration and not before, batches through the outbox,
retention."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controller.cold.sampler import Measurement, SensorFailed, ZoneSampler
from controller.cold.tables import ZoneSampleRow
from controller.cold.zones import SensorSpec
from controller.config import EdgeConfig, load_config
from controller.store import Outbox, drop_acknowledged, event_types, transaction
from locker_contract.cold import CHILLED_EXCURSION_AFTER
from locker_contract.events import EventAdapter, ZoneSamples, ZoneSensorHealth
from tests.controller.cold.conftest import ScriptedSensor, bank_toml
from tests.controller.fakeclock import FakeClock

MINUTE = 60.0


def _config(tmp_path: Path, extra: str = "") -> EdgeConfig:
    path = tmp_path / "bank.toml"
    path.write_text(bank_toml(extra=extra), encoding="utf-8")
    return load_config(path)


def _sampler(
    tmp_path: Path, engine: Engine, sensor: ScriptedSensor, extra: str = ""
) -> tuple[ZoneSampler, FakeClock]:
    config = _config(tmp_path, extra)
    clock = FakeClock()
    return ZoneSampler(engine, config.zones, config.cold, sensor, clock), clock


def _minutes(sampler: ZoneSampler, clock: FakeClock, n: int) -> None:
    """``n`` rounds a minute apart: each samples, then the clock moves on a minute."""
    for _ in range(n):
        asyncio.run(sampler.sample_once())
        clock.advance(MINUTE)


def _events(engine: Engine) -> list[str]:
    with transaction(engine) as s:
        return event_types(s)


def _rows(engine: Engine) -> list[ZoneSampleRow]:
    with Session(engine) as s:
        return list(s.exec(select(ZoneSampleRow).order_by(col(ZoneSampleRow.id))))


def test_every_round_reads_the_zones_sensor_and_stores_the_sample(
    tmp_path: Path, engine: Engine
) -> None:
    sensor = ScriptedSensor(4.5)
    sampler, clock = _sampler(tmp_path, engine, sensor)
    _minutes(sampler, clock, 3)
    assert [(r.zone, r.celsius, r.humidity, r.failure) for r in _rows(engine)] == [
        ("fridge-1", 4.5, 55.0, None)
    ] * 3
    assert [s.address for s in sensor.asked] == [10, 10, 10]
    assert _events(engine) == []  # in range, nothing sent yet


def test_a_failed_sensor_is_a_failed_sample_and_after_three_an_alarm(
    tmp_path: Path, engine: Engine
) -> None:
    sensor = ScriptedSensor()
    sampler, clock = _sampler(tmp_path, engine, sensor)
    sensor.failure = SensorFailed("no_answer")
    _minutes(sampler, clock, 2)
    assert [r.failure for r in _rows(engine)] == ["no_answer", "no_answer"]
    assert _events(engine) == []
    _minutes(sampler, clock, 2)
    assert _events(engine) == ["zone.sensor"]
    sensor.failure = None
    _minutes(sampler, clock, 1)
    assert _events(engine) == ["zone.sensor", "zone.sensor"]
    with Session(engine) as s:
        bodies = [json.loads(r.body) for r in s.exec(select(Outbox).order_by(col(Outbox.seq)))]
    assert [(b["ok"], b["failure"]) for b in bodies] == [(False, "no_answer"), (True, None)]


def test_a_reader_that_breaks_leaves_a_failed_sample_not_a_hole(
    tmp_path: Path, engine: Engine
) -> None:
    sensor = ScriptedSensor()
    sampler, clock = _sampler(tmp_path, engine, sensor)
    sensor.failure = RuntimeError("a bug in a reader")
    _minutes(sampler, clock, 1)
    assert [(r.celsius, r.failure) for r in _rows(engine)] == [(None, "bad_reply")]


def test_a_reading_no_thermometer_gives_is_recorded_as_implausible(
    tmp_path: Path, engine: Engine
) -> None:
    sensor = ScriptedSensor(3276.7)  # 0x7FFF at scale 10: a sensor's "no probe"
    sampler, clock = _sampler(tmp_path, engine, sensor)
    _minutes(sampler, clock, 1)
    assert [(r.celsius, r.failure) for r in _rows(engine)] == [(None, "implausible")]


def test_an_excursion_starts_after_the_duration_not_before_and_ends_back_in_range(
    tmp_path: Path, engine: Engine
) -> None:
    sensor = ScriptedSensor(4.0)
    sampler, clock = _sampler(tmp_path, engine, sensor)
    _minutes(sampler, clock, 2)
    sensor.celsius = 9.0
    limit = int(CHILLED_EXCURSION_AFTER.total_seconds() // MINUTE)  # 10 minutes
    _minutes(sampler, clock, limit + 1)  # out from minute 0 to minute 10: not longer yet
    assert _events(engine) == []
    sensor.celsius = 11.5
    _minutes(sampler, clock, 1)  # minute 11: out for longer than 10
    assert _events(engine) == ["zone.excursion_started"]
    sensor.celsius = 5.0
    _minutes(sampler, clock, 1)
    assert _events(engine) == ["zone.excursion_started", "zone.excursion_ended"]
    with Session(engine) as s:
        rows = list(s.exec(select(Outbox).order_by(col(Outbox.seq))))
    started, ended = (EventAdapter.validate_json(r.body) for r in rows)
    assert started.type == "zone.excursion_started"
    assert ended.type == "zone.excursion_ended"
    assert started.excursion_id == ended.excursion_id
    assert (started.detected_at - started.out_since).total_seconds() == (limit + 1) * MINUTE
    assert (ended.min_celsius, ended.max_celsius) == (9.0, 11.5)


def test_a_short_warming_is_no_excursion(tmp_path: Path, engine: Engine) -> None:
    sensor = ScriptedSensor(9.5)  # a door held open for a deposit
    sampler, clock = _sampler(tmp_path, engine, sensor)
    _minutes(sampler, clock, 3)
    sensor.celsius = 6.0
    _minutes(sampler, clock, 1)
    sensor.celsius = 9.5
    _minutes(sampler, clock, 10)  # out again, counted afresh: 9 minutes out
    assert _events(engine) == []


def test_failed_samples_neither_start_nor_end_an_excursion(tmp_path: Path, engine: Engine) -> None:
    sensor = ScriptedSensor(12.0)
    sampler, clock = _sampler(tmp_path, engine, sensor, "[cold]\nfailures_to_alarm = 99\n")
    _minutes(sampler, clock, 12)
    sensor.failure = SensorFailed("bad_reply")
    _minutes(sampler, clock, 5)
    sensor.failure = None
    _minutes(sampler, clock, 1)
    assert _events(engine) == ["zone.excursion_started"]


def test_samples_go_in_bounded_batches_once_due(tmp_path: Path, engine: Engine) -> None:
    sensor = ScriptedSensor(4.0)
    extra = "[cold]\nbatch_max = 4\nsend_every_s = 600\n"
    sampler, clock = _sampler(tmp_path, engine, sensor, extra)
    _minutes(sampler, clock, 3)
    assert sampler.send_batches() == 0  # three, the oldest two minutes old
    _minutes(sampler, clock, 6)
    assert sampler.send_batches() == 2  # eight: two full batches, one left over
    assert sampler.send_batches() == 0
    clock.advance(600)
    assert sampler.send_batches() == 1  # the ninth waited long enough
    with Session(engine) as s:
        batches = [
            EventAdapter.validate_json(r.body)
            for r in s.exec(select(Outbox).order_by(col(Outbox.seq)))
        ]
    assert all(isinstance(b, ZoneSamples) for b in batches)
    counts = [len(b.samples) for b in batches if isinstance(b, ZoneSamples)]
    assert counts == [4, 4, 1]
    times = [s.at for b in batches if isinstance(b, ZoneSamples) for s in b.samples]
    assert times == sorted(times)
    assert len(set(times)) == 9


def test_samples_are_kept_until_sent_and_for_the_retention(tmp_path: Path, engine: Engine) -> None:
    sensor = ScriptedSensor(4.0)
    sampler, clock = _sampler(tmp_path, engine, sensor, "[cold]\nretention_days = 1\n")
    _minutes(sampler, clock, 2)
    clock.advance(2 * 86400)
    assert sampler.purge() == 0  # never batched
    sampler.send_batches()
    assert sampler.purge() == 0  # batched, but the cloud has not acknowledged it
    with transaction(engine) as s:
        drop_acknowledged(s, upto=10)
    _minutes(sampler, clock, 1)  # a fresh one, within the retention
    assert sampler.purge() == 2
    assert len(_rows(engine)) == 1


def test_a_humidity_past_saturation_keeps_the_temperature_sample(
    tmp_path: Path, engine: Engine
) -> None:
    async def condensing(_sensor: SensorSpec) -> Measurement:
        return Measurement(4.2, 104.0)  # a wet probe reads past 100 %RH

    config = _config(tmp_path)
    sampler = ZoneSampler(engine, config.zones, config.cold, condensing, FakeClock())
    asyncio.run(sampler.sample_once())
    assert [(r.celsius, r.humidity, r.failure) for r in _rows(engine)] == [(4.2, None, None)]


def test_a_failing_sensor_is_reported_failing_since_its_first_bad_sample(
    tmp_path: Path, engine: Engine
) -> None:
    sensor = ScriptedSensor()
    sampler, clock = _sampler(tmp_path, engine, sensor)
    _minutes(sampler, clock, 1)  # a good sample, then three bad ones from the next minute
    first_bad = clock.wall()
    for failure in ("no_answer", "bad_reply", "bad_reply"):
        sensor.failure = SensorFailed(failure)
        _minutes(sampler, clock, 1)
    with Session(engine) as s:
        [row] = s.exec(select(Outbox).where(Outbox.type == "zone.sensor")).all()
    event = EventAdapter.validate_json(row.body)
    assert isinstance(event, ZoneSensorHealth)
    # the watch counts failures only: the event said the third one's time and reason
    assert (event.ok, event.since, event.failure) == (False, first_bad, "no_answer")
