"""A bank's temperature zones (``[[zones]]`` in its configuration) and the cold chain's settings.

A zone is a chilled or frozen cabinet: its class, the sensor that watches it, and the labels of
its compartments. A compartment in no zone is ambient. Checked at load with the rest of the
configuration: a watched class (``locker_contract.cold.needs_sensor``) without a sensor, a label
in two zones or in none of the compartments, a sensor on a bus that does not exist.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from firmware_bridge.errors import InvalidRequest
from firmware_bridge.sensors import parse_profile
from locker_contract import cold
from locker_contract.cold import TemperatureClass, ZoneName

Label = Annotated[str, Field(pattern=r"^[A-Z][0-9]{2}$")]
EVERY_MAX_S = cold.SAMPLE_EVERY_MAX.total_seconds()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SensorSpec(_Strict):
    """Where a zone's sensor answers: a bus of the configuration, its Modbus address, and the
    profile that says how to read it: a built-in name (``sht20``) or an installer's
    ``key=value`` list (``firmware_bridge.sensors.parse_profile``)."""

    bus: Annotated[str, Field(min_length=1)]
    address: Annotated[int, Field(ge=1, le=247)]
    profile: Annotated[str, Field(min_length=1, max_length=200)] = "sht20"


class ZoneSpec(_Strict):
    name: ZoneName
    temperature_class: Annotated[TemperatureClass, Field(alias="class")]
    sensor: SensorSpec | None = None
    compartments: Annotated[list[Label], Field(min_length=1)]


class ColdPolicy(_Strict):
    """How often zones are read, sent and forgotten."""

    sample_every_s: Annotated[float, Field(gt=0, le=EVERY_MAX_S)] = EVERY_MAX_S
    send_every_s: Annotated[float, Field(gt=0)] = 300.0  # a batch at least this often
    batch_max: Annotated[int, Field(ge=1, le=cold.SAMPLES_PER_BATCH_MAX)] = (
        cold.SAMPLES_PER_BATCH_MAX
    )
    retention_days: Annotated[float, Field(gt=0)] = float(cold.EDGE_RETENTION_DAYS)
    # consecutive failed samples of a watched zone before its sensor is reported failing
    failures_to_alarm: Annotated[int, Field(ge=1)] = 3


def class_of(zones: Iterable[ZoneSpec], label: str) -> TemperatureClass:
    """The class of compartment ``label``: its zone's, or ambient in none."""
    zone = next((z for z in zones if label in z.compartments), None)
    return TemperatureClass.AMBIENT if zone is None else zone.temperature_class


def classes_here(zones: Iterable[ZoneSpec]) -> list[TemperatureClass]:
    """The classes a courier may ask for at this bank's kiosk, ambient first; none to choose
    from on a bank without chilled or frozen zones."""
    found = {zone.temperature_class for zone in zones} - {TemperatureClass.AMBIENT}
    return (
        [k for k in TemperatureClass if k in found or k is TemperatureClass.AMBIENT]
        if found
        else []
    )


def check_zones(zones: list[ZoneSpec], labels: set[str], buses: dict[str, int]) -> list[str]:
    """Problems with ``zones`` given the configured compartment ``labels`` and the buses'
    speeds by name."""
    problems = [f"zone {n!r} is defined twice" for n, c in _counted(z.name for z in zones)]
    placed = (label for zone in zones for label in zone.compartments)
    problems += [f"compartment {label} is in {c} zones" for label, c in _counted(placed)]
    for zone in zones:
        problems += _check_zone(zone, labels, buses)
    return problems


def _check_zone(zone: ZoneSpec, labels: set[str], buses: dict[str, int]) -> list[str]:
    where = f"zone {zone.name}"
    problems = [
        f"{where}: no compartment {label}" for label in zone.compartments if label not in labels
    ]
    if zone.sensor is None and cold.needs_sensor(zone.temperature_class):
        problems.append(f"{where}: a {zone.temperature_class.value} zone needs a sensor")
    if zone.sensor is not None:
        problems += _check_sensor(where, zone.sensor, buses)
    return problems


def _check_sensor(where: str, sensor: SensorSpec, buses: dict[str, int]) -> list[str]:
    try:
        profile = parse_profile(sensor.profile)
    except (InvalidRequest, KeyError) as exc:
        return [f"{where}: sensor profile: {exc.args[0] if exc.args else exc}"]
    baud = buses.get(sensor.bus)
    if baud is None:
        return [f"{where}: its sensor's bus {sensor.bus!r} is not configured"]
    if profile.baud != baud:
        return [f"{where}: its sensor speaks {profile.baud} baud, bus {sensor.bus} runs {baud}"]
    return []


def _counted(names: Iterable[str]) -> list[tuple[str, int]]:
    return [(n, c) for n, c in Counter(names).items() if c > 1]
