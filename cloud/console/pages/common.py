"""What every console page shares: its router class, its render, its refusals.

``PageRoute`` turns a service's refusal (``CloudError``: another site's bank is "not found", a
closed alarm closed again is a conflict) into the console's error page with that status, in the
reader's language, instead of the API's JSON (``refused``, in ``accounts.deps``, which the
accounts' routes share); no input reaches a 500. ``page`` renders a page,
or only one of its live regions when the script asks for it (``?part=<region>``, the regions
each page names): the region is the same template the page includes, so the two never differ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from sqlmodel import col, select

from cloud.console import live
from cloud.console.accounts.deps import Person, check_plain, refused
from cloud.console.web import render
from cloud.core.db import transaction
from cloud.models import Site
from cloud.services.errors import CloudError

log = logging.getLogger(__name__)

PARTS_QUERY = "part"


class PageRoute(APIRoute):
    """A console page: a service's refusal is the error page, with its status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                await check_plain(request)
                return await handler(request)
            except CloudError as exc:
                return refused(request, exc)

        return handle


def page_router() -> APIRouter:
    return APIRouter(prefix="/console", include_in_schema=False, route_class=PageRoute)


def page(
    request: Request,
    template: str,
    context: Mapping[str, object],
    parts: tuple[str, ...] = (),
    *,
    status: int = 200,
) -> HTMLResponse:
    """The page, or one of its ``parts`` (``_<stem>_<part>.html``) if the query asks for it."""
    part = request.query_params.get(PARTS_QUERY)
    if part in parts:
        stem = template.removesuffix(".html")
        return render(request, f"_{stem}_{part}.html", context, status=status)
    person = context.get("person")
    if parts and isinstance(person, Person):
        context = {**context, "live_since": live_mark(request, person)}
    return render(request, template, context, status=status)


def live_mark(request: Request, person: Person) -> str:
    """What the page shows now, as the live stream marks it: the stream then tells whatever
    moved between this render and its own start."""
    state = request.app.state
    with transaction(state.engine) as s:
        return live.mark(live.fingerprints(s, person, state.clock.now()))


def back(url: str) -> RedirectResponse:
    """After a form: see the page again (303, so a reload does not post twice)."""
    return RedirectResponse(url, status_code=303)


def sites_of(engine: Engine, person: Person) -> list[tuple[str, str]]:
    """The sites the person sees, as (id, name) by name: the choices of a site filter."""
    if not person.site_ids:
        return []
    query = select(Site.id, Site.name).where(
        col(Site.id).in_(sorted(person.site_ids)), Site.operator_id == person.operator_id
    )
    with transaction(engine) as s:
        return sorted(((i, n) for i, n in s.exec(query)), key=lambda row: (row[1], row[0]))
