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
from fastapi import Depends, FastAPI, Header, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import select

from controller.config import ApiSpec, Size
from controller.daemon import Edge
from controller.errors import EdgeError, LockedOut, NotAllowed
from controller.flows import CONSENT_CHOICES, CourierIdentity, DoorView
from controller.kiosk.fields import Code, Consent, CourierId, Phone, Pin, Reason, Token, Waybill
from controller.kiosk.pages import kiosk_router, opened_parcels, root_redirect
from controller.sessions import SESSION_COOKIE, PickupSessions, Sessions
from controller.store import (
    Compartment,
    Deposit,
    Outbox,
    transaction,
)
from controller.throttle import source_for
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
        configured=True, connected=status.connected, acked_seq=status.acked_seq,
        unacknowledged=max(0, status.last_seq - status.acked_seq), reconnects=status.reconnects,
    )  # fmt: skip


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
            pending = len(list(s.exec(select(Outbox.seq))))
        free = sum(self.edge.flows.free_by_size().values())
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


def _error_out(error: Any) -> dict[str, object]:
    """One validation error as the client sees it: what went wrong and where, and only a
    bounded, printable quote of the input (never the NUL, surrogate or NaN itself)."""
    return {
        "type": sanitised(error.get("type", "")),
        "loc": [_quoted(part) for part in error.get("loc", ())],
        "msg": sanitised(error.get("msg", ""), 200),
        "input": sanitised(error.get("input")),
    }


async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    detail = [_error_out(error) for error in errors[:MAX_ERRORS_SHOWN]]
    return JSONResponse(status_code=422, content={"detail": detail})


def request_source(request: Request) -> str:
    """The throttle's source for this request: the kiosk's own screen, or the network."""
    edge: Edge = request.app.state.edge
    host = request.client.host if request.client is not None else None
    return source_for(host, edge.config.policy.kiosk_terminals)


def current_courier(
    request: Request, authorization: Annotated[str, Header()] = ""
) -> CourierIdentity:
    """The signed-in courier: a bearer token (API clients) or the kiosk's session cookie."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise NotAllowed("sign in first")
    sessions: Sessions = request.app.state.sessions
    return sessions.courier(token)


Courier = Annotated[CourierIdentity, Depends(current_courier)]


def server_config(app: FastAPI, api: ApiSpec, **options: Any) -> uvicorn.Config:
    """How the daemon serves ``app``: the peer address is the throttle's source, so no
    ``X-Forwarded-For`` is believed, not even from the loopback (uvicorn's default)."""
    return uvicorn.Config(app, host=api.host, port=api.port, proxy_headers=False, **options)


def create_app(edge: Edge, *, start_edge: bool = True) -> FastAPI:
    """The kiosk API for ``edge``; with ``start_edge`` the app's lifespan runs the daemon."""
    sessions = Sessions(edge.config.policy.session_timeout_s)
    flows = edge.flows
    pickups = PickupSessions(edge.config.policy.pickup_session_s, flows.clock)
    registry = CollectorRegistry()
    registry.register(EdgeCollector(edge))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not start_edge:
            yield
            return
        await edge.start()
        try:
            yield
        finally:
            await edge.stop()

    app = FastAPI(title=f"smartlocker kiosk API: {edge.config.bank.id}", lifespan=lifespan)
    app.state.sessions = sessions
    app.state.edge = edge
    app.include_router(kiosk_router(edge, sessions, pickups))
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.mount("/kiosk/static", StaticFiles(directory=KIOSK_STATIC), name="kiosk-static")
    app.get("/", include_in_schema=False)(root_redirect)

    @app.exception_handler(EdgeError)
    async def edge_error(_request: Request, exc: EdgeError) -> JSONResponse:
        headers = {}
        if isinstance(exc, LockedOut):
            headers["Retry-After"] = str(int(float(str(exc.detail["retry_after_s"])) + 0.999))
        body = {"detail": exc.message, **exc.detail}
        return JSONResponse(status_code=exc.status, content=body, headers=headers)

    @app.get("/api/status")
    def status() -> Status:
        online = edge.doors.boards_online() if edge.doors else {}
        return Status(
            bank_id=edge.config.bank.id,
            name=edge.config.bank.name,
            maintenance=flows.in_maintenance(),
            free=flows.free_by_size(),
            boards_online={f"{bus}/{board}": up for (bus, board), up in online.items()},
            link=_link_out(edge),
        )

    @app.post("/api/courier/sign-in")
    def sign_in(body: SignIn) -> SignedIn:
        courier = flows.sign_in(body.courier_id, body.pin)
        return SignedIn(
            token=sessions.open(courier), courier_id=courier.courier_id, carrier=courier.carrier
        )

    @app.post("/api/courier/sign-out", status_code=204)
    def sign_out(authorization: Annotated[str, Header()] = "") -> None:
        sessions.close(authorization.partition(" ")[2])

    @app.post("/api/deposits", status_code=201)
    async def start_deposit(body: DepositIn, courier: Courier) -> DepositOut:
        deposit = await flows.start_deposit(
            courier,
            waybill=body.waybill.strip(),
            phone=body.phone,
            size=body.size,
            low=body.low,
            consent=body.consent,
        )
        return _deposit_out(deposit)

    @app.get("/api/deposits/{deposit_id}")
    def get_deposit(deposit_id: DepositId, courier: Courier) -> DepositOut:
        deposit = flows.deposit(deposit_id, courier)
        return _deposit_out(deposit).model_copy(update={"pickup_code": flows.handed_code(deposit)})

    @app.post("/api/deposits/{deposit_id}/does-not-fit")
    async def does_not_fit(deposit_id: DepositId, courier: Courier) -> DepositOut:
        return _deposit_out(await flows.does_not_fit(courier, deposit_id))

    @app.post("/api/deposits/{deposit_id}/cancel")
    async def cancel(deposit_id: DepositId, courier: Courier) -> DepositOut:
        return _deposit_out(await flows.cancel(courier, deposit_id))

    @app.get("/api/returns")
    def returns(courier: Courier) -> list[ReturnOut]:
        return [
            ReturnOut(
                parcel_id=p.id, waybill=p.waybill, compartment=p.compartment, reason=p.refusal
            )
            for p in flows.returns_for(courier)
        ]

    @app.post("/api/returns/collect")
    async def collect_returns(courier: Courier) -> list[DoorOut]:
        return _doors_out(await flows.collect_returns(courier))

    session_header = {"description": "the token refusing needs", "schema": {"type": "string"}}

    @app.post("/api/pickup", responses={200: {"headers": {PICKUP_SESSION_HEADER: session_header}}})
    async def pickup(body: CodeIn, request: Request, response: Response) -> list[DoorOut]:
        doors = await flows.pickup(body.code, source=request_source(request))
        response.headers[PICKUP_SESSION_HEADER] = pickups.open(opened_parcels(doors))
        return _doors_out(doors)

    @app.post("/api/pickup/refuse")
    def refuse(body: RefuseIn, request: Request) -> ReturnOut:
        opened = pickups.parcels(body.session)
        source = request_source(request)
        parcel = flows.refuse(body.parcel_id, body.reason, opened=opened, source=source)
        return ReturnOut(
            parcel_id=parcel.id,
            waybill=parcel.waybill,
            compartment=parcel.compartment,
            reason=parcel.refusal,
        )

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    return app
