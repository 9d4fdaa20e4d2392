"""The daemon samples its zones once its buses are open: on the twin, the fridge's transmitter
answers on the locks' bus, and the sample is in the store."""

from __future__ import annotations

import pytest
from sqlmodel import select

from controller.cold.tables import ZoneSampleRow
from tests.controller.conftest import Bank
from tests.waiting import wait_until

pytestmark = pytest.mark.pty


def test_the_daemon_samples_the_fridge_as_it_starts(bank: Bank) -> None:
    def sampled() -> list[ZoneSampleRow]:
        with bank.session() as s:
            return list(s.exec(select(ZoneSampleRow)))

    wait_until(lambda: len(sampled()) > 0)
    [first, *_] = sampled()
    assert (first.zone, first.failure) == ("fridge-1", None)
    assert first.celsius is not None
    assert 2.0 <= first.celsius <= 8.0  # the twin's thermostat holds its setpoint
    assert bank.edge.cold is not None


def test_the_banks_state_tells_the_cloud_each_compartments_class(bank: Bank) -> None:
    classes = {c.label: c.temperature_class for c in bank.edge.flows.snapshot().compartments}
    assert {label for label, k in classes.items() if k == "chilled"} == {"A04", "B04"}
    assert classes["A03"] == "ambient"
