"""A carrier's view of its own parcels' cold chain: the trace as JSON, CSV and an SVG chart.

``GET /api/v1/parcels/{waybill}/trace`` (``.csv``, ``.svg``): its zone's samples from deposit to
pickup (up to now while it is in the locker), minimum, maximum, time out of range, unknown time
and its gaps, the excursions that met its stay and whether the chain held (known at pickup).
Another carrier's parcel, or an ambient one, is "not found".
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel

from cloud.api.deps import ClockDep, CurrentPrincipal, EngineDep
from cloud.api.routes import ERRORS
from cloud.coldchain import chart, export, service
from locker_contract.text import Text

router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["carriers"])


class GapPublic(BaseModel):
    start: datetime
    end: datetime


class ExcursionPublic(BaseModel):
    out_since: datetime
    detected_at: datetime
    back_at: datetime | None
    min_celsius: float | None
    max_celsius: float | None


class TracePublic(BaseModel):
    waybill: str
    bank_id: str
    zone: str
    temperature_class: str
    deposited_at: datetime
    picked_up_at: datetime | None  # None: still in the locker (the trace runs to now)
    chain_held: bool | None  # known once it left the locker
    samples: int
    failed_samples: int
    min_celsius: float | None
    max_celsius: float | None
    in_range_s: float
    out_of_range_s: float
    unknown_s: float
    gaps: list[GapPublic]
    excursions: list[ExcursionPublic]


def public(found: service.ParcelTrace) -> TracePublic:
    chain, summary = found.chain, found.trace.summary
    return TracePublic(
        waybill=found.waybill,
        bank_id=chain.bank_id,
        zone=chain.zone,
        temperature_class=chain.temperature_class,
        deposited_at=chain.deposited_at,
        picked_up_at=chain.picked_up_at,
        chain_held=chain.held,
        samples=summary.samples,
        failed_samples=summary.failed,
        min_celsius=summary.min_celsius,
        max_celsius=summary.max_celsius,
        in_range_s=summary.in_range_s,
        out_of_range_s=summary.out_of_range_s,
        unknown_s=summary.unknown_s,
        gaps=[GapPublic(start=g.start, end=g.end) for g in summary.gaps],
        excursions=[
            ExcursionPublic.model_validate(e, from_attributes=True) for e in found.trace.excursions
        ],
    )


@router.get("/parcels/{waybill}/trace")
def parcel_trace(
    waybill: Text, engine: EngineDep, who: CurrentPrincipal, clock: ClockDep
) -> TracePublic:
    """The parcel's temperature trace and whether its cold chain held."""
    return public(service.for_carrier(engine, who, waybill, clock.now()))


@router.get("/parcels/{waybill}/trace.csv", response_class=Response)
def parcel_trace_csv(
    waybill: Text, engine: EngineDep, who: CurrentPrincipal, clock: ClockDep
) -> Response:
    """The parcel's samples as CSV (UTC), one row each."""
    found = service.for_carrier(engine, who, waybill, clock.now())
    return csv_response(found.trace, f"trace-{found.parcel_id}.csv")


@router.get("/parcels/{waybill}/trace.svg", response_class=Response)
def parcel_trace_svg(
    waybill: Text, engine: EngineDep, who: CurrentPrincipal, clock: ClockDep
) -> Response:
    """The parcel's trace as a chart, its class's range shaded."""
    found = service.for_carrier(engine, who, waybill, clock.now())
    drawn = chart.svg(found.trace, f"{found.waybill}: {found.chain.temperature_class}")
    return Response(drawn, media_type="image/svg+xml")


def csv_response(trace: service.Trace, filename: str) -> Response:
    """A trace as a CSV download named ``filename`` (made of ids, never of what a user typed)."""
    disposition = f'attachment; filename="{filename}"'
    return Response(
        export.csv_text(trace),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )
