"""What every console page uses: the signed-in ``Person``, CSRF checks, the audit entry.

- ``CurrentPerson``: the person of a live session cookie. Without one, a page is sent to
  ``/console/sign-in?next=<path>`` (303); an SSE stream, an htmx request or a JSON call gets 401.
- ``CsrfChecked``: every unsafe method under ``/console/`` depends on it. The token (form field
  ``csrf_token`` or header ``X-CSRF-Token``) is an HMAC of the session token under the secret key,
  so it is bound to the session and needs no row; before sign-in it is bound to a random
  pre-session cookie instead. Compared in constant time; a missing or wrong one is refused (403).
- ``Person.principal_for(site)`` turns the person into the ``Principal`` the existing services
  take, so that they work unchanged and the audit log names ``person:<id>``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from cloud.clock import Clock
from cloud.console.accounts import sessions
from cloud.console.accounts.tables import Account, PersonRole, PersonSite
from cloud.console.web import render
from cloud.core.config import Settings
from cloud.core.db import transaction
from cloud.models import AuditEntry, Role, Site
from cloud.services.auth import Principal
from cloud.services.errors import CloudError, Forbidden, Invalid, NotFound
from cloud.services.personal_data import masked
from locker_contract.text import check_text

log = logging.getLogger(__name__)

SESSION_COOKIE = "console_session"
PRE_COOKIE = "console_pre"  # binds the sign-in form's CSRF token before there is a session
COOKIE_PATH = "/console"
SIGN_IN = "/console/sign-in"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")

__all__ = ["CsrfChecked", "CurrentPerson", "Person", "PersonRole", "audit_person"]

ERRORS = {  # a refusal's status, and the words the error page says it with
    404: "pages.not_found",
    403: "pages.forbidden",
    409: "pages.conflict",
    422: "pages.invalid",
    429: "pages.too_many",
}


@dataclass(frozen=True)
class Person:
    """A signed-in person: ``site_ids`` is every site it may see (an operator admin: all of its
    operator's sites; a site manager: the sites it was given)."""

    id: str
    email: str
    name: str
    role: PersonRole
    operator_id: str
    site_ids: frozenset[str]

    @property
    def actor(self) -> str:
        return f"person:{self.id}"

    @property
    def is_admin(self) -> bool:
        return self.role is PersonRole.OPERATOR_ADMIN

    def sees(self, site_id: str) -> bool:
        return site_id in self.site_ids

    def principal_for(self, site_id: str) -> Principal:
        """The principal the services take for work on ``site_id``; a site not this person's
        is not found (404), as another tenant's is to an API key."""
        if not self.sees(site_id):
            raise NotFound("no such site")
        if self.is_admin:
            return Principal(key_id=self.actor, role=Role.OPERATOR, operator_id=self.operator_id)
        return Principal(key_id=self.actor, role=Role.MANAGER, site_id=site_id)


class CsrfRefused(Forbidden):
    """A form or call under ``/console/`` without the session's CSRF token (403). A
    ``CloudError``: a page route that turns refusals into pages shows it as one, and the
    app's handler answers anything else with JSON."""

    def __init__(self) -> None:
        super().__init__("this form has expired or was not sent from the console")


class ConsoleRoute(APIRoute):
    """A console route whose CSRF refusal is a page (403), not JSON, and whose path, query or
    form with a control character is the error page (422, ``check_plain``), not a 500. Every
    console router should be ``APIRouter(route_class=ConsoleRoute)`` (or the app should
    install ``refused_page`` as the handler of ``CsrfRefused``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def refusing(request: Request) -> Response:
            try:
                await check_plain(request)
                return await handler(request)
            except CsrfRefused as exc:
                return refused_page(request, exc)
            except Invalid as exc:
                return refused(request, exc)

        return refusing


async def check_plain(request: Request) -> None:
    """Refuse a path, query or form value with a control character or a lone surrogate: no
    database takes a NUL, and no page needs one (``Invalid``, 422, never a 500)."""
    values = [request.url.path, *request.query_params.values()]
    if request.headers.get("content-type", "").startswith(FORMS):
        try:
            form = await request.form()  # parsed once: the route reads the same
        except Exception:  # a malformed body: the CSRF check or the route refuses it
            form = FormData()
        values += [v for v in form.values() if isinstance(v, str)]
    for value in values:
        try:
            check_text(value)
        except ValueError as exc:
            raise Invalid(str(exc)) from None


def refused(request: Request, exc: CloudError) -> HTMLResponse:
    """The error page for a service's refusal (its message is the service's own words)."""
    log.info(
        "console: %s %s refused (%d): %s", request.method, request.url.path, exc.status, exc.message
    )
    title = ERRORS.get(exc.status, "pages.invalid")
    context = {"title_key": title, "message": exc.message}
    return render(request, "error.html", context, status=exc.status)


def refused_page(request: Request, _exc: Exception) -> Response:
    """The page of a CSRF refusal (an exception handler's signature)."""
    return render(request, "accounts/refused.html", {}, status=403)


def _state(request: Request) -> tuple[Engine, Settings, Clock]:
    app = request.app.state
    return app.engine, app.settings, app.clock


def load_person(s: Session, person_id: str) -> Person | None:
    """The person of an active account, with the sites it sees; None otherwise."""
    row = s.get(Account, person_id)
    if row is None or not row.active:
        return None
    role = PersonRole(row.role)
    if role is PersonRole.OPERATOR_ADMIN:
        query = select(Site.id).where(Site.operator_id == row.operator_id)
    else:
        query = (
            select(Site.id)
            .join(PersonSite, col(PersonSite.site_id) == col(Site.id))
            .where(PersonSite.person_id == row.id, Site.operator_id == row.operator_id)
        )
    sites = frozenset(s.exec(query).all())
    return Person(row.id, row.email, row.name, role, row.operator_id, sites)


def person_of_token(request: Request, token: str) -> Person | None:
    engine, settings, clock = _state(request)
    with transaction(engine) as s:
        # only a person's own request keeps the session from idling out: the page's background
        # refreshes (the live stream, its region fetches) do not
        touch = wants_page(request)
        row = sessions.live_session(s, settings.secret_key, token, clock.now(), touch=touch)
        return None if row is None else load_person(s, row.person_id)


def wants_page(request: Request) -> bool:
    """A browser's page (not an SSE stream, an htmx fragment or a JSON call)."""
    accept = request.headers.get("accept", "")
    if "text/event-stream" in accept or request.headers.get("hx-request"):
        return False
    json_call = "application/json" in accept and "text/html" not in accept
    return not (json_call or request.headers.get("content-type", "").startswith("application/json"))


def not_signed_in(request: Request) -> HTTPException:
    if not wants_page(request):
        return HTTPException(401, "sign in first", headers={"Cache-Control": "no-store"})
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"{SIGN_IN}?next={quote(here, safe='')}"
    return HTTPException(303, "sign in first", headers={"Location": location})


def current_person(request: Request) -> Person:
    """The signed-in person (also left in ``request.state.person`` for the templates)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    person = person_of_token(request, token) if 0 < len(token) <= 128 else None
    if person is None:
        raise not_signed_in(request)
    request.state.person = person
    request.state.console_token = token
    return person


def csrf_token(request: Request) -> str:
    """The CSRF token for this browser's forms: bound to its session (or, before sign-in, to
    its pre-session cookie); empty when it has neither."""
    bound = getattr(request.state, "console_token", None) or request.cookies.get(SESSION_COOKIE)
    bound = bound or getattr(request.state, "console_pre", None) or request.cookies.get(PRE_COOKIE)
    if not bound:
        return ""
    return sessions.derived(_state(request)[1].secret_key, "csrf", bound)


async def _sent_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    if not request.headers.get("content-type", "").startswith(FORMS):
        return ""
    try:
        form = await request.form()
    except Exception:  # a malformed body is no token (and no 500)
        return ""
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


async def check_csrf(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    expected, sent = csrf_token(request), await _sent_token(request)
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        log.info("console: CSRF token missing or wrong on %s %s", request.method, request.url.path)
        raise CsrfRefused()


def audit_person(s: Session, person: Person, action: str, target: str, **detail: object) -> None:
    """Append to the audit log in the caller's transaction, naming ``person:<id>`` and its role
    (the shape of ``cloud.services.auth.audit``; phones masked)."""
    entry = AuditEntry(
        actor=person.actor,
        role=str(person.role),
        action=action,
        target=target,
        detail=masked(detail),
    )
    s.add(entry)


CurrentPerson = Annotated[Person, Depends(current_person)]
CsrfChecked = Annotated[None, Depends(check_csrf)]
