"""The fleet page, ``/console/``: every bank the person sees, with filters and pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from cloud.api.deps import EngineDep
from cloud.console.accounts.deps import CurrentPerson
from cloud.console.pages.common import page, page_router, sites_of
from cloud.console.views.fleet import FleetFilter, fleet

router = page_router()
PAGE_SIZE = 50
ONLINE = {"on": True, "off": False}  # the filter's values, and what they ask for
Short = Annotated[str, Query(max_length=64)]


@router.get("/", response_class=HTMLResponse)
def fleet_page(
    request: Request,
    *,
    person: CurrentPerson,
    engine: EngineDep,
    site: Short = "",
    online: Short = "",
    alarms: Short = "",
    q: Short = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    filters = FleetFilter(
        site_id=site if person.sees(site) else None,
        online=ONLINE.get(online),
        with_alarms=alarms == "on",
        text=q.strip(),
    )
    found = fleet(engine, person, filters, limit=PAGE_SIZE, offset=offset)
    context = {
        "person": person,
        "fleet": found,
        "filters": {"site": filters.site_id or "", "online": online, "alarms": alarms, "q": q},
        "sites": sites_of(engine, person),
    }
    return page(request, "fleet.html", context, parts=("banks",))
