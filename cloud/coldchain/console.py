"""The cold chain's console pages, ``/console/cold/...``: the zones a person's sites have, a
zone's chart over the last hours, a parcel's trace from deposit to pickup, and their CSV.

Everything is scoped by the person's sites (``Person.site_ids``): another site's zone or parcel
is "not found", as an unknown one is. The charts are SVG drawn on the server: no script.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from cloud.api.deps import ClockDep, EngineDep
from cloud.coldchain import chart, service
from cloud.coldchain.api import csv_response
from cloud.coldchain.trace import Span
from cloud.console.accounts.deps import CurrentPerson
from cloud.console.pages.common import page, page_router
from cloud.console.texts import Translator
from cloud.console.web import language
from locker_contract.cold import ZONE_PATTERN

router = page_router()
Hours = Annotated[int, Query(ge=1, le=744)]  # up to 31 days (service.ZONE_SPAN_MAX)
Zone = Annotated[str, Path(pattern=ZONE_PATTERN)]
Id = Annotated[str, Path(max_length=64)]


@router.get("/cold", response_class=HTMLResponse)
def zones_page(request: Request, person: CurrentPerson, engine: EngineDep) -> HTMLResponse:
    found = service.zones(engine, person.site_ids)
    return page(request, "cold/zones.html", {"person": person, "zones": found})


def _zone_trace(
    engine: EngineDep, person: CurrentPerson, where: tuple[str, str], hours: int, clock: ClockDep
) -> service.Trace:
    now = clock.now()
    span = Span(now - timedelta(hours=hours), now)
    return service.zone_for_sites(engine, person.site_ids, where, span)


@router.get("/cold/zones/{bank_id}/{zone}.csv")
def zone_csv(
    bank_id: Id, zone: Zone, *, person: CurrentPerson, engine: EngineDep, clock: ClockDep,
    hours: Hours = 24,
) -> Response:  # fmt: skip
    trace = _zone_trace(engine, person, (bank_id, zone), hours, clock)
    return csv_response(trace, f"zone-{bank_id}-{zone}.csv")


@router.get("/cold/zones/{bank_id}/{zone}", response_class=HTMLResponse)
def zone_page(
    request: Request, bank_id: Id, zone: Zone, *, person: CurrentPerson, engine: EngineDep,
    clock: ClockDep, hours: Hours = 24,
) -> HTMLResponse:  # fmt: skip
    trace = _zone_trace(engine, person, (bank_id, zone), hours, clock)
    parcels = service.parcels_in_zone(engine, person.site_ids, (bank_id, zone), trace.span)
    drawn = _chart(request, trace, f"{bank_id} / {zone}")
    context = {"person": person, "trace": trace, "chart": drawn, "hours": hours}
    return page(request, "cold/zone.html", context | {"parcels": parcels})


@router.get("/cold/parcels/{parcel_id}.csv")
def parcel_csv(
    parcel_id: Id, person: CurrentPerson, engine: EngineDep, clock: ClockDep
) -> Response:
    found = service.for_sites(engine, person.site_ids, parcel_id, clock.now())
    return csv_response(found.trace, f"trace-{found.parcel_id}.csv")


@router.get("/cold/parcels/{parcel_id}", response_class=HTMLResponse)
def parcel_page(
    request: Request, parcel_id: Id, person: CurrentPerson, engine: EngineDep, clock: ClockDep
) -> HTMLResponse:
    found = service.for_sites(engine, person.site_ids, parcel_id, clock.now())
    drawn = _chart(request, found.trace, found.waybill)
    context = {"person": person, "found": found, "trace": found.trace, "chart": drawn}
    return page(request, "cold/parcel.html", context)


def _chart(request: Request, trace: service.Trace, name: str) -> Markup:
    """The chart, titled in the reader's language; its text is escaped where it is drawn."""
    title = Translator(language(request))("cold.chart", name=name)
    return Markup(chart.svg(trace, title))  # chart.svg escapes every text
