"""Temperature classes and the cold chain's rules: ONE definition for the edge and the cloud.

A compartment belongs to a *zone* (a chilled or frozen cabinet with one sensor) or to none
(``ambient``). Each class has a range and an excursion duration:

- ``ambient``: no range, no sensor needed, never an excursion;
- ``chilled``: 2 to 8 degrees C (the range issue 17 asks for);
- ``frozen``: -18 degrees C or colder.

A zone is *out of range* when a good sample lies outside its class's range; an *excursion*
starts when it has stayed out of range for longer than the class's duration (a door opened for
a deposit warms a zone for a minute or two: that is not an excursion), and ends at the first good
sample back in range. A failed sample (the sensor silent or talking nonsense) neither starts nor
ends one: the sensor's failure is its own alarm, and the trace shows the gap.

Everything here is pure; the edge decides with it at the bank (offline too), the cloud replays
the same rules on the samples it receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

CHILLED_MIN_C = 2.0
CHILLED_MAX_C = 8.0
FROZEN_MAX_C = -18.0
# out of range this long before it is an excursion: a door held open for a deposit or a pickup
# warms a cabinet for a minute or two, a compressor that stopped for good does not recover
CHILLED_EXCURSION_AFTER = timedelta(minutes=10)
FROZEN_EXCURSION_AFTER = timedelta(minutes=15)

SAMPLE_EVERY_MAX = timedelta(minutes=1)  # the floor: each zone read once a minute
SAMPLES_PER_BATCH_MAX = 60  # one ``zone.samples`` event carries at most this many
EDGE_RETENTION_DAYS = 14  # the bank keeps sent samples this long (default, configurable)
CLOUD_RETENTION_DAYS = 366  # EN 12830: records kept at least a year (default, configurable)

# what a thermometer in a locker can plausibly read; beyond it the reply is garbage
PLAUSIBLE_MIN_C = -60.0
PLAUSIBLE_MAX_C = 80.0

ZONE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
ZoneName = Annotated[str, Field(pattern=ZONE_PATTERN, examples=["fridge-1"])]

# why a sample failed: no answer in time, a reply that did not parse (CRC, exception code),
# or a value no thermometer in a locker reads
SampleFailure = Literal["no_answer", "bad_reply", "implausible"]


class TemperatureClass(StrEnum):
    """What a compartment keeps its parcels at, and what a parcel asks for."""

    AMBIENT = "ambient"
    CHILLED = "chilled"
    FROZEN = "frozen"


@dataclass(frozen=True)
class ClassRange:
    """A class's acceptable range (None: unbounded on that side) and its excursion duration."""

    min_c: float | None
    max_c: float | None
    excursion_after: timedelta

    def holds(self, celsius: float) -> bool:
        """Whether ``celsius`` is within the range (its bounds included)."""
        above_min = self.min_c is None or celsius >= self.min_c
        below_max = self.max_c is None or celsius <= self.max_c
        return above_min and below_max


RANGES: dict[TemperatureClass, ClassRange] = {
    TemperatureClass.AMBIENT: ClassRange(None, None, timedelta(0)),
    TemperatureClass.CHILLED: ClassRange(CHILLED_MIN_C, CHILLED_MAX_C, CHILLED_EXCURSION_AFTER),
    TemperatureClass.FROZEN: ClassRange(None, FROZEN_MAX_C, FROZEN_EXCURSION_AFTER),
}


def needs_sensor(klass: TemperatureClass) -> bool:
    """Every class with a range is watched: a chilled or frozen zone without a sensor is an
    error in the bank's configuration."""
    return klass is not TemperatureClass.AMBIENT


def in_range(klass: TemperatureClass, celsius: float) -> bool:
    return RANGES[klass].holds(celsius)


def plausible(celsius: float) -> bool:
    return PLAUSIBLE_MIN_C <= celsius <= PLAUSIBLE_MAX_C


def serves(compartment: TemperatureClass, wanted: TemperatureClass | None) -> bool:
    """Whether a compartment of class ``compartment`` may take a parcel that asked for
    ``wanted`` (None: nothing asked, which is ambient). Classes match exactly: a chilled parcel
    goes only into a chilled compartment, and an ambient one never takes a fridge's room."""
    return compartment is (wanted or TemperatureClass.AMBIENT)


def excursion_due(klass: TemperatureClass, out_since: datetime, now: datetime) -> bool:
    """Whether a zone out of range since ``out_since`` is, at ``now``, in an excursion: out for
    strictly longer than its class's duration."""
    if klass is TemperatureClass.AMBIENT:
        return False
    return now - out_since > RANGES[klass].excursion_after
