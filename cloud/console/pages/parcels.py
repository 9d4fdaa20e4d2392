"""The parcels page, ``/console/parcels``: parcels behind doors by dwell, and a search.

The bucket counts head the page (each a link to its list); the list is the parcels waiting
longest first, all or one bucket's. The search takes the last digits of a waybill or a phone
(at least ``SEARCH_MIN``); a phone is only ever shown masked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from cloud.api.deps import ClockDep, EngineDep
from cloud.console.accounts.deps import CurrentPerson
from cloud.console.pages.common import page, page_router, sites_of
from cloud.console.views.parcels import BUCKETS, SEARCH_MIN, Bucket, buckets, search, waiting
from cloud.services.errors import Invalid

router = page_router()
PAGE_SIZE = 50
Short = Annotated[str, Query(max_length=64)]


@router.get("/parcels", response_class=HTMLResponse)
def parcels_page(
    request: Request,
    *,
    person: CurrentPerson,
    engine: EngineDep,
    clock: ClockDep,
    bucket: Short = "",
    site: Short = "",
    q: Short = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    now = clock.now()
    site_id = site if person.sees(site) else None
    chosen = Bucket(bucket) if bucket in set(Bucket) else None
    found, error = None, ""
    if q.strip():
        try:
            found = search(engine, person, q, now)
        except Invalid as exc:
            error = exc.message
    context = {
        "person": person,
        "counts": buckets(engine, person, now, site_id=site_id),
        "buckets": [b for b, _, _ in BUCKETS],
        "waiting": waiting(
            engine, person, now, bucket=chosen, site_id=site_id, limit=PAGE_SIZE, offset=offset
        ),
        "found": found,
        "error": error,
        "filters": {"bucket": bucket, "site": site_id or "", "q": q},
        "sites": sites_of(engine, person),
        "search_min": SEARCH_MIN,
    }
    return page(request, "parcels.html", context, status=422 if error else 200)
