"""The records page, ``/console/records``, and its CSV, ``/console/records.csv``.

Filters (the same for both): a date range (the site-independent UTC days, ``since`` and
``until`` both included), a bank, a carrier and kinds. The page is keyset-paginated (``after``);
the CSV streams every matching record (``views.records.export_csv``: constant memory).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from cloud.api.deps import EngineDep
from cloud.console.accounts.deps import CurrentPerson
from cloud.console.pages.common import page, page_router
from cloud.console.views.records import Kind, RecordFilter, export_csv, records
from cloud.services.errors import Invalid

router = page_router()
PAGE_SIZE = 50
Short = Annotated[str, Query(max_length=64)]
Kinds = Annotated[list[str], Query(max_length=len(Kind))]
CSV_NAME = "records.csv"


def _day(text: str, *, end: bool) -> datetime | None:
    """A ``YYYY-MM-DD`` as the start of that UTC day (of the next one for an end)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
    except (ValueError, OverflowError):  # not a date, or the last one there is (9999-12-31)
        raise Invalid(f"not a date: {text[:10]}") from None
    return datetime.combine(day, time(), UTC)


def _filters(since: str, until: str, bank: str, carrier: str, kind: list[str]) -> RecordFilter:
    return RecordFilter(
        since=_day(since, end=False),
        until=_day(until, end=True),
        bank_id=bank.strip() or None,
        carrier_id=carrier.strip() or None,
        kinds=frozenset(Kind(k) for k in kind if k in set(Kind)),
    )


@router.get("/records", response_class=HTMLResponse)
def records_page(
    request: Request,
    *,
    person: CurrentPerson,
    engine: EngineDep,
    since: Short = "",
    until: Short = "",
    bank: Short = "",
    carrier: Short = "",
    kind: Kinds = [],  # noqa: B006 (FastAPI copies a query list's default)
    after: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    filters = _filters(since, until, bank, carrier, kind)
    found = records(engine, person, filters, after=after or None, limit=PAGE_SIZE)
    query = request.url.query
    context = {
        "person": person,
        "records": found,
        "filters": {"since": since, "until": until, "bank": bank, "carrier": carrier},
        "kinds": tuple(Kind),
        "chosen": filters.kinds,
        "csv_query": "&".join(p for p in query.split("&") if not p.startswith("after=")),
    }
    return page(request, "records.html", context)


@router.get("/records.csv", response_model=None)
def records_csv(
    person: CurrentPerson,
    *,
    engine: EngineDep,
    since: Short = "",
    until: Short = "",
    bank: Short = "",
    carrier: Short = "",
    kind: Kinds = [],  # noqa: B006
) -> StreamingResponse:
    filters = _filters(since, until, bank, carrier, kind)
    headers = {
        "Content-Disposition": f'attachment; filename="{CSV_NAME}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(
        export_csv(engine, person, filters), media_type="text/csv; charset=utf-8", headers=headers
    )
