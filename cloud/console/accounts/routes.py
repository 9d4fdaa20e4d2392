"""The accounts' pages under ``/console``: sign in and out, set a password by one-time link,
ask for a reset, and (operator admins) people and invitations.

Every form posts its CSRF token (``CsrfChecked``); before sign-in it is bound to a random
pre-session cookie this module sets. The session cookie is HttpOnly, Secure (a setting),
SameSite=Lax and scoped to ``/console``; signing in always makes a new session.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from cloud.clock import Clock
from cloud.console.accounts import people, sessions
from cloud.console.accounts.deps import (
    COOKIE_PATH,
    PRE_COOKIE,
    SESSION_COOKIE,
    ConsoleRoute,
    CsrfChecked,
    CurrentPerson,
    Person,
)
from cloud.console.accounts.errors import AccountError, LockedOut, WeakPassword
from cloud.console.accounts.links import url
from cloud.console.accounts.tables import PersonRole
from cloud.console.web import render
from cloud.core.config import Settings
from cloud.core.db import transaction

log = logging.getLogger(__name__)

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

HOME = "/console/"
PRE_MAX_AGE_S = 3600  # a sign-in form left open this long must be reloaded
FieldText = Annotated[str, Form(max_length=320)]
Secret = Annotated[str, Form(max_length=1024)]
NextPath = Annotated[str, Form(max_length=2000)]
DONE = {"password": "accounts.password_set", "out": "accounts.signed_out"}


def _app(request: Request) -> tuple[Engine, Settings, Clock]:
    state = request.app.state
    return state.engine, state.settings, state.clock


def safe_next(value: str) -> str:
    """Where to go after sign-in: a console path only (never another site)."""
    if value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return HOME


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _cookie(response: Response, settings: Settings, name: str, value: str, age_s: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age_s,
        path=COOKIE_PATH,
        secure=settings.console_secure_cookies,
        httponly=True,
        samesite="lax",
    )


def _forget(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name,
        path=COOKIE_PATH,
        secure=settings.console_secure_cookies,
        httponly=True,
        samesite="lax",
    )


def public_page(
    request: Request, template: str, context: Mapping[str, object], status: int = 200
) -> HTMLResponse:
    """A page shown before sign-in: its forms' CSRF token bound to a pre-session cookie."""
    fresh = None
    if not (request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_COOKIE)):
        fresh = request.state.console_pre = secrets.token_urlsafe(32)
    response = render(request, template, context, status=status)
    if fresh is not None:
        _cookie(response, _app(request)[1], PRE_COOKIE, fresh, PRE_MAX_AGE_S)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(
    request: Request,
    next: Annotated[str, Query(max_length=2000)] = HOME,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    context = {"next": safe_next(next), "notice": DONE.get(done, "")}
    return public_page(request, "accounts/sign_in.html", context)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request, _: CsrfChecked, email: FieldText, password: Secret, next: NextPath = HOME
) -> Response:
    engine, settings, clock = _app(request)
    address, now = client_address(request), clock.now()
    context: dict[str, object] = {"next": safe_next(next), "email": email}
    try:
        opened = people.sign_in(
            engine, settings.secret_key, email, password, address=address, now=now
        )
    except LockedOut as exc:
        context |= {"error": exc.text, "minutes": math.ceil(exc.retry_after_s / 60)}
        page = public_page(request, "accounts/sign_in.html", context, exc.status)
        page.headers["Retry-After"] = str(math.ceil(exc.retry_after_s))
        return page
    except AccountError as exc:
        context["error"] = exc.text
        return public_page(request, "accounts/sign_in.html", context, exc.status)
    _revoke_old(request, engine, settings, clock)
    response = RedirectResponse(safe_next(next), 303)
    lifetime = int(sessions.SESSION_LIFETIME.total_seconds())
    _cookie(response, settings, SESSION_COOKIE, opened.token, lifetime)
    _forget(response, settings, PRE_COOKIE)
    return response


def _revoke_old(request: Request, engine: Engine, settings: Settings, clock: Clock) -> None:
    """The session this browser had before signing in again, if any, ends now."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        with transaction(engine) as s:
            sessions.revoke(s, settings.secret_key, old, clock.now())


@router.post("/sign-out")
def sign_out(request: Request, person: CurrentPerson, _: CsrfChecked) -> Response:
    engine, settings, clock = _app(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    people.sign_out(engine, settings.secret_key, person, token, clock.now())
    response = RedirectResponse("/console/sign-in?done=out", 303)
    _forget(response, settings, SESSION_COOKIE)
    return response


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request) -> HTMLResponse:
    """The page a one-time link opens; its token is in the fragment, which the page's script
    copies into the form (or the person pastes it)."""
    return public_page(request, "accounts/password.html", {})


@router.post("/password", response_class=HTMLResponse)
def set_password(
    request: Request, _: CsrfChecked, token: Secret, password: Secret, again: Secret
) -> Response:
    engine, settings, clock = _app(request)
    try:
        if password != again:
            raise WeakPassword("accounts.password_mismatch")
        people.set_password(engine, settings.secret_key, token.strip(), password, clock.now())
    except AccountError as exc:
        context = {"error": exc.text, "token": token}
        return public_page(request, "accounts/password.html", context, exc.status)
    response = RedirectResponse("/console/sign-in?done=password", 303)
    _forget(response, settings, SESSION_COOKIE)
    return response


@router.get("/forgot", response_class=HTMLResponse)
def forgot_page(request: Request) -> HTMLResponse:
    return public_page(request, "accounts/forgot.html", {})


@router.post("/forgot", response_class=HTMLResponse)
def forgot(request: Request, _: CsrfChecked, email: FieldText) -> HTMLResponse:
    """The same answer whether or not the address is anyone's."""
    engine, settings, clock = _app(request)
    people.request_reset(engine, settings, email, clock.now())
    return public_page(request, "accounts/forgot.html", {"sent": True})


def _people_page(
    request: Request, person: Person, context: dict[str, object], status: int = 200
) -> HTMLResponse:
    if not person.is_admin:
        refusal = {"reason": "accounts.admins_only"}
        return render(request, "accounts/refused.html", refusal, status=403)
    engine = _app(request)[0]
    context |= {
        "people": people.people_of(engine, person.operator_id),
        "sites": people.sites_of(engine, person.site_ids),
        "roles": list(PersonRole),
    }
    return render(request, "accounts/people.html", context, status=status)


@router.get("/people", response_class=HTMLResponse)
def people_page(request: Request, person: CurrentPerson) -> HTMLResponse:
    return _people_page(request, person, {})


class InviteForm(BaseModel):
    email: Annotated[str, Field(max_length=320)]
    name: Annotated[str, Field(max_length=320)]
    role: PersonRole
    sites: Annotated[list[str], Field(max_length=1000)] = []


@router.post("/people", response_class=HTMLResponse)
def invite(
    request: Request, person: CurrentPerson, _: CsrfChecked, form: Annotated[InviteForm, Form()]
) -> HTMLResponse:
    engine, settings, clock = _app(request)
    new = people.NewPerson(
        form.email, form.name, form.role, person.operator_id, frozenset(form.sites)
    )
    if not person.is_admin:
        return _people_page(request, person, {})
    context: dict[str, object]
    try:
        token = people.invite(engine, settings, person, new, clock.now())[1]
    except AccountError as exc:
        context = {"error": exc.text, "form": new}
        return _people_page(request, person, context, exc.status)
    shown: str | None = None
    if not settings.notify_public_key:  # development: shown to the inviter, this once
        shown = url(settings.recipient_base_url, token)
    context = {"invited": form.email.strip().lower(), "link": shown}
    return _people_page(request, person, context)


@router.post("/people/{person_id}/active", response_class=HTMLResponse)
def set_active(
    request: Request,
    person: CurrentPerson,
    _: CsrfChecked,
    person_id: Annotated[str, Path(max_length=64)],
    active: Annotated[bool, Form()],
) -> HTMLResponse:
    engine, _settings, clock = _app(request)
    try:
        email = people.set_active(engine, person, person_id, active, clock.now())
    except AccountError as exc:
        return _people_page(request, person, {"error": exc.text}, exc.status)
    done = "accounts.reactivated" if active else "accounts.deactivated"
    return _people_page(request, person, {"done": done, "email": email})
