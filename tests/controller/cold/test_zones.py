"""Zones in the bank's configuration: a compartment's class, and what is refused at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import ConfigError, load_config
from locker_contract.cold import TemperatureClass
from tests.controller.cold.conftest import bank_toml


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "bank.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    return caught.value.problems


def test_a_compartment_takes_its_zones_class_and_ambient_outside_any(tmp_path: Path) -> None:
    path = tmp_path / "bank.toml"
    path.write_text(bank_toml(extra="[cold]\nsample_every_s = 30\n"), encoding="utf-8")
    config = load_config(path)
    assert config.temperature_class("A05") is TemperatureClass.CHILLED
    assert config.temperature_class("A01") is TemperatureClass.AMBIENT
    assert config.cold.sample_every_s == 30
    assert config.cold.retention_days == 14


def test_a_bank_without_zones_is_all_ambient(tmp_path: Path) -> None:
    path = tmp_path / "bank.toml"
    path.write_text(bank_toml(zones=""), encoding="utf-8")
    config = load_config(path)
    assert config.zones == []
    assert {config.temperature_class(c.label) for c in config.compartments} == {
        TemperatureClass.AMBIENT
    }


def test_a_chilled_zone_without_a_sensor_is_refused(tmp_path: Path) -> None:
    zone = '[[zones]]\nname = "fridge-1"\nclass = "chilled"\ncompartments = ["A05"]\n'
    assert _problems(tmp_path, bank_toml(zones=zone)) == [
        "zone fridge-1: a chilled zone needs a sensor"
    ]


def test_an_ambient_zone_may_go_without_a_sensor(tmp_path: Path) -> None:
    zone = '[[zones]]\nname = "hall"\nclass = "ambient"\ncompartments = ["A01"]\n'
    _load(tmp_path, bank_toml(zones=zone))


def test_every_zone_problem_is_listed(tmp_path: Path) -> None:
    zones = """
[[zones]]
name = "fridge-1"
class = "chilled"
compartments = ["A05", "Z09"]
sensor = { bus = "nowhere", address = 10 }

[[zones]]
name = "fridge-1"
class = "frozen"
compartments = ["A05"]
"""
    assert sorted(_problems(tmp_path, bank_toml(zones=zones))) == sorted(
        [
            "zone 'fridge-1' is defined twice",
            "compartment A05 is in 2 zones",
            "zone fridge-1: no compartment Z09",
            "zone fridge-1: its sensor's bus 'nowhere' is not configured",
            "zone fridge-1: a frozen zone needs a sensor",
        ]
    )


@pytest.mark.parametrize(
    ("profile", "problem"),
    [
        ("nosuch", "sensor profile: unknown sensor profile 'nosuch'; known: sht20"),
        ("scale=7", "sensor profile: sensor scale must be one of (1, 10, 100)"),
        ("baud=19200", "its sensor speaks 19200 baud, bus main runs 9600"),
    ],
)
def test_a_sensor_profile_that_cannot_be_read_is_refused(
    tmp_path: Path, profile: str, problem: str
) -> None:
    text = bank_toml().replace('profile = "sht20"', f'profile = "{profile}"')
    assert _problems(tmp_path, text) == [f"zone fridge-1: {problem}"]


def test_a_custom_profile_is_taken(tmp_path: Path) -> None:
    text = bank_toml().replace('profile = "sht20"', 'profile = "function=3,scale=100"')
    _load(tmp_path, text)


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("[cold]\nsample_every_s = 61\n", "cold.sample_every_s"),  # at least once a minute
        ("[cold]\nbatch_max = 61\n", "cold.batch_max"),
        ("[cold]\nretention_days = 0\n", "cold.retention_days"),
    ],
)
def test_cold_settings_out_of_bounds_are_refused(tmp_path: Path, extra: str, where: str) -> None:
    problems = _problems(tmp_path, bank_toml(extra=extra))
    assert [p.split(":")[0] for p in problems] == [where]


def test_an_unknown_class_is_refused(tmp_path: Path) -> None:
    zone = bank_toml().replace('class = "chilled"', 'class = "tepid"')
    assert [p.split(":")[0] for p in _problems(tmp_path, zone)] == ["zones.0.class"]
