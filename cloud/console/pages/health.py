"""The door health page, ``/console/health``: doors proposed for quarantine, one click each.

The rule and its thresholds are the door health service's (``cloud.console.health``); the page
lists its proposals, lowest score first, with why, and a button that takes the door out of
service at once (in the cloud, so allocation skips it, and at the bank by its command).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from cloud.api.deps import ClockDep, EngineDep
from cloud.console.accounts.deps import CsrfChecked, CurrentPerson
from cloud.console.health.service import proposals, quarantine_door
from cloud.console.pages.common import back, page, page_router
from cloud.core.db import transaction

router = page_router()
Id = Annotated[str, Form(max_length=64)]


@router.get("/health", response_class=HTMLResponse)
def health_page(
    request: Request, person: CurrentPerson, engine: EngineDep, clock: ClockDep
) -> HTMLResponse:
    with transaction(engine) as s:
        proposed = proposals(s, person, at=clock.now())
    return page(request, "health.html", {"person": person, "proposed": proposed})


@router.post("/health/quarantine", response_model=None)
def quarantine(
    person: CurrentPerson,
    _csrf: CsrfChecked,
    engine: EngineDep,
    clock: ClockDep,
    bank: Id,
    door: Id,
) -> Response:
    command = quarantine_door(engine, person, bank, door, clock.now())
    return back(f"/console/banks/{bank}?command={command.id}#command")
