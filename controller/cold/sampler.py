"""Reading every watched zone on the bank's clock, and what becomes of the samples.

Each sample is stored in the transaction that moves its zone's watch (``watch``) and emits any
event that raises, so a crash loses neither. Samples travel to the cloud in ``zone.samples``
batches through the outbox (at most ``ColdPolicy.batch_max`` each, at least every
``send_every_s``): offline, the batches wait there with every other event, and the link sends
them on reconnect. A stored sample is forgotten once its batch has left the outbox and it is
older than ``retention_days``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_
from sqlmodel import Session, col, delete, select

from controller.clock import Clock
from controller.cold.tables import ZoneSampleRow, ZoneWatch
from controller.cold.watch import aware, observe
from controller.cold.zones import ColdPolicy, SensorSpec, ZoneSpec
from controller.store import Outbox, emit, transaction
from locker_contract import cold
from locker_contract.cold import SampleFailure
from locker_contract.events import (
    Event,
    FailedReading,
    Reading,
    ZoneSample,
    ZoneSamples,
    ZoneSensorHealth,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Measurement:
    celsius: float
    humidity: float | None = None


class SensorFailed(Exception):
    """A sensor that did not answer, or answered nothing a reading can be made of."""

    def __init__(self, failure: SampleFailure, detail: str = "") -> None:
        super().__init__(f"{failure}: {detail}" if detail else failure)
        self.failure: SampleFailure = failure


SensorReader = Callable[[SensorSpec], Awaitable[Measurement]]


class ZoneSampler:
    """Samples every zone with a sensor, every ``sample_every_s`` on ``clock``."""

    def __init__(
        self,
        engine: Engine,
        zones: list[ZoneSpec],
        policy: ColdPolicy,
        reader: SensorReader,
        clock: Clock,
    ) -> None:
        self.engine, self.policy, self.reader, self.clock = engine, policy, reader, clock
        self.zones = [zone for zone in zones if zone.sensor is not None]

    async def run(self) -> None:
        """Sample and send for ever, one round every ``sample_every_s``."""
        while True:
            started = self.clock.monotonic()
            try:
                await self.sample_once()
                self.send_batches()
            except Exception:
                log.exception("zone sampling failed; retrying")
            elapsed = self.clock.monotonic() - started
            await self.clock.sleep(max(0.0, self.policy.sample_every_s - elapsed))

    async def sample_once(self) -> None:
        for zone in self.zones:
            self.record(zone, await self.read(zone))

    async def read(self, zone: ZoneSpec) -> ZoneSample:
        """One sample of ``zone``'s sensor: a reading, or the failure in its place."""
        assert zone.sensor is not None
        at = self.clock.wall()
        try:
            found = await self.reader(zone.sensor)
        except SensorFailed as exc:
            log.warning("zone %s: sensor failed (%s)", zone.name, exc)
            return FailedReading(at=at, failure=exc.failure)
        except Exception:  # a reader's bug is still a sample missing from the trace
            log.exception("zone %s: reading its sensor failed unexpectedly", zone.name)
            return FailedReading(at=at, failure="bad_reply")
        if not cold.plausible(found.celsius):
            log.warning("zone %s: implausible reading %s", zone.name, found)
            return FailedReading(at=at, failure="implausible")
        return Reading(at=at, celsius=found.celsius, humidity=_humidity(zone, found.humidity))

    def record(self, zone: ZoneSpec, sample: ZoneSample) -> None:
        """Store ``sample`` and move its zone's watch, with the events that raises."""
        with transaction(self.engine) as s:
            s.add(_row(zone.name, sample))
            watch = s.get(ZoneWatch, zone.name) or ZoneWatch(zone=zone.name)
            for event in observe(
                watch, zone.temperature_class, sample, self.policy.failures_to_alarm
            ):
                emit(s, _from_first_failure(s, zone.name, event))
            s.add(watch)

    def send_batches(self) -> int:
        """Put each zone's unsent samples into the outbox once there are ``batch_max`` of them
        or the oldest waited ``send_every_s``; how many batches went."""
        due = self.clock.wall() - timedelta(seconds=self.policy.send_every_s)
        sent = 0
        with transaction(self.engine) as s:
            for zone in self.zones:
                sent += self._batch_zone(s, zone, due)
        return sent

    def _batch_zone(self, s: Session, zone: ZoneSpec, due: datetime) -> int:
        rows = _unsent(s, zone.name)
        batches = 0
        while rows and (len(rows) >= self.policy.batch_max or aware(rows[0].at) <= due):
            batch, rows = rows[: self.policy.batch_max], rows[self.policy.batch_max :]
            samples = [_sample(row) for row in batch]
            event = ZoneSamples(
                zone=zone.name, temperature_class=zone.temperature_class, samples=samples
            )
            seq = emit(s, event).seq
            for row in batch:
                row.batch_seq = seq
                s.add(row)
            batches += 1
        return batches

    def purge(self) -> int:
        """Forget the samples the cloud has (their batch left the outbox) that are older than
        the retention period; how many went."""
        before = self.clock.wall() - timedelta(days=self.policy.retention_days)
        waiting = select(Outbox.seq)
        with transaction(self.engine) as s:
            gone = s.exec(
                delete(ZoneSampleRow).where(
                    col(ZoneSampleRow.batch_seq).is_not(None),
                    col(ZoneSampleRow.batch_seq).not_in(waiting),
                    col(ZoneSampleRow.at) < before,
                )
            )
            return int(gone.rowcount)


def _from_first_failure(s: Session, zone: str, event: Event) -> Event:
    """A sensor reported failing fails since its first bad sample after its last good one, with
    that sample's failure (the watch counts the failures, the store holds them)."""
    if not isinstance(event, ZoneSensorHealth) or event.ok:
        return event
    rows = col(ZoneSampleRow.at)
    good = select(func.max(rows)).where(
        ZoneSampleRow.zone == zone, col(ZoneSampleRow.celsius).is_not(None)
    )
    query = select(ZoneSampleRow).where(
        ZoneSampleRow.zone == zone,
        col(ZoneSampleRow.failure).is_not(None),
        or_(good.scalar_subquery().is_(None), rows > good.scalar_subquery()),
    )
    first = s.exec(query.order_by(rows, col(ZoneSampleRow.id))).first()
    if first is None:
        return event
    return event.model_copy(update={"since": aware(first.at), "failure": first.failure})


def _unsent(s: Session, zone: str) -> list[ZoneSampleRow]:
    query = select(ZoneSampleRow).where(
        ZoneSampleRow.zone == zone, col(ZoneSampleRow.batch_seq).is_(None)
    )
    return list(s.exec(query.order_by(col(ZoneSampleRow.at), col(ZoneSampleRow.id))))


def _row(zone: str, sample: ZoneSample) -> ZoneSampleRow:
    if isinstance(sample, FailedReading):
        return ZoneSampleRow(zone=zone, at=sample.at, failure=sample.failure)
    return ZoneSampleRow(zone=zone, at=sample.at, celsius=sample.celsius, humidity=sample.humidity)


def _sample(row: ZoneSampleRow) -> ZoneSample:
    at = aware(row.at)
    if row.celsius is None:
        return FailedReading.model_validate({"at": at, "failure": row.failure})
    return Reading(at=at, celsius=row.celsius, humidity=row.humidity)


def _humidity(zone: ZoneSpec, humidity: float | None) -> float | None:
    """The humidity to keep; one no hygrometer reads is dropped, not the temperature with it
    (the cold chain's record is the temperature)."""
    if humidity is None or 0.0 <= humidity <= 100.0:
        return humidity
    log.warning("zone %s: implausible humidity %s dropped", zone.name, humidity)
    return None
