"""What one sample does to a zone's watch, and the events it raises (pure: no IO, no clock).

The rules are ``locker_contract.cold``'s: a good sample out of range starts (or extends) a time
out of range, and once that has lasted longer than the class's duration, an excursion starts;
the first good sample back in range ends it. A failed sample changes neither; after
``failures_to_alarm`` of them in a row, a watched zone's sensor is reported failing, and its
next good sample reports it back. The watch counts failures and keeps none: the event it raises
names the sample that made the count; the sampler, which stores every sample, dates it from the
first of the run (``controller.cold.sampler``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from controller.cold.tables import ZoneWatch
from locker_contract import cold
from locker_contract.cold import TemperatureClass
from locker_contract.events import (
    Event,
    FailedReading,
    Reading,
    ZoneExcursionEnded,
    ZoneExcursionStarted,
    ZoneSample,
    ZoneSensorHealth,
)


def observe(
    watch: ZoneWatch, klass: TemperatureClass, sample: ZoneSample, failures_to_alarm: int
) -> list[Event]:
    """Move ``watch`` by ``sample``; the events that reports, in order."""
    if isinstance(sample, FailedReading):
        return _failed(watch, klass, sample, failures_to_alarm)
    return _answered(watch, klass, sample) + _measured(watch, klass, sample)


def _failed(
    watch: ZoneWatch, klass: TemperatureClass, sample: FailedReading, failures_to_alarm: int
) -> list[Event]:
    watch.failures += 1
    if watch.sensor_failing or watch.failures < failures_to_alarm or not cold.needs_sensor(klass):
        return []
    watch.sensor_failing = True
    return [_health(watch, klass, ok=False, since=sample.at, failure=sample.failure)]


def _answered(watch: ZoneWatch, klass: TemperatureClass, sample: Reading) -> list[Event]:
    watch.failures = 0
    if not watch.sensor_failing:
        return []
    watch.sensor_failing = False
    return [_health(watch, klass, ok=True, since=sample.at)]


def _health(
    watch: ZoneWatch,
    klass: TemperatureClass,
    *,
    ok: bool,
    since: datetime,
    failure: cold.SampleFailure | None = None,
) -> ZoneSensorHealth:
    return ZoneSensorHealth(
        zone=watch.zone, temperature_class=klass, ok=ok, failure=failure, since=since
    )


def _measured(watch: ZoneWatch, klass: TemperatureClass, sample: Reading) -> list[Event]:
    if cold.in_range(klass, sample.celsius):
        return _back_in_range(watch, klass, sample)
    if watch.out_since is None:
        watch.out_since, watch.out_min, watch.out_max = sample.at, sample.celsius, sample.celsius
    else:
        watch.out_min = min(_known(watch.out_min), sample.celsius)
        watch.out_max = max(_known(watch.out_max), sample.celsius)
    out_since = aware(watch.out_since)
    if watch.excursion_id is not None or not cold.excursion_due(klass, out_since, sample.at):
        return []
    watch.excursion_id = str(uuid.uuid4())
    started = ZoneExcursionStarted(
        excursion_id=uuid.UUID(watch.excursion_id),
        zone=watch.zone,
        temperature_class=klass,
        out_since=out_since,
        detected_at=sample.at,
        celsius=sample.celsius,
    )
    return [started]


def _back_in_range(watch: ZoneWatch, klass: TemperatureClass, sample: Reading) -> list[Event]:
    events: list[Event] = []
    if watch.excursion_id is not None and watch.out_since is not None:
        ended = ZoneExcursionEnded(
            excursion_id=uuid.UUID(watch.excursion_id),
            zone=watch.zone,
            temperature_class=klass,
            out_since=aware(watch.out_since),
            back_at=sample.at,
            min_celsius=_known(watch.out_min),
            max_celsius=_known(watch.out_max),
        )
        events.append(ended)
    watch.out_since = watch.out_min = watch.out_max = watch.excursion_id = None
    return events


def _known(value: float | None) -> float:
    assert value is not None, "a zone out of range has its extremes"
    return value


def aware(moment: datetime) -> datetime:
    """A time read back from SQLite (which keeps no zone) as the UTC time it was written."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
