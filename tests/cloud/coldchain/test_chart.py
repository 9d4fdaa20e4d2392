"""The SVG chart: the class's band shaded, the line broken at gaps, text escaped, and a month of
minutes drawn as per-pixel extremes (no peak lost, the drawing small)."""

from __future__ import annotations

import re
from datetime import timedelta

from cloud.coldchain.chart import BAND, PLOT_WIDTH, scale, svg
from cloud.coldchain.service import Sample, Trace
from cloud.coldchain.trace import Reading, Span, summarise
from locker_contract.cold import TemperatureClass
from tests.cloud.coldchain.conftest import T0, minutes

CHILLED = TemperatureClass.CHILLED


def trace_of(values: list[tuple[float, float | None]]) -> Trace:
    samples = [
        Sample(minutes(m), c, None, None if c is not None else "no_answer") for m, c in values
    ]
    span = Span(samples[0].at, samples[-1].at)
    summary = summarise([Reading(x.at, x.celsius) for x in samples], span, CHILLED)
    return Trace("maple", "fridge-1", CHILLED, span, samples, summary, [])


def test_band_gaps_and_escaped_title() -> None:
    drawn = svg(trace_of([(0, 4.0), (1, 5.0), (2, None), (3, None), (4, 6.0), (5, 6.5)]), "<b>&")
    assert drawn.count("<polyline") == 2  # the silent sensor breaks the line
    assert f'fill="{BAND}"' in drawn
    assert '<title id="chart-title">&lt;b&gt;&amp;</title>' in drawn
    assert "<b>" not in drawn


def test_a_month_of_minutes_is_drawn_small_and_keeps_its_peak() -> None:
    month: list[tuple[float, float | None]] = [
        (float(m), 12.5 if m == 20_000 else 4.0 + (m % 7) / 10) for m in range(31 * 24 * 60)
    ]
    trace = trace_of(month)
    drawn = svg(trace, "fridge-1")
    assert len(drawn) < 60_000
    points = re.search(r'points="([^"]+)"', drawn)
    assert points is not None
    assert len(points.group(1).split()) <= 2 * (PLOT_WIDTH + 1)
    peak = f",{scale(trace).y(12.5):.1f}"
    assert peak in points.group(1)
    assert trace.span.end - trace.span.start == timedelta(minutes=len(month) - 1)
    assert trace.span.start == T0
