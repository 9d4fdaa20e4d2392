"""A trace as an SVG chart, drawn on the server (no script): the class's band shaded, the
excursions shaded, the temperature as a line broken wherever it is unknown.

The y axis spans the samples and the band, with a margin; the x axis the trace's span. Every
text is escaped; the chart names itself for screen readers (``role="img"`` and a title).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from cloud.coldchain.service import Trace
from cloud.coldchain.trace import Reading, Span, standing
from locker_contract.cold import RANGES

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40  # room for the axes' labels
MARGIN_C = 2.0  # above and below what is drawn
PLOT_WIDTH = WIDTH - LEFT - RIGHT  # pixels: beyond one sample each, a run is drawn as extremes
BAND, EXCURSION, LINE, AXIS = "#d8f0e0", "#f6d2d2", "#1d4f91", "#555555"


@dataclass(frozen=True)
class Scale:
    start: datetime
    seconds: float
    low: float
    high: float

    def x(self, at: datetime) -> float:
        share = (at - self.start).total_seconds() / self.seconds if self.seconds else 0.0
        return LEFT + min(max(share, 0.0), 1.0) * (WIDTH - LEFT - RIGHT)

    def y(self, celsius: float) -> float:
        share = (celsius - self.low) / (self.high - self.low)
        return TOP + (1.0 - min(max(share, 0.0), 1.0)) * (HEIGHT - TOP - BOTTOM)


def scale(trace: Trace) -> Scale:
    band = RANGES[trace.klass]
    values = [x.celsius for x in trace.samples if x.celsius is not None]
    values += [v for v in (band.min_c, band.max_c) if v is not None]
    low, high = min(values, default=0.0) - MARGIN_C, max(values, default=0.0) + MARGIN_C
    return Scale(trace.span.start, trace.span.seconds, low, high)


def svg(trace: Trace, title: str) -> str:
    """The chart, titled ``title`` (shown to screen readers)."""
    at = scale(trace)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title" width="100%" class="cold-chart">',
        f'<title id="chart-title">{escape(title)}</title>',
        *_band(trace, at),
        *_excursions(trace, at),
        *_axes(trace, at),
        *_lines(trace, at),
        "</svg>",
    ]
    return "\n".join(parts)


def _rect(x1: float, y1: float, x2: float, y2: float, fill: str) -> str:
    return (
        f'<rect x="{x1:.1f}" y="{min(y1, y2):.1f}" width="{max(x2 - x1, 0.5):.1f}" '
        f'height="{abs(y2 - y1):.1f}" fill="{fill}"/>'
    )


def _band(trace: Trace, at: Scale) -> Iterator[str]:
    band = RANGES[trace.klass]
    if band.min_c is None and band.max_c is None:
        return
    top = at.y(band.max_c if band.max_c is not None else at.high)
    bottom = at.y(band.min_c if band.min_c is not None else at.low)
    yield _rect(LEFT, top, WIDTH - RIGHT, bottom, BAND)


def _excursions(trace: Trace, at: Scale) -> Iterator[str]:
    end = trace.span.end
    for excursion in trace.excursions:
        x1, x2 = at.x(excursion.out_since), at.x(excursion.back_at or end)
        yield _rect(x1, TOP, x2, HEIGHT - BOTTOM, EXCURSION)


def _axes(trace: Trace, at: Scale) -> Iterator[str]:
    base = HEIGHT - BOTTOM
    yield f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="{AXIS}"/>'
    yield f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="{AXIS}"/>'
    band = RANGES[trace.klass]
    ticks = {float(round(at.low)), float(round(at.high))}
    ticks |= {v for v in (band.min_c, band.max_c) if v is not None}
    for value in sorted(ticks):
        yield _text(LEFT - 6, at.y(value) + 4, f"{value:g} °C", "end")
    yield _text(LEFT, base + 18, _when(trace.span.start), "start")
    yield _text(WIDTH - RIGHT, base + 18, _when(trace.span.end), "end")


def _text(x: float, y: float, words: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" fill="{AXIS}" '
        f"text-anchor={quoteattr(anchor)}>{escape(words)}</text>"
    )


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _lines(trace: Trace, at: Scale) -> Iterator[str]:
    """One polyline per run of samples with no unknown time between them."""
    readings = [Reading(x.at, x.celsius) for x in trace.samples]
    for run in _runs(standing(readings)):
        yield _polyline(_steps(run, at) if len(run) <= PLOT_WIDTH else _envelope(run, at))


Stood = tuple[Reading, Span]


def _runs(stood: list[Stood]) -> Iterator[list[Stood]]:
    """``stood`` cut wherever a sample starts after the previous one stopped standing."""
    run: list[Stood] = []
    for entry in stood:
        if run and entry[0].at > run[-1][1].end:
            yield run
            run = []
        run.append(entry)
    if run:
        yield run


def _steps(run: list[Stood], at: Scale) -> list[str]:
    """Each sample level for the time it stands for."""
    points = []
    for reading, stood in run:
        y = at.y(_celsius(reading))
        points += [f"{at.x(stood.start):.1f},{y:.1f}", f"{at.x(stood.end):.1f},{y:.1f}"]
    return points


def _envelope(run: list[Stood], at: Scale) -> list[str]:
    """More samples than pixels (a month of minutes): per pixel column, its lowest and highest
    sample in the order they came, so that no peak is lost and the drawing stays small."""
    columns: dict[int, list[float]] = {}
    for reading, _ in run:
        columns.setdefault(round(at.x(reading.at)), []).append(_celsius(reading))
    points = []
    for x, values in columns.items():
        low, high = min(values), max(values)
        first, second = (low, high) if values.index(low) < values.index(high) else (high, low)
        points += [f"{x},{at.y(first):.1f}", f"{x},{at.y(second):.1f}"]
    return points


def _celsius(reading: Reading) -> float:
    assert reading.celsius is not None  # standing() keeps good readings only
    return reading.celsius


def _polyline(points: list[str]) -> str:
    return f'<polyline fill="none" stroke="{LINE}" stroke-width="1.5" points="{" ".join(points)}"/>'
