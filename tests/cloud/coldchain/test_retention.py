"""Samples are kept the year EN 12830 asks, then purged by the daily sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select

from cloud.coldchain.retention import purge_samples
from cloud.coldchain.tables import ColdSample
from cloud.core.config import Settings
from locker_contract.cold import CLOUD_RETENTION_DAYS, TemperatureClass
from locker_contract.events import Reading, ZoneSample, ZoneSamples
from tests.cloud.coldchain.conftest import FRIDGE, T0, Bank
from tests.cloud.conftest import Cloud, secret


def test_samples_past_the_retention_are_purged_and_the_rest_kept(cold: Cloud) -> None:
    days = [T0 - timedelta(days=400), T0 - timedelta(days=300), T0]
    samples: list[ZoneSample] = [Reading(at=at, celsius=4.0) for at in days]
    batch = ZoneSamples(zone=FRIDGE, temperature_class=TemperatureClass.CHILLED, samples=samples)
    engine = cold.engine
    Bank(engine).send(T0, batch)
    assert purge_samples(engine, T0 - timedelta(days=CLOUD_RETENTION_DAYS)) == 1
    with Session(engine) as s:
        kept = sorted(row.at for row in s.exec(select(ColdSample)))
    assert kept == days[1:]


@pytest.mark.parametrize("days", [30, 364.9])
def test_a_retention_under_a_year_is_refused(days: float) -> None:
    with pytest.raises(ValidationError):
        Settings(secret_key=secret(), cold_retention_days=days)
    assert Settings(secret_key=secret()).cold_retention_days >= CLOUD_RETENTION_DAYS
