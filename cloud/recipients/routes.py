"""The recipient's page at ``/r/<token>``: server-rendered, no account, Chinese and English.

The signed token is the only credential (``links``): it opens one pickup group until it
expires, so the forms need no CSRF token (whoever could forge a form already holds the link).
A link that is not ours is answered 403 and an expired one 410, each with a page that says so;
any other refusal is the page again with the reason, never a 500. Every answer is ``no-store``
and ``no-referrer``: the page may show a shared code, and the token must not leak elsewhere.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlmodel import Session

from cloud.api.deps import ClockDep, EngineDep, SettingsDep
from cloud.core.config import Settings
from cloud.messaging.render import mask_waybill
from cloud.recipients import api, consent, service
from cloud.recipients.links import LinkExpired, LinkRefused, read_token
from cloud.recipients.texts import LANGUAGES, pick_language, refusal, translator
from cloud.services.errors import CloudError, Invalid
from cloud.services.storage_policy import ParcelStorage
from locker_contract.storage import money

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'",
}
TOKEN_IN_PATH = re.compile(r"/r/[A-Za-z0-9_-]{20,}")
CODE = re.compile(r"^[0-9]{8}$")  # what the kiosk's code entry takes: 8 digits, nothing else
DONE = ("extend", "share", "revoke", "refuse", "consent")

router = APIRouter(prefix="/r", include_in_schema=False)
Short = Annotated[str, Form(max_length=64)]


class HideTokens(logging.Filter):
    """Access log lines keep ``/r/…`` but not the token: a link is a credential (whoever holds
    it may share a code that opens the doors), so no log may hold one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                TOKEN_IN_PATH.sub("/r/…", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def install(app: FastAPI) -> None:
    """The page's routes and its static files, on the cloud's app; its links kept out of the
    access log."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, HideTokens) for f in access.filters):
        access.addFilter(HideTokens())
    app.mount("/r/static", StaticFiles(directory=HERE / "static"), name="recipient-static")
    app.include_router(router)
    app.include_router(api.router)


def qr_svg(code: str) -> str:
    """``code`` as a QR code whose content is exactly the code: what the kiosk's scanner, a
    keyboard wedge, types into its code entry (segno, inline SVG)."""
    return str(segno.make_qr(code, error="m").svg_inline(scale=6, border=4, omitsize=True))


@dataclass(frozen=True)
class Visit:
    request: Request
    settings: Settings
    engine: Engine
    now: datetime
    token: str
    language: str

    def render(self, name: str, status: int, **context: object) -> Response:
        other = LANGUAGES[1 - LANGUAGES.index(self.language)]
        context |= {"t": translator(self.language), "lang": self.language, "other": other}
        return TEMPLATES.TemplateResponse(
            self.request, name, context, status_code=status, headers=HEADERS
        )

    def refused(self, exc: CloudError) -> Response:
        problem = "link_expired" if isinstance(exc, LinkExpired) else "link_refused"
        if isinstance(exc, service.UnknownGroup):
            problem = "link_unknown"
        return self.render("link_error.html", exc.status, problem=problem)

    def show(self, group_id: str, status: int = 200, **extra: object) -> Response:
        with Session(self.engine) as s:
            group = service.view(s, self.settings, group_id, self.now)
            answer = consent.current(s, self.settings.secret_key, group_id)
        context = page_context(group, answer, self.language) | extra
        return self.render("page.html", status, token=self.token, **context)


def page_context(
    group: service.GroupView, answer: consent.Answer, language: str
) -> dict[str, object]:
    parcels = [
        {
            "id": p.id,
            "waybill": mask_waybill(p.waybill),
            "carrier": p.carrier,
            "compartment": p.compartment,
            "status_key": "refusing" if p.refusing else p.status.value,
        }
        for p in group.parcels
    ]
    chosen = {consent.Answer.CONSENTED: "consent", consent.Answer.REFUSED: "refuse"}.get(answer)
    return {
        "group": group,
        "parcels": parcels,
        "labels": sorted(p["compartment"] for p in parcels if p["status_key"] == "in_locker"),
        "shares": [{"id": x.id, "code": x.code, "svg": qr_svg(x.code)} for x in group.shares],
        "consent": answer.value,
        "choices": [c.value for c in consent.Choice if c != chosen and (chosen or c != "clear")],
        "extend_hours": f"{service.EXTEND_HOURS:g}",
        "terms": _terms(group.terms, language),
    }


def _terms(terms: ParcelStorage | None, language: str) -> dict[str, str] | None:
    """The deadline in the site's local time, the fee rule, and what is owed so far."""
    if terms is None:
        return None
    owed = money(terms.owed_minor, terms.policy.currency) if terms.owed_minor else ""
    return {
        "deadline": terms.deadline.strftime("%Y-%m-%d %H:%M"),
        "fees": terms.fee_rule(language),
        "owed": owed,
    }


def _visit(
    request: Request, token: str, settings: SettingsDep, engine: EngineDep, clock: ClockDep
) -> Visit:
    language = pick_language(
        request.query_params.get("lang"), request.headers.get("accept-language", "")
    )
    return Visit(request, settings, engine, clock.now(), token, language)


VisitDep = Annotated[Visit, Depends(_visit)]


def _act(visit: Visit, action: Callable[[str], object], done: str) -> Response:
    """Run ``action`` on the link's group; back to the page (303) saying what was done."""
    try:
        group_id = read_token(visit.settings.secret_key, visit.token, visit.now).group_id
        action(group_id)
    except (LinkRefused, LinkExpired, service.UnknownGroup) as exc:
        return visit.refused(exc)
    except CloudError as exc:
        return visit.show(group_id, exc.status, error=refusal(exc.message, visit.language))
    where = f"/r/{visit.token}?lang={visit.language}&done={done}"
    return RedirectResponse(where, status_code=303, headers=HEADERS)


@router.get("/{token}")
def page(visit: VisitDep) -> Response:
    done = visit.request.query_params.get("done", "")
    try:
        group_id = read_token(visit.settings.secret_key, visit.token, visit.now).group_id
        return visit.show(group_id, done=done if done in DONE else "")
    except (LinkRefused, LinkExpired, service.UnknownGroup) as exc:
        return visit.refused(exc)


@router.post("/{token}/qr")
def qr(visit: VisitDep, code: Short) -> Response:
    """The code from the link's fragment, drawn as a QR code; kept nowhere, logged nowhere."""
    try:
        read_token(visit.settings.secret_key, visit.token, visit.now)
    except (LinkRefused, LinkExpired) as exc:
        return Response(status_code=exc.status, headers=HEADERS)
    if not CODE.match(code):
        return Response(status_code=Invalid.status, headers=HEADERS)
    return Response(qr_svg(code), media_type="image/svg+xml", headers=HEADERS)


@router.post("/{token}/extend")
def extend(visit: VisitDep) -> Response:
    return _act(visit, lambda group: service.extend(visit.engine, group, visit.now), "extend")


@router.post("/{token}/share")
def share(visit: VisitDep) -> Response:
    def action(group: str) -> object:
        return service.share(visit.engine, visit.settings, group, visit.now)

    return _act(visit, action, "share")


@router.post("/{token}/share/{share_id}/revoke")
def revoke(visit: VisitDep, share_id: str) -> Response:
    def action(group: str) -> None:
        service.unshare(visit.engine, group, share_id, visit.now)

    return _act(visit, action, "revoke")


@router.post("/{token}/refuse")
def refuse(visit: VisitDep, parcel_id: Short) -> Response:
    def action(group: str) -> None:
        service.refuse(visit.engine, group, parcel_id, visit.now)

    return _act(visit, action, "refuse")


@router.post("/{token}/consent")
def choose(visit: VisitDep, choice: Short) -> Response:
    def action(group: str) -> None:
        if choice not in tuple(consent.Choice):
            raise Invalid("choose consent, refuse or clear")
        consent.choose(visit.engine, visit.settings, group, consent.Choice(choice), visit.now)

    return _act(visit, action, "consent")
