"""The console's rendering: one Jinja2 environment, the reader's language, one ``render``.

Pages call ``render(request, "fleet.html", {...})``; every template then has ``lang`` (``zh`` or
``en``), ``other`` (the language to switch to), ``t`` (the merged texts in that language),
``person`` (the signed-in person, if any) and ``csrf_token`` (for every form that posts).
The language is ``?lang=`` if it names one of ours (and is then remembered in a cookie), else
the cookie, else ``Accept-Language``; Chinese by default. Every answer is ``no-store``: a page
shows one person's scope, and a shared cache must not hand it to another.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cloud.console.texts import LANGUAGES, Translator
from cloud.recipients.texts import pick_language
from cloud.services.auth import aware

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"
LANG_COOKIE = "console_lang"
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600  # a preference, kept for a year
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
}

log = logging.getLogger(__name__)


def when(at: datetime | None) -> str:
    """A time as the pages show it (UTC, to the minute); a dash for none."""
    return "—" if at is None else aware(at).astimezone(UTC).strftime(TIME_FORMAT)


def days(span: timedelta | None) -> str:
    """A dwell as days with one decimal; a dash for none."""
    return "—" if span is None else f"{span.total_seconds() / 86400:.1f}"


TEMPLATES.env.filters["when"] = when
TEMPLATES.env.filters["days"] = days


def language(request: Request) -> str:
    """The reader's language: ``?lang=``, then the cookie, then ``Accept-Language``."""
    query = request.query_params.get("lang")
    chosen = query if query in LANGUAGES else request.cookies.get(LANG_COOKIE)
    return pick_language(chosen, request.headers.get("accept-language", ""))


def csrf_for(request: Request) -> str:
    """The session's CSRF token for the forms (none without a session)."""
    deps = importlib.import_module("cloud.console.accounts.deps")  # late: it imports ``render``
    return str(deps.csrf_token(request))


def render(
    request: Request, template: str, context: Mapping[str, object], *, status: int = 200
) -> HTMLResponse:
    """``template`` filled with ``context`` and the shell's names, as an HTML answer."""
    lang = language(request)
    shell: dict[str, object] = {
        "lang": lang,
        "other": LANGUAGES[1 - LANGUAGES.index(lang)],
        "t": Translator(lang),
        "person": context.get("person", getattr(request.state, "person", None)),
        "csrf_token": csrf_for(request),
        "path": request.url.path,
    }
    response = TEMPLATES.TemplateResponse(
        request, template, {**context, **shell}, status_code=status, headers=HEADERS
    )
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=LANG_COOKIE_MAX_AGE_S,
            path="/console",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
    return response
