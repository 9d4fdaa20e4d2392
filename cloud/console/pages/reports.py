"""The reports page, ``/console/reports``: each site's day and month, side by side.

One site (``?site=``) or every site the person sees (at most ``SITES_SHOWN``), for the day
asked (``?day=YYYY-MM-DD``, today by the injected clock otherwise) and the month it is in.
"""

from __future__ import annotations

from datetime import UTC, date
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from cloud.api.deps import ClockDep, EngineDep
from cloud.console.accounts.deps import CurrentPerson
from cloud.console.pages.common import page, page_router, sites_of
from cloud.console.views.reports import daily, monthly
from cloud.services.errors import Invalid

router = page_router()
SITES_SHOWN = 20  # reports on one page: the rest by choosing a site
Short = Annotated[str, Query(max_length=64)]


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    *,
    person: CurrentPerson,
    engine: EngineDep,
    clock: ClockDep,
    site: Short = "",
    day: Short = "",
) -> HTMLResponse:
    now = clock.now()
    try:
        chosen_day = date.fromisoformat(day) if day else now.astimezone(UTC).date()
    except ValueError:
        raise Invalid(f"not a date: {day[:10]}") from None
    sites = sites_of(engine, person)
    shown = [s for s in sites if s[0] == site] if site else sites[:SITES_SHOWN]
    reports = [
        (
            daily(engine, person, site_id, chosen_day, now=now),
            monthly(engine, person, site_id, chosen_day, now=now),
        )
        for site_id, _ in shown
    ]
    context = {
        "person": person,
        "reports": reports,
        "sites": sites,
        "filters": {"site": site, "day": chosen_day.isoformat()},
        "more": len(sites) > len(shown) and not site,
    }
    return page(request, "reports.html", context)
