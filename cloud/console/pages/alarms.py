"""The alarms page, ``/console/alarms``: the person's alarms, acknowledged and closed here.

Open alarms by default (``?state=open``); filters by state, class, site and bank. Each open
alarm has two small forms: acknowledge with a note, close with a note. A refusal (another site's
alarm: not found; a technical alarm whose cause persists: a conflict that says why) is the list
again with the reason on top, with the refusal's status.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from cloud.api.deps import ClockDep, EngineDep
from cloud.console.accounts.deps import CsrfChecked, CurrentPerson, Person
from cloud.console.alarms.classes import AlarmClass
from cloud.console.alarms.service import NOTE_MAX, acknowledge, close, list_alarms
from cloud.console.pages.common import PARTS_QUERY, back, page, page_router, sites_of
from cloud.core.db import transaction
from cloud.lifecycles import AlarmState
from cloud.services.errors import CloudError, NotFound

router = page_router()
OPEN = "open"  # raised or acknowledged
STATES = (OPEN, *AlarmState)
Short = Annotated[str, Query(max_length=64)]
Note = Annotated[str, Form(max_length=NOTE_MAX)]
ALARM_ID_MAX = 64
Step = Callable[[Engine, Person, str, str, datetime], object]


def _listing(
    request: Request, engine: Engine, person: Person, *, error: str = "", status: int = 200
) -> HTMLResponse:
    q = request.query_params
    state, klass = q.get("state", OPEN), q.get("class", "")
    site, bank = q.get("site", "")[:ALARM_ID_MAX], q.get("bank", "")[:ALARM_ID_MAX]
    with transaction(engine) as s:
        alarms = list_alarms(
            s,
            person,
            state=AlarmState(state) if state in set(AlarmState) else None,
            open_only=state == OPEN,
            site_id=site or None,
            bank_id=bank or None,
            klass=AlarmClass(klass) if klass in set(AlarmClass) else None,
        )
    context = {
        "person": person,
        "alarms": alarms,
        "filters": {"state": state, "class": klass, "site": site, "bank": bank},
        "states": STATES,
        "classes": tuple(AlarmClass),
        "sites": sites_of(engine, person),
        "error": error,
        "note_max": NOTE_MAX,
        "query": urlencode([(k, v) for k, v in q.multi_items() if k != PARTS_QUERY]),
    }
    return page(request, "alarms.html", context, parts=("list",), status=status)


@router.get("/alarms", response_class=HTMLResponse)
def alarms_page(
    request: Request,
    *,
    person: CurrentPerson,
    engine: EngineDep,
    state: Short = OPEN,
    klass: Annotated[str, Query(alias="class", max_length=32)] = "",
    site: Short = "",
    bank: Short = "",
) -> HTMLResponse:
    """The list; the filters are read from the query by ``_listing`` (declared here to bound
    them)."""
    return _listing(request, engine, person)


def _done(request: Request) -> Response:
    q = request.query_params
    query = urlencode([(k, v) for k, v in q.multi_items() if k != PARTS_QUERY])
    return back(f"/console/alarms?{query}" if query else "/console/alarms")


STEPS: dict[str, Step] = {"acknowledge": acknowledge, "close": close}


@router.post("/alarms/{alarm_id}/{step}", response_model=None)
def step_alarm(
    request: Request,
    *,
    alarm_id: str,
    step: str,
    person: CurrentPerson,
    _csrf: CsrfChecked,
    engine: EngineDep,
    clock: ClockDep,
    note: Note = "",
) -> Response:
    """Acknowledge or close one alarm, then the list again (or the list with why not)."""
    run = STEPS.get(step)
    if run is None:
        raise NotFound("no such step")
    try:
        run(engine, person, alarm_id[:ALARM_ID_MAX], note, clock.now())
    except CloudError as exc:
        return _listing(request, engine, person, error=exc.message, status=exc.status)
    return _done(request)
