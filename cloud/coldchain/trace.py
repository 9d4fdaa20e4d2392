"""The trace math, pure: what a zone's samples say about a span of time (a parcel's stay).

A good sample stands for the zone's temperature from its time until the next sample, but never
longer than ``HOLD``: the bank reads each zone at least every ``SAMPLE_EVERY_MAX``, so a sample
older than ``HOLD`` with nothing after it says nothing, and the time past it is *unknown*, as is
the time a failed reading stands for (a sensor silent or talking nonsense). Time out of range is
weighted by that: the seconds a sample out of its class's range stood for (sample and hold, as
a recorder's log is read; decision 0027). Unknown spans are reported as gaps, never guessed.

Minimum and maximum are those of the good samples that stand for some of the span (the sample
just before it began included), or lie within it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from locker_contract.cold import SAMPLE_EVERY_MAX, TemperatureClass, in_range

HOLD = 2 * SAMPLE_EVERY_MAX  # one late reading (a busy bus) is no gap; two missed are


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0)

    def clip(self, start: datetime, end: datetime) -> Span | None:
        """The part of [start, end) within this span, if any."""
        inner = Span(max(start, self.start), min(end, self.end))
        return inner if inner.end > inner.start else None

    def holds(self, at: datetime) -> bool:
        return self.start <= at <= self.end


@dataclass(frozen=True)
class Reading:
    at: datetime
    celsius: float | None  # None: the reading failed


@dataclass(frozen=True)
class Summary:
    klass: TemperatureClass
    span: Span
    samples: int  # good readings counted
    failed: int  # failed readings within the span
    min_celsius: float | None
    max_celsius: float | None
    in_range_s: float
    out_of_range_s: float
    unknown_s: float
    gaps: tuple[Span, ...]

    @property
    def known(self) -> bool:
        """Whether every second of the span is known."""
        return not self.gaps


def standing(readings: Sequence[Reading]) -> list[tuple[Reading, Span]]:
    """Each good reading with the time it stands for (until the next reading, ``HOLD`` at
    most); oldest first. The spans never overlap."""
    ordered = sorted(readings, key=lambda r: r.at)
    stood: list[tuple[Reading, Span]] = []
    followers: list[Reading | None] = [*ordered[1:], None]
    for here, after in zip(ordered, followers, strict=False):
        if here.celsius is None:
            continue
        until = here.at + HOLD if after is None else min(after.at, here.at + HOLD)
        stood.append((here, Span(here.at, until)))
    return stood


def summarise(readings: Sequence[Reading], span: Span, klass: TemperatureClass) -> Summary:
    """What ``readings`` (a zone's, in any order) say about ``span`` for class ``klass``."""
    in_s = out_s = 0.0
    counted: list[float] = []
    covered: list[Span] = []
    for reading, stood in standing(readings):
        part = stood.clip(span.start, span.end)
        if part is None and not span.holds(reading.at):
            continue
        assert reading.celsius is not None  # standing() keeps good readings only
        counted.append(reading.celsius)
        if part is None:
            continue
        covered.append(part)
        if in_range(klass, reading.celsius):
            in_s += part.seconds
        else:
            out_s += part.seconds
    gaps = tuple(_gaps(span, covered))
    failed = sum(1 for r in readings if r.celsius is None and span.holds(r.at))
    return Summary(
        klass=klass,
        span=span,
        samples=len(counted),
        failed=failed,
        min_celsius=min(counted, default=None),
        max_celsius=max(counted, default=None),
        in_range_s=in_s,
        out_of_range_s=out_s,
        unknown_s=sum(g.seconds for g in gaps),
        gaps=gaps,
    )


def _gaps(span: Span, covered: Iterable[Span]) -> list[Span]:
    """The parts of ``span`` no covered piece (sorted, disjoint) stands for."""
    gaps: list[Span] = []
    at = span.start
    for piece in covered:
        if piece.start > at:
            gaps.append(Span(at, piece.start))
        at = max(at, piece.end)
    if span.end > at:
        gaps.append(Span(at, span.end))
    return gaps


def within(span: Span, margin: timedelta = HOLD) -> Span:
    """The span widened at its start by ``margin``: the samples to load for it (the one
    standing when it began)."""
    return Span(span.start - margin, span.end)
