"""The bank page, ``/console/banks/<id>``: its door grid, its actions, one door's history.

An action is asked in two steps: the form on the bank page (a GET, no effect) shows what will
happen and asks for the confirmation; the confirmation POSTs it (with the CSRF token), and the
bank page comes back with that command's state, which follows it live (``commands`` events)
until the bank answers. A remote open and a door out of service need a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine
from sqlmodel import Session

from cloud.api.deps import ClockDep, EngineDep
from cloud.console import actions
from cloud.console.accounts.deps import CsrfChecked, CurrentPerson, Person
from cloud.console.health.service import door_days, door_health
from cloud.console.pages.common import back, page, page_router
from cloud.console.views import bank as views
from cloud.core.db import transaction
from cloud.models import Command
from cloud.services.errors import CloudError, NotFound

router = page_router()
Short = Annotated[str, Query(max_length=64)]
Reason = Annotated[str, Form(max_length=actions.REASON_MAX)]
HISTORY = 50  # a door's history: its latest entries
ACTIONS = 20  # the bank's latest commands


@dataclass(frozen=True)
class Asked:
    """An action as the confirmation shows it and the POST runs it."""

    name: str  # open, maintenance_on, maintenance_off, service_out, service_in, keypad
    door: bool  # needs a door
    reason: bool  # needs a reason


ASKED = {
    a.name: a
    for a in (
        Asked("open", door=True, reason=True),
        Asked("service_out", door=True, reason=True),
        Asked("service_in", door=True, reason=True),
        Asked("maintenance_on", door=False, reason=False),
        Asked("maintenance_off", door=False, reason=False),
        Asked("keypad", door=False, reason=False),
    )
}
Run = Callable[[Engine, Person, str, str, str], Command]
RUNS: dict[str, Run] = {
    "open": actions.remote_open,
    "service_out": lambda e, p, b, d, r: actions.set_service(
        e, p, b, d, in_service=False, reason=r
    ),
    "service_in": lambda e, p, b, d, r: actions.set_service(e, p, b, d, in_service=True, reason=r),
    "maintenance_on": lambda e, p, b, _d, _r: actions.set_maintenance(e, p, b, on=True),
    "maintenance_off": lambda e, p, b, _d, _r: actions.set_maintenance(e, p, b, on=False),
    "keypad": lambda e, p, b, _d, _r: actions.reenable_keypad(e, p, b),
}


def _command(s: Session, person: Person, bank_id: str, command_id: str) -> object:
    """The command followed on the page, if it is this bank's (else none is shown)."""
    if not command_id:
        return None
    try:
        found = actions.command_state(s, person, command_id[:64])
    except NotFound:
        return None
    return found if found.bank_id == bank_id else None


def bank_context(
    engine: Engine, person: Person, bank_id: str, command_id: str = "", *, at: datetime
) -> dict[str, object]:
    """``at``: the app's clock's now (door health counts the days up to it)."""
    shown = views.bank(engine, person, bank_id)
    with transaction(engine) as s:
        command = _command(s, person, bank_id, command_id)
        health = {h.label: h for h in door_health(s, person, bank_id, at=at)}
    return {
        "person": person,
        "bank": shown,
        "actions": views.actions(engine, person, bank_id, limit=ACTIONS),
        "command": command,
        "health": health,
        "asked": ASKED,
        "reason_max": actions.REASON_MAX,
    }


@router.get("/banks/{bank_id}", response_class=HTMLResponse)
def bank_page(
    request: Request,
    *,
    bank_id: str,
    person: CurrentPerson,
    engine: EngineDep,
    command: Short = "",
) -> HTMLResponse:
    context = bank_context(engine, person, bank_id, command, at=request.app.state.clock.now())
    return page(request, "bank.html", context, parts=("doors", "command", "actions"))


@router.get("/banks/{bank_id}/confirm", response_class=HTMLResponse)
def confirm_page(
    request: Request,
    *,
    bank_id: str,
    person: CurrentPerson,
    engine: EngineDep,
    action: Short = "",
    door: Short = "",
    reason: Annotated[str, Query(max_length=actions.REASON_MAX)] = "",
) -> HTMLResponse:
    """What the action will do, and the button that does it (nothing is done yet)."""
    asked = ASKED.get(action)
    shown = views.bank(engine, person, bank_id)
    labels = {d.label for d in shown.doors}
    problem = _missing(asked, door, reason, labels)
    context = {
        "person": person,
        "bank": shown,
        "asked": asked,
        "door": door,
        "reason": reason.strip(),
        "problem": problem,
        "reason_max": actions.REASON_MAX,
    }
    return page(request, "confirm.html", context, status=422 if problem else 200)


def _missing(asked: Asked | None, door: str, reason: str, labels: set[str]) -> str:
    """What the form lacks, as a text key ("" when nothing)."""
    if asked is None:
        return "pages.no_such_action"
    if asked.door and door not in labels:
        return "pages.choose_door"
    if asked.reason and not reason.strip():
        return "pages.give_reason"
    return ""


@router.post("/banks/{bank_id}/actions/{action}", response_model=None)
def run_action(
    request: Request,
    *,
    bank_id: str,
    action: str,
    person: CurrentPerson,
    _csrf: CsrfChecked,
    engine: EngineDep,
    door: Annotated[str, Form(max_length=64)] = "",
    reason: Reason = "",
) -> Response:
    """Send the confirmed action; the bank page then follows its command."""
    run = RUNS.get(action)
    if run is None:
        raise NotFound("no such action")
    try:
        command = run(engine, person, bank_id, door, reason)
    except CloudError as exc:
        now = request.app.state.clock.now()
        context = bank_context(engine, person, bank_id, at=now) | {"error": exc.message}
        return page(request, "bank.html", context, status=exc.status)
    return back(f"/console/banks/{bank_id}?command={command.id}#command")


@router.get("/banks/{bank_id}/doors/{label}", response_class=HTMLResponse)
def door_page(
    request: Request,
    *,
    bank_id: str,
    label: str,
    person: CurrentPerson,
    engine: EngineDep,
    clock: ClockDep,
) -> HTMLResponse:
    history = views.door_history(engine, person, bank_id, label[:16], limit=HISTORY)
    with transaction(engine) as s:
        days = door_days(s, person, bank_id, label[:16], at=clock.now())
    context = {
        "person": person,
        "bank_id": bank_id,
        "label": label,
        "history": history,
        "days": days,
    }
    return page(request, "door.html", context)
