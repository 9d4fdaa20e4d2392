"""Sampling the twin's fridge through the real bus master on a pseudo-terminal: its thermal model
with a compressor failure raises the excursion after the class's duration and not before, a
repair ends it, and a silent transmitter is recorded and reported."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controller.cold.reader import bus_reader
from controller.cold.sampler import ZoneSampler
from controller.cold.tables import ZoneSampleRow
from controller.config import load_config
from controller.daemon import open_buses
from controller.store import Outbox
from hil_sim import Simulator
from hil_sim.faults import parse_faults
from hil_sim.sensors import SensorSetup
from locker_contract.cold import CHILLED_EXCURSION_AFTER, CHILLED_MAX_C
from tests.controller.cold.conftest import bank_toml
from tests.controller.fakeclock import FakeClock

pytestmark = pytest.mark.pty

MINUTE = 60.0


@dataclass
class Fridge:
    sim: Simulator
    sampler: ZoneSampler
    clock: FakeClock
    engine: Engine

    async def minute(self) -> ZoneSampleRow:
        """One round of sampling, then both clocks a minute on; the sample it took."""
        await self.sampler.sample_once()
        self.clock.advance(MINUTE)
        self.sim.clock.skip(MINUTE)
        with Session(self.engine) as s:
            return s.exec(
                select(ZoneSampleRow).order_by(col(ZoneSampleRow.id).desc()).limit(1)
            ).one()

    def fault(self, spec: str) -> None:
        for fault in parse_faults(spec):
            self.sim.apply(fault)

    def events(self) -> list[dict[str, object]]:
        with Session(self.engine) as s:
            rows = s.exec(select(Outbox).order_by(col(Outbox.seq)))
            return [json.loads(row.body) for row in rows]


@pytest.fixture
async def fridge(tmp_path: Path, engine: Engine) -> AsyncIterator[Fridge]:
    # the fridge's compartments are A05 and A06 (board 1, locks 5 and 6)
    sim = Simulator("xor8a", [1], 8, close_after=None, sensors=[SensorSetup(10, ((1, 5), (1, 6)))])
    path = tmp_path / "bank.toml"
    try:
        path.write_text(bank_toml().replace("/dev/null", sim.start()), encoding="utf-8")
        config = load_config(path)
        buses, transports = await open_buses(config)
        clock = FakeClock()
        sampler = ZoneSampler(engine, config.zones, config.cold, bus_reader(buses), clock)
        try:
            yield Fridge(sim, sampler, clock, engine)
        finally:
            for transport in transports:
                await transport.close()
    finally:
        sim.stop()


async def test_a_compressor_failure_is_an_excursion_after_its_duration_not_before(
    fridge: Fridge,
) -> None:
    first = await fridge.minute()
    assert first.celsius is not None
    assert 2.0 <= first.celsius <= CHILLED_MAX_C  # the thermostat holds the chilled range
    fridge.fault("compressor-failure@10")
    out_at = None
    limit = int(CHILLED_EXCURSION_AFTER.total_seconds() // MINUTE)
    for minute in range(1, 4 * 60):
        sample = await fridge.minute()
        assert sample.celsius is not None
        if out_at is None and sample.celsius > CHILLED_MAX_C:
            out_at = minute
        started = [e for e in fridge.events() if e["type"] == "zone.excursion_started"]
        if out_at is None or minute - out_at <= limit:
            assert started == [], (minute, out_at)
        else:
            assert len(started) == 1
            assert minute == out_at + limit + 1  # the first sample past the duration
            assert out_at > 30  # shut, the fridge keeps its cold a while without its compressor
            break
    else:
        pytest.fail("the fridge never warmed past 8 C without its compressor")
    fridge.fault("compressor-failure@10=0")
    for _ in range(60):
        back = (await fridge.minute()).celsius
        if back is not None and back <= CHILLED_MAX_C:
            break
    ended = [e for e in fridge.events() if e["type"] == "zone.excursion_ended"]
    assert len(ended) == 1
    assert ended[0]["excursion_id"] == started[0]["excursion_id"]
    assert float(str(ended[0]["max_celsius"])) > CHILLED_MAX_C


async def test_a_silent_transmitter_is_recorded_and_reported(fridge: Fridge) -> None:
    fridge.fault("sensor-silent@10")
    samples = [await fridge.minute() for _ in range(3)]
    assert [(s.celsius, s.failure) for s in samples] == [(None, "no_answer")] * 3
    fridge.fault("sensor-probe@10,sensor-silent@10=0")
    assert (await fridge.minute()).failure == "implausible"
    fridge.fault("sensor-probe@10=0")
    assert (await fridge.minute()).celsius is not None
    health = [(e["ok"], e["failure"]) for e in fridge.events() if e["type"] == "zone.sensor"]
    assert health == [(False, "no_answer"), (True, None)]
