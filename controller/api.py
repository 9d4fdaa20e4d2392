"""The kiosk's JSON API (FastAPI), served on 127.0.0.1 by default, with Prometheus metrics.

Courier endpoints take ``Authorization: Bearer <token>`` from ``/api/courier/sign-in``; a
session ends after ``session_timeout_s`` without a request. ``POST /api/pickup`` answers the doors
it opened and, in the ``X-Pickup-Session`` header, the token that ``POST /api/pickup/refuse``
needs for ``pickup_session_s``. Errors carry ``detail`` and, where it helps the person at the
screen, ``attempts_left`` or ``retry_after_s``. Every field is bounded printable text
(``controller.kiosk.fields``); a request that is not gets a 422 that quotes only a bounded,
sanitised prefix of what it held.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, FastAPI, Header, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import func, select

from controller.config import ApiSpec, Size
from controller.daemon import Edge
from controller.deps import (
    CourierDep,
    EdgeDep,
    FlowsDep,
    KioskState,
    PickupsDep,
    SessionsDep,
    SourceDep,
    StateDep,
)
from controller.errors import EdgeError, LockedOut
from controller.flows import CONSENT_CHOICES, DoorView
from controller.kiosk import pages as kiosk
from controller.kiosk.fields import Code, Consent, CourierId, Phone, Pin, Reason, Token, Waybill
from controller.kiosk.pages import opened_parcels
from controller.sessions import PickupSessions, Sessions
from controller.store import Compartment, Deposit, Outbox, Parcel, transaction
from locker_contract.cold import TemperatureClass
from locker_contract.text import check_text, sanitised

KIOSK_STATIC = Path(__file__).parent / "kiosk" / "static"
PICKUP_SESSION_HEADER = "X-Pickup-Session"
MAX_ERRORS_SHOWN = 10
DepositId = Annotated[str, PathParam(min_length=1, max_length=64), AfterValidator(check_text)]


class SignIn(BaseModel):
    courier_id: CourierId
    pin: Pin


class SignedIn(BaseModel):
    token: str
    courier_id: str
    carrier: str


class DepositIn(BaseModel):
    waybill: Waybill
    phone: Phone = ""
    size: Size = Size.S
    low: bool = False
    consent: Annotated[
        Consent | None, Field(description=f"one of {', '.join(CONSENT_CHOICES)}")
    ] = None
    temperature_class: TemperatureClass | None = None  # a walk-up chilled or frozen parcel


class DepositOut(BaseModel):
    deposit_id: str
    state: str
    compartment: str | None
    size: str
    outcome: str
    parcel_id: str | None
    flagged_for_review: bool
    # on a bank without a notifier key only: the code the courier hands on (decision 0011)
    pickup_code: str | None = None


class CodeIn(BaseModel):
    code: Code


class RefuseIn(BaseModel):
    session: Token  # the X-Pickup-Session header of the pickup that opened the door
    parcel_id: Token
    reason: Reason = "damaged"


class DoorOut(BaseModel):
    compartment: str
    outcome: str
    parcel_id: str | None = None
    waybill: str | None = None
    fee: str = ""  # the storage fee charged as the door opened (``flows.fees``), if any
    fee_state: str = ""  # paid, or owed (the payment provider failed: decision 0017)


class ReturnOut(BaseModel):
    parcel_id: str
    waybill: str
    compartment: str
    reason: str


class LinkOut(BaseModel):
    """The cloud link: standalone when not configured; otherwise whether it is up now and how
    many events wait in the outbox for the cloud's ack."""

    configured: bool
    connected: bool = False
    acked_seq: int = 0
    unacknowledged: int = 0
    reconnects: int = 0


class Status(BaseModel):
    bank_id: str
    name: str
    maintenance: bool
    free: dict[str, int]
    boards_online: dict[str, bool]
    link: LinkOut


def _deposit_out(deposit: Deposit) -> DepositOut:
    return DepositOut(
        deposit_id=deposit.id,
        state=deposit.state,
        compartment=deposit.compartment,
        size=deposit.size,
        outcome=deposit.outcome,
        parcel_id=deposit.parcel_id,
        flagged_for_review=deposit.flagged_for_review,
    )


def _link_out(edge: Edge) -> LinkOut:
    if edge.link is None:
        return LinkOut(configured=False)
    status = edge.link.status
    return LinkOut(
        configured=True,
        connected=status.connected,
        acked_seq=status.acked_seq,
        unacknowledged=max(0, status.last_seq - status.acked_seq),
        reconnects=status.reconnects,
    )


def _return_out(parcel: Parcel) -> ReturnOut:
    return ReturnOut(
        parcel_id=parcel.id,
        waybill=parcel.waybill,
        compartment=parcel.compartment,
        reason=parcel.refusal,
    )


def _doors_out(views: list[DoorView]) -> list[DoorOut]:
    return [DoorOut(**view.__dict__) for view in views]


class EdgeCollector(Collector):
    """Metrics read from the store and the buses at scrape time."""

    def __init__(self, edge: Edge) -> None:
        self.edge = edge

    def collect(self) -> Iterator[Any]:
        yield self._compartments()
        yield from self._buses()
        yield from self._link()

    def _link(self) -> Iterator[Any]:
        if self.edge.link is None:
            return
        status = self.edge.link.status
        up = GaugeMetricFamily("locker_link_connected", "1 while the cloud link is up")
        up.add_metric([], float(status.connected))
        yield up
        reconnects = CounterMetricFamily("locker_link_reconnects", "Cloud link reconnects")
        reconnects.add_metric([], status.reconnects)
        yield reconnects

    def _compartments(self) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily("locker_compartments", "Compartments by state", labels=["state"])
        with transaction(self.edge.engine) as s:
            rows = list(s.exec(select(Compartment)))
            pending = s.exec(select(func.count()).select_from(Outbox)).one()
        free = sum(self.edge.flows.free_by_size(None).values())  # fridges too
        in_service = sum(r.in_service for r in rows)
        gauge.add_metric(["out_of_service"], len(rows) - in_service)
        gauge.add_metric(["free"], free)
        gauge.add_metric(["busy"], in_service - free)
        gauge.add_metric(["outbox_pending"], pending)
        return gauge

    def _buses(self) -> Iterator[Any]:
        for name, bus in self.edge.buses.items():
            for metric, value in (
                ("transactions", bus.metrics.transactions),
                ("timeouts", bus.metrics.timeouts),
                ("retries", bus.metrics.retries),
                ("noise_bytes", bus.parser.stats.noise_bytes),
                ("bad_frames", bus.parser.stats.bad_frames),
            ):
                counter = CounterMetricFamily(
                    f"locker_bus_{metric}", f"Bus {metric}", labels=["bus"]
                )
                counter.add_metric([name], value)
                yield counter


def _quoted(part: object) -> object:
    return part if isinstance(part, int) else sanitised(part)


SECRET_FIELDS = frozenset({"pin", "code", "session"})  # never echoed, not even in part


def _error_out(error: Any) -> dict[str, object]:
    """One validation error as the client sees it: what went wrong and where, and only a
    bounded, printable quote of the input (never the NUL, surrogate or NaN itself, and never
    a PIN, code or session token)."""
    loc = list(error.get("loc", ()))
    out: dict[str, object] = {
        "type": sanitised(error.get("type", "")),
        "loc": [_quoted(part) for part in loc],
        "msg": sanitised(error.get("msg", ""), 200),
    }
    if not (loc and loc[-1] in SECRET_FIELDS):
        out["input"] = sanitised(_without_secrets(error.get("input")))
    return out


def _without_secrets(value: object) -> object:
    if isinstance(value, dict):
        return {k: "***" if k in SECRET_FIELDS else v for k, v in value.items()}
    return value


async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    detail = [_error_out(error) for error in errors[:MAX_ERRORS_SHOWN]]
    return JSONResponse(status_code=422, content={"detail": detail})


def server_config(app: FastAPI, api: ApiSpec, **options: Any) -> uvicorn.Config:
    """How the daemon serves ``app``: the peer address is the throttle's source, so no
    ``X-Forwarded-For`` is believed, not even from the loopback (uvicorn's default)."""
    return uvicorn.Config(app, host=api.host, port=api.port, proxy_headers=False, **options)


router = APIRouter(prefix="/api")
SESSION_HEADER = {"description": "the token refusing needs", "schema": {"type": "string"}}


async def edge_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EdgeError)
    headers = {}
    if isinstance(exc, LockedOut):
        headers["Retry-After"] = str(int(float(str(exc.detail["retry_after_s"])) + 0.999))
    body = {"detail": exc.message, **exc.detail}
    return JSONResponse(status_code=exc.status, content=body, headers=headers)


@router.get("/status")
def status(edge: EdgeDep, flows: FlowsDep) -> Status:
    online = edge.doors.boards_online() if edge.doors else {}
    return Status(
        bank_id=edge.config.bank.id,
        name=edge.config.bank.name,
        maintenance=flows.in_maintenance(),
        free=flows.free_by_size(),
        boards_online={f"{bus}/{board}": up for (bus, board), up in online.items()},
        link=_link_out(edge),
    )


@router.post("/courier/sign-in")
def sign_in(body: SignIn, flows: FlowsDep, sessions: SessionsDep) -> SignedIn:
    courier = flows.sign_in(body.courier_id, body.pin)
    return SignedIn(
        token=sessions.open(courier), courier_id=courier.courier_id, carrier=courier.carrier
    )


@router.post("/courier/sign-out", status_code=204)
def sign_out(sessions: SessionsDep, authorization: Annotated[str, Header()] = "") -> None:
    sessions.close(authorization.partition(" ")[2])


@router.post("/deposits", status_code=201)
async def start_deposit(body: DepositIn, courier: CourierDep, flows: FlowsDep) -> DepositOut:
    deposit = await flows.start_deposit(
        courier,
        waybill=body.waybill.strip(),
        phone=body.phone,
        size=body.size,
        low=body.low,
        consent=body.consent,
        temperature_class=body.temperature_class,
    )
    return _deposit_out(deposit)


@router.get("/deposits/{deposit_id}")
def get_deposit(deposit_id: DepositId, courier: CourierDep, flows: FlowsDep) -> DepositOut:
    deposit = flows.deposit(deposit_id, courier)
    return _deposit_out(deposit).model_copy(update={"pickup_code": flows.handed_code(deposit)})


@router.post("/deposits/{deposit_id}/does-not-fit")
async def does_not_fit(deposit_id: DepositId, courier: CourierDep, flows: FlowsDep) -> DepositOut:
    return _deposit_out(await flows.does_not_fit(courier, deposit_id))


@router.post("/deposits/{deposit_id}/cancel")
async def cancel(deposit_id: DepositId, courier: CourierDep, flows: FlowsDep) -> DepositOut:
    return _deposit_out(await flows.cancel(courier, deposit_id))


@router.get("/returns")
def returns(courier: CourierDep, flows: FlowsDep) -> list[ReturnOut]:
    return [_return_out(parcel) for parcel in flows.returns_for(courier)]


@router.post("/returns/collect")
async def collect_returns(courier: CourierDep, flows: FlowsDep) -> list[DoorOut]:
    return _doors_out(await flows.collect_returns(courier))


@router.post("/pickup", responses={200: {"headers": {PICKUP_SESSION_HEADER: SESSION_HEADER}}})
async def pickup(
    body: CodeIn, response: Response, flows: FlowsDep, pickups: PickupsDep, source: SourceDep
) -> list[DoorOut]:
    doors = await flows.pickup(body.code, source=source)
    response.headers[PICKUP_SESSION_HEADER] = pickups.open(opened_parcels(doors))
    return _doors_out(doors)


@router.post("/pickup/refuse")
def refuse(body: RefuseIn, flows: FlowsDep, pickups: PickupsDep, source: SourceDep) -> ReturnOut:
    opened = pickups.parcels(body.session)
    return _return_out(flows.refuse(body.parcel_id, body.reason, opened=opened, source=source))


def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.metrics), media_type="text/plain; version=0.0.4")


@asynccontextmanager
async def _run_edge(app: FastAPI) -> AsyncIterator[None]:
    state: KioskState = app.state.kiosk
    await state.edge.start()
    try:
        yield
    finally:
        await state.edge.stop()


@asynccontextmanager
async def _edge_runs_elsewhere(_app: FastAPI) -> AsyncIterator[None]:
    yield


def create_app(edge: Edge, *, start_edge: bool = True) -> FastAPI:
    """The kiosk API for ``edge``; with ``start_edge`` the app's lifespan runs the daemon."""
    lifespan = _run_edge if start_edge else _edge_runs_elsewhere
    app = FastAPI(title=f"smartlocker kiosk API: {edge.config.bank.id}", lifespan=lifespan)
    app.state.kiosk = KioskState(
        edge=edge,
        sessions=Sessions(edge.config.policy.session_timeout_s, edge.flows.clock),
        pickups=PickupSessions(edge.config.policy.pickup_session_s, edge.flows.clock),
        metrics=CollectorRegistry(),
    )
    app.state.kiosk.metrics.register(EdgeCollector(edge))
    app.include_router(router)
    app.include_router(kiosk.router)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(EdgeError, edge_error)
    app.mount("/kiosk/static", StaticFiles(directory=KIOSK_STATIC), name="kiosk-static")
    app.get("/", include_in_schema=False)(kiosk.root_redirect)
    app.get("/metrics", include_in_schema=False)(metrics)
    return app
