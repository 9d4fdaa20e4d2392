"""The kiosk's page routes: forms in, flows called, the person told what to do next.

A form field that is too long or holds a character no store should keep (NUL, a control
character, a lone surrogate) is answered with the form again and an error, status 422.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from controller.codes import mask_phone
from controller.config import Size
from controller.daemon import Edge
from controller.errors import (
    BadCredentials,
    BankFull,
    EdgeError,
    EntryDisabled,
    LockedOut,
    Maintenance,
    NotAllowed,
    WrongCode,
)
from controller.flows import CONSENT_CHOICES, CourierIdentity, DoorView
from controller.kiosk.fields import unstorable
from controller.kiosk.i18n import DEFAULT_LANGUAGE, LANGUAGES, flow_message, translator
from controller.sessions import SESSION_COOKIE, PickupSessions, Sessions
from controller.throttle import source_for

LANG_COOKIE = "kiosk_lang"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
FormText = Annotated[str, Form()]
INVALID = 422
OPENED = ("opened", "already_open", "unknown")  # outcomes whose parcel a refusal may name
LABELS = {"code": "code_label", "courier_id": "courier_id", "pin": "pin", "waybill": "waybill",
          "phone": "phone", "size": "size", "low": "low", "consent": "consent"}  # fmt: skip


def _lang(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def _clock(seconds: float) -> str:
    whole = int(seconds + 0.999)
    return f"{whole // 60}:{whole % 60:02d}"


class Kiosk:
    """Renders pages for one bank; every action goes through ``edge.flows``."""

    def __init__(self, edge: Edge, sessions: Sessions) -> None:
        self.edge = edge
        self.sessions = sessions

    def render(self, request: Request, name: str, *, status: int = 200, **context: Any) -> Response:
        lang = _lang(request)
        base = {
            "t": translator(lang),
            "lang": lang,
            "other_lang": "en" if lang == "zh" else "zh",
            "here": request.url.path,
            "bank_name": self.edge.config.bank.name or self.edge.config.bank.id,
            "show_home": name != "home.html",
            "idle_seconds": 0 if name == "home.html" else self.edge.config.policy.kiosk_idle_s,
            "idle_target": "/kiosk/idle",
            "error": None,
            "notice": None,
        }
        return TEMPLATES.TemplateResponse(request, name, base | context, status_code=status)

    def explain(self, request: Request, exc: EdgeError) -> str:
        t, lang = translator(_lang(request)), _lang(request)
        match exc:
            case WrongCode() if "attempts_left" in exc.detail and exc.message == WRONG_CODE:
                return t("wrong_code", n=exc.detail["attempts_left"])
            case WrongCode() | LockedOut() if "retry_after_s" in exc.detail:
                return t("locked_out", time=_clock(float(str(exc.detail["retry_after_s"]))))
            case EntryDisabled():
                return t("disabled")
            case Maintenance():
                return t("maintenance")
            case BankFull():
                return t("bank_full", size=exc.detail.get("size", ""))
            case BadCredentials():
                return t("bad_sign_in")
            case _:
                return flow_message(exc.message, lang)

    def bad_input(self, request: Request, fields: list[str]) -> str:
        t = translator(_lang(request))
        named = [t(LABELS[name]) for name in fields if name in LABELS]
        return t("bad_input", field=", ".join(named)) if named else t("pickup_ended")

    def source(self, request: Request) -> str:
        host = request.client.host if request.client is not None else None
        return source_for(host, self.edge.config.policy.kiosk_terminals)

    def code_refused(self, request: Request, exc: EdgeError) -> Response:
        """The pickup page again, after a wrong code or refusal: tries left, or a countdown."""
        retry = exc.detail.get("retry_after_s")
        locked = float(str(retry)) if retry is not None else 0
        return self.render(
            request,
            "pickup.html",
            status=exc.status,
            error=None if locked else self.explain(request, exc),
            locked_seconds=int(locked + 0.999),
            locked_text=_clock(locked),
            disabled=isinstance(exc, EntryDisabled) or bool(exc.detail.get("disabled")),
        )

    def courier(self, request: Request) -> CourierIdentity | None:
        token = request.cookies.get(SESSION_COOKIE, "")
        try:
            return self.sessions.courier(token) if token else None
        except NotAllowed:
            return None


WRONG_CODE = "that code opens nothing here"  # controller.flows.Flows.pickup


def _doors(views: list[DoorView]) -> list[dict[str, object]]:
    return [view.__dict__ | {"refused": False} for view in views]


def opened_parcels(views: list[DoorView]) -> list[str]:
    """The parcels a pickup opened (or may have): what its session lets the recipient refuse."""
    return [v.parcel_id for v in views if v.parcel_id is not None and v.outcome in OPENED]


def _home() -> RedirectResponse:
    return RedirectResponse("/kiosk/", status_code=303)


def kiosk_router(edge: Edge, sessions: Sessions, pickups: PickupSessions) -> APIRouter:
    kiosk = Kiosk(edge, sessions)
    router = APIRouter(prefix="/kiosk", include_in_schema=False)

    @router.get("/")
    def home(request: Request) -> Response:
        offline = edge.link is not None and not edge.link.status.connected
        return kiosk.render(
            request, "home.html", maintenance=edge.flows.in_maintenance(), offline=offline
        )

    @router.get("/lang/{code}")
    def language(code: str, next: str = "/kiosk/") -> Response:
        target = next if next.startswith("/kiosk") and not unstorable(next=next) else "/kiosk/"
        response = RedirectResponse(target, status_code=303)
        if code in LANGUAGES:
            response.set_cookie(LANG_COOKIE, code, samesite="strict", httponly=True)
        return response

    @router.post("/idle")
    def idle(request: Request) -> Response:
        sessions.close(request.cookies.get(SESSION_COOKIE, ""))
        response = _home()
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.get("/pickup")
    def pickup_page(request: Request) -> Response:
        return kiosk.render(request, "pickup.html")

    @router.post("/pickup")
    async def pickup(request: Request, code: FormText = "") -> Response:
        bad = unstorable(code=code)
        if bad:
            error = kiosk.bad_input(request, bad)
            return kiosk.render(request, "pickup.html", status=INVALID, error=error)
        try:
            doors = await edge.flows.pickup(code, source=kiosk.source(request))
        except EdgeError as exc:
            return kiosk.code_refused(request, exc)
        token = pickups.open(opened_parcels(doors))
        return kiosk.render(
            request, "opened.html", doors=_doors(doors), session=token, allow_refuse=True,
            open_text="door_open_take", done_href="/kiosk/",
        )  # fmt: skip

    @router.post("/pickup/refuse")
    def refuse(request: Request, session: FormText = "", parcel_id: FormText = "") -> Response:
        bad = unstorable(session=session, parcel_id=parcel_id)
        if bad:
            error = kiosk.bad_input(request, bad)
            return kiosk.render(request, "pickup.html", status=INVALID, error=error)
        opened, source = pickups.parcels(session), kiosk.source(request)
        try:
            parcel = edge.flows.refuse(parcel_id, "damaged", opened=opened, source=source)
        except EdgeError as exc:
            return kiosk.code_refused(request, exc)
        door = {"compartment": parcel.compartment, "outcome": "opened", "parcel_id": parcel.id,
                "waybill": parcel.waybill, "refused": True}  # fmt: skip
        return kiosk.render(
            request, "opened.html", doors=[door], session="", allow_refuse=False,
            open_text="door_open_take", done_href="/kiosk/",
        )  # fmt: skip

    @router.get("/courier")
    def sign_in_page(request: Request) -> Response:
        if kiosk.courier(request):
            return RedirectResponse("/kiosk/courier/deposit", status_code=303)
        return kiosk.render(request, "sign_in.html")

    @router.post("/courier")
    def sign_in(request: Request, courier_id: FormText = "", pin: FormText = "") -> Response:
        bad = unstorable(courier_id=courier_id, pin=pin)
        if bad:
            error = kiosk.bad_input(request, bad)
            return kiosk.render(request, "sign_in.html", status=INVALID, error=error)
        try:
            courier = edge.flows.sign_in(courier_id.strip(), pin)
        except EdgeError as exc:
            return kiosk.render(
                request, "sign_in.html", status=exc.status, error=kiosk.explain(request, exc)
            )
        response = RedirectResponse("/kiosk/courier/deposit", status_code=303)
        response.set_cookie(
            SESSION_COOKIE, sessions.open(courier), samesite="strict", httponly=True
        )
        return response

    @router.post("/courier/sign-out")
    def sign_out(request: Request) -> Response:
        return idle(request)

    @router.get("/courier/deposit")
    def deposit_form(request: Request) -> Response:
        courier = kiosk.courier(request)
        if courier is None:
            return RedirectResponse("/kiosk/courier", status_code=303)
        form = {"waybill": "", "phone": "", "size": "S", "low": False, "consent": ""}
        return kiosk.render(
            request,
            "deposit_form.html",
            courier=courier,
            form=form,
            consent_choices=CONSENT_CHOICES,
        )

    @router.post("/courier/deposit")
    async def deposit(
        request: Request,
        waybill: FormText = "",
        phone: FormText = "",
        size: FormText = "S",
        low: FormText = "",
        consent: FormText = "",
    ) -> Response:
        courier = kiosk.courier(request)
        if courier is None:
            return RedirectResponse("/kiosk/courier", status_code=303)
        form = {
            "waybill": waybill,
            "phone": phone,
            "size": size,
            "low": bool(low),
            "consent": consent,
        }
        bad = unstorable(waybill=waybill, phone=phone, size=size, low=low, consent=consent)
        if bad:
            return kiosk.render(
                request, "deposit_form.html", status=INVALID, error=kiosk.bad_input(request, bad),
                courier=courier, form=form | {"waybill": "", "phone": ""},
                consent_choices=CONSENT_CHOICES,
            )  # fmt: skip
        wanted = Size(size) if size in Size.__members__ else Size.S
        try:
            started = await edge.flows.start_deposit(
                courier, waybill=waybill.strip(), phone=phone, size=wanted,
                low=bool(low), consent=consent or None,
            )  # fmt: skip
        except EdgeError as exc:
            return kiosk.render(
                request, "deposit_form.html", status=exc.status, error=kiosk.explain(request, exc),
                courier=courier, form=form, consent_choices=CONSENT_CHOICES,
            )  # fmt: skip
        return RedirectResponse(f"/kiosk/courier/deposit/{started.id}", status_code=303)

    @router.get("/courier/deposit/{deposit_id}")
    def deposit_door(request: Request, deposit_id: str) -> Response:
        courier = kiosk.courier(request)
        if courier is None:
            return RedirectResponse("/kiosk/courier", status_code=303)
        try:
            current = edge.flows.deposit(deposit_id, courier)
        except EdgeError as exc:
            return kiosk.render(
                request, "home.html", status=exc.status, error=kiosk.explain(request, exc)
            )
        masked = mask_phone(current.recipient_phone)
        handed = edge.flows.handed_code(current)
        return kiosk.render(
            request, "deposit_door.html", deposit=current, masked_phone=masked, handed_code=handed
        )

    async def courier_says(request: Request, deposit_id: str, what: str) -> Response:
        courier = kiosk.courier(request)
        if courier is None:
            return RedirectResponse("/kiosk/courier", status_code=303)
        try:
            if what == "cancel":
                await edge.flows.cancel(courier, deposit_id)
            else:
                await edge.flows.does_not_fit(courier, deposit_id)
        except EdgeError:
            pass  # the door page shows the deposit's actual state
        return RedirectResponse(f"/kiosk/courier/deposit/{deposit_id}", status_code=303)

    @router.post("/courier/deposit/{deposit_id}/does-not-fit")
    async def does_not_fit(request: Request, deposit_id: str) -> Response:
        return await courier_says(request, deposit_id, "does-not-fit")

    @router.post("/courier/deposit/{deposit_id}/cancel")
    async def cancel(request: Request, deposit_id: str) -> Response:
        return await courier_says(request, deposit_id, "cancel")

    @router.get("/courier/returns")
    def returns(request: Request) -> Response:
        courier = kiosk.courier(request)
        if courier is None:
            return RedirectResponse("/kiosk/courier", status_code=303)
        return kiosk.render(request, "returns.html", returns=edge.flows.returns_for(courier))

    @router.post("/courier/returns")
    async def collect(request: Request) -> Response:
        courier = kiosk.courier(request)
        if courier is None:
            return RedirectResponse("/kiosk/courier", status_code=303)
        try:
            doors = await edge.flows.collect_returns(courier)
        except EdgeError as exc:
            return kiosk.render(
                request,
                "returns.html",
                status=exc.status,
                error=kiosk.explain(request, exc),
                returns=[],
            )
        return kiosk.render(
            request, "opened.html", doors=_doors(doors), session="", allow_refuse=False,
            open_text="door_open_collect", done_href="/kiosk/courier/deposit",
        )  # fmt: skip

    return router


def root_redirect() -> HTMLResponse:
    return HTMLResponse('<meta http-equiv="refresh" content="0; url=/kiosk/">')
