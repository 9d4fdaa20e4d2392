"""The kiosk's page routes: forms in, flows called, the person told what to do next.

A form field that is too long or holds a character no store should keep (NUL, a control
character, a lone surrogate) is answered with the form again and an error, status 422.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from controller.codes import mask_phone
from controller.cold.zones import classes_here
from controller.config import EdgeConfig, Size
from controller.deps import (
    ConfigDep,
    EdgeDep,
    FlowsDep,
    PageCourierDep,
    PickupsDep,
    SessionsDep,
    SourceDep,
)
from controller.errors import (
    BadCredentials,
    BankFull,
    EdgeError,
    EntryDisabled,
    LockedOut,
    Maintenance,
    WrongCode,
)
from controller.flows import CONSENT_CHOICES, CourierIdentity, DoorView, Flows
from controller.kiosk.fields import unstorable
from controller.kiosk.i18n import DEFAULT_LANGUAGE, LANGUAGES, flow_message, translator
from controller.sessions import SESSION_COOKIE
from locker_contract.cold import TemperatureClass

LANG_COOKIE = "kiosk_lang"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
FormText = Annotated[str, Form()]
INVALID = 422
OPENED = ("opened", "already_open", "unknown")  # outcomes whose parcel a refusal may name
LABELS = {
    "code": "code_label",
    "courier_id": "courier_id",
    "pin": "pin",
    "waybill": "waybill",
    "phone": "phone",
    "size": "size",
    "low": "low",
    "consent": "consent",
    "temperature_class": "temperature_class",
}
WRONG_CODE = "that code opens nothing here"  # controller.flows.Flows.pickup
SIGN_IN_PAGE = "/kiosk/courier"
DEPOSIT_PAGE = "/kiosk/courier/deposit"


def _lang(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def _clock(seconds: float) -> str:
    whole = int(seconds + 0.999)
    return f"{whole // 60}:{whole % 60:02d}"


class Kiosk:
    """Renders the pages that answer one request, in the language its cookie chose."""

    def __init__(self, request: Request, config: EdgeConfig) -> None:
        self.request = request
        self.config = config
        self.lang = _lang(request)
        self.t = translator(self.lang)

    def render(self, name: str, *, status: int = 200, **context: Any) -> Response:
        bank = self.config.bank
        base = {
            "t": self.t,
            "lang": self.lang,
            "other_lang": "en" if self.lang == "zh" else "zh",
            "here": self.request.url.path,
            "bank_name": bank.name or bank.id,
            "show_home": name != "home.html",
            "idle_seconds": 0 if name == "home.html" else self.config.policy.kiosk_idle_s,
            "idle_target": "/kiosk/idle",
            "error": None,
            "notice": None,
        }
        return TEMPLATES.TemplateResponse(self.request, name, base | context, status_code=status)

    def explain(self, exc: EdgeError) -> str:
        t = self.t
        match exc:
            case WrongCode() if "attempts_left" in exc.detail and exc.message == WRONG_CODE:
                return t("wrong_code", n=exc.detail["attempts_left"])
            case WrongCode() | LockedOut() if "retry_after_s" in exc.detail:
                return t("locked_out", time=_clock(float(str(exc.detail["retry_after_s"]))))
            case EntryDisabled():
                return t("disabled")
            case Maintenance():
                return t("maintenance")
            case BankFull() if "temperature_class" in exc.detail:
                klass = t(f"class_{exc.detail['temperature_class']}")
                return t("bank_full_class", size=exc.detail.get("size", ""), klass=klass)
            case BankFull():
                return t("bank_full", size=exc.detail.get("size", ""))
            case BadCredentials():
                return t("bad_sign_in")
            case _:
                return flow_message(exc.message, self.lang)

    def refused(self, name: str, exc: EdgeError, **context: Any) -> Response:
        """Page ``name`` again, saying why the flow refused."""
        return self.render(name, status=exc.status, error=self.explain(exc), **context)

    def bad_input(self, name: str, fields: list[str], **context: Any) -> Response:
        """Page ``name`` again, naming the fields that held what no store should keep."""
        t = self.t
        named = [t(LABELS[field]) for field in fields if field in LABELS]
        error = t("bad_input", field=", ".join(named)) if named else t("pickup_ended")
        return self.render(name, status=INVALID, error=error, **context)

    def code_refused(self, exc: EdgeError) -> Response:
        """The pickup page again, after a wrong code or refusal: tries left, or a countdown."""
        retry = exc.detail.get("retry_after_s")
        locked = float(str(retry)) if retry is not None else 0
        return self.render(
            "pickup.html",
            status=exc.status,
            error=None if locked else self.explain(exc),
            locked_seconds=int(locked + 0.999),
            locked_text=_clock(locked),
            disabled=isinstance(exc, EntryDisabled) or bool(exc.detail.get("disabled")),
        )

    def opened(self, doors: list[dict[str, object]], **context: Any) -> Response:
        return self.render("opened.html", doors=doors, **context)


def get_kiosk(request: Request, config: ConfigDep) -> Kiosk:
    return Kiosk(request, config)


KioskDep = Annotated[Kiosk, Depends(get_kiosk)]
router = APIRouter(prefix="/kiosk", include_in_schema=False)


def _doors(views: list[DoorView]) -> list[dict[str, object]]:
    return [view.__dict__ | {"refused": False} for view in views]


def opened_parcels(views: list[DoorView]) -> list[str]:
    """The parcels a pickup opened (or may have): what its session lets the recipient refuse."""
    return [v.parcel_id for v in views if v.parcel_id is not None and v.outcome in OPENED]


def _chosen_class(value: str) -> TemperatureClass | None:
    """The class the courier chose on the form; nothing chosen (or nothing this kiosk offers)
    is None, and the parcel is ambient unless announced otherwise."""
    return TemperatureClass(value) if value in set(TemperatureClass) else None


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/")
def home(kiosk: KioskDep, edge: EdgeDep) -> Response:
    offline = edge.link is not None and not edge.link.status.connected
    return kiosk.render("home.html", maintenance=edge.flows.in_maintenance(), offline=offline)


@router.get("/lang/{code}")
def language(code: str, next: str = "/kiosk/") -> Response:
    target = next if next.startswith("/kiosk") and not unstorable(next=next) else "/kiosk/"
    response = _see_other(target)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, samesite="strict", httponly=True)
    return response


@router.post("/idle")
@router.post("/courier/sign-out")
def idle(request: Request, sessions: SessionsDep) -> Response:
    sessions.close(request.cookies.get(SESSION_COOKIE, ""))
    response = _see_other("/kiosk/")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/pickup")
def pickup_page(kiosk: KioskDep) -> Response:
    return kiosk.render("pickup.html")


@router.post("/pickup")
async def pickup(
    kiosk: KioskDep, flows: FlowsDep, pickups: PickupsDep, source: SourceDep, code: FormText = ""
) -> Response:
    bad = unstorable(code=code)
    if bad:
        return kiosk.bad_input("pickup.html", bad)
    try:
        doors = await flows.pickup(code, source=source)
    except EdgeError as exc:
        return kiosk.code_refused(exc)
    token = pickups.open(opened_parcels(doors))
    return kiosk.opened(
        _doors(doors),
        session=token,
        allow_refuse=True,
        open_text="door_open_take",
        done_href="/kiosk/",
    )


@router.post("/pickup/refuse")
def refuse(
    *,
    kiosk: KioskDep,
    flows: FlowsDep,
    pickups: PickupsDep,
    source: SourceDep,
    session: FormText = "",
    parcel_id: FormText = "",
) -> Response:
    bad = unstorable(session=session, parcel_id=parcel_id)
    if bad:
        return kiosk.bad_input("pickup.html", bad)
    opened = pickups.parcels(session)
    try:
        parcel = flows.refuse(parcel_id, "damaged", opened=opened, source=source)
    except EdgeError as exc:
        return kiosk.code_refused(exc)
    door = {
        "compartment": parcel.compartment,
        "outcome": "opened",
        "parcel_id": parcel.id,
        "waybill": parcel.waybill,
        "refused": True,
    }
    return kiosk.opened(
        [door], session="", allow_refuse=False, open_text="door_open_take", done_href="/kiosk/"
    )


@router.get("/courier")
def sign_in_page(kiosk: KioskDep, courier: PageCourierDep) -> Response:
    if courier:
        return _see_other(DEPOSIT_PAGE)
    return kiosk.render("sign_in.html")


@router.post("/courier")
def sign_in(
    *,
    kiosk: KioskDep,
    flows: FlowsDep,
    sessions: SessionsDep,
    courier_id: FormText = "",
    pin: FormText = "",
) -> Response:
    bad = unstorable(courier_id=courier_id, pin=pin)
    if bad:
        return kiosk.bad_input("sign_in.html", bad)
    try:
        courier = flows.sign_in(courier_id.strip(), pin)
    except EdgeError as exc:
        return kiosk.refused("sign_in.html", exc)
    response = _see_other(DEPOSIT_PAGE)
    response.set_cookie(SESSION_COOKIE, sessions.open(courier), samesite="strict", httponly=True)
    return response


@router.get("/courier/deposit")
def deposit_form(kiosk: KioskDep, courier: PageCourierDep) -> Response:
    if courier is None:
        return _see_other(SIGN_IN_PAGE)
    form = {"waybill": "", "phone": "", "size": "S", "low": False, "consent": ""}
    return kiosk.render("deposit_form.html", **_form_context(kiosk, courier, form))


def _form_context(kiosk: Kiosk, courier: CourierIdentity, form: dict[str, Any]) -> dict[str, Any]:
    """What the deposit form shows: the courier, what they typed, and the choices offered (a
    temperature class only where the bank has chilled or frozen compartments)."""
    classes = [k.value for k in classes_here(kiosk.config.zones)]
    return {
        "courier": courier,
        "form": {"temperature_class": "", **form},
        "consent_choices": CONSENT_CHOICES,
        "class_choices": classes,
    }


async def _start_deposit(
    kiosk: Kiosk, flows: Flows, courier: CourierIdentity, form: dict[str, Any]
) -> Response:
    """Start the deposit the (storable) form asks for: its door's page, or the form again."""
    size = form["size"]
    try:
        started = await flows.start_deposit(
            courier,
            waybill=form["waybill"].strip(),
            phone=form["phone"],
            size=Size(size) if size in Size.__members__ else Size.S,
            low=form["low"],
            consent=form["consent"] or None,
            temperature_class=_chosen_class(form["temperature_class"]),
        )
    except EdgeError as exc:
        return kiosk.refused("deposit_form.html", exc, **_form_context(kiosk, courier, form))
    return _see_other(f"{DEPOSIT_PAGE}/{started.id}")


@router.post("/courier/deposit")
async def deposit(
    *,
    kiosk: KioskDep,
    flows: FlowsDep,
    courier: PageCourierDep,
    waybill: FormText = "",
    phone: FormText = "",
    size: FormText = "S",
    low: FormText = "",
    consent: FormText = "",
    temperature_class: FormText = "",
) -> Response:
    if courier is None:
        return _see_other(SIGN_IN_PAGE)
    fields = {"waybill": waybill, "phone": phone, "size": size, "low": low, "consent": consent}
    bad = unstorable(**fields, temperature_class=temperature_class)
    form = fields | {"low": bool(low), "temperature_class": temperature_class}
    if bad:
        blanked = form | {"waybill": "", "phone": ""}
        return kiosk.bad_input("deposit_form.html", bad, **_form_context(kiosk, courier, blanked))
    return await _start_deposit(kiosk, flows, courier, form)


@router.get("/courier/deposit/{deposit_id}")
def deposit_door(
    kiosk: KioskDep, flows: FlowsDep, courier: PageCourierDep, deposit_id: str
) -> Response:
    if courier is None:
        return _see_other(SIGN_IN_PAGE)
    try:
        current = flows.deposit(deposit_id, courier)
    except EdgeError as exc:
        return kiosk.refused("home.html", exc)
    return kiosk.render(
        "deposit_door.html",
        deposit=current,
        masked_phone=mask_phone(current.recipient_phone),
        handed_code=flows.handed_code(current),
    )


async def _courier_says(
    flows: Flows, courier: CourierIdentity | None, deposit_id: str, what: str
) -> Response:
    if courier is None:
        return _see_other(SIGN_IN_PAGE)
    try:
        if what == "cancel":
            await flows.cancel(courier, deposit_id)
        else:
            await flows.does_not_fit(courier, deposit_id)
    except EdgeError:
        pass  # the door page shows the deposit's actual state
    return _see_other(f"{DEPOSIT_PAGE}/{deposit_id}")


@router.post("/courier/deposit/{deposit_id}/does-not-fit")
async def does_not_fit(flows: FlowsDep, courier: PageCourierDep, deposit_id: str) -> Response:
    return await _courier_says(flows, courier, deposit_id, "does-not-fit")


@router.post("/courier/deposit/{deposit_id}/cancel")
async def cancel(flows: FlowsDep, courier: PageCourierDep, deposit_id: str) -> Response:
    return await _courier_says(flows, courier, deposit_id, "cancel")


@router.get("/courier/returns")
def returns(kiosk: KioskDep, flows: FlowsDep, courier: PageCourierDep) -> Response:
    if courier is None:
        return _see_other(SIGN_IN_PAGE)
    return kiosk.render("returns.html", returns=flows.returns_for(courier))


@router.post("/courier/returns")
async def collect(kiosk: KioskDep, flows: FlowsDep, courier: PageCourierDep) -> Response:
    if courier is None:
        return _see_other(SIGN_IN_PAGE)
    try:
        doors = await flows.collect_returns(courier)
    except EdgeError as exc:
        return kiosk.refused("returns.html", exc, returns=[])
    return kiosk.opened(
        _doors(doors),
        session="",
        allow_refuse=False,
        open_text="door_open_collect",
        done_href=DEPOSIT_PAGE,
    )


def root_redirect() -> HTMLResponse:
    return HTMLResponse('<meta http-equiv="refresh" content="0; url=/kiosk/">')
