"""The kiosk's JSON API (FastAPI), served on 127.0.0.1 by default, with Prometheus metrics.

Courier endpoints take ``Authorization: Bearer <token>`` from ``/api/courier/sign-in``; a
session ends after ``session_timeout_s`` without a request. Errors carry ``detail`` and, where it
helps the person at the screen, ``attempts_left`` or ``retry_after_s``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field
from sqlmodel import select

from controller.config import Size
from controller.daemon import Edge
from controller.errors import EdgeError, LockedOut, NotAllowed
from controller.flows import CONSENT_CHOICES, CourierIdentity, DoorView
from controller.kiosk.pages import kiosk_router, root_redirect
from controller.sessions import SESSION_COOKIE, Sessions
from controller.store import (
    Compartment,
    Deposit,
    Outbox,
    transaction,
)

KIOSK_STATIC = Path(__file__).parent / "kiosk" / "static"


class SignIn(BaseModel):
    courier_id: Annotated[str, Field(min_length=1, max_length=64)]
    pin: Annotated[str, Field(min_length=4, max_length=12)]


class SignedIn(BaseModel):
    token: str
    courier_id: str
    carrier: str


class DepositIn(BaseModel):
    waybill: Annotated[str, Field(min_length=1, max_length=64)]
    phone: Annotated[str, Field(max_length=32)] = ""
    size: Size = Size.S
    low: bool = False
    consent: Annotated[str | None, Field(description=f"one of {', '.join(CONSENT_CHOICES)}")] = None


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
    code: Annotated[str, Field(min_length=8, max_length=16)]


class RefuseIn(CodeIn):
    parcel_id: str
    reason: Annotated[str, Field(min_length=1, max_length=200)] = "damaged"


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


def create_app(edge: Edge, *, start_edge: bool = True) -> FastAPI:
    """The kiosk API for ``edge``; with ``start_edge`` the app's lifespan runs the daemon."""
    sessions = Sessions(edge.config.policy.session_timeout_s)
    flows = edge.flows
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
    app.include_router(kiosk_router(edge, sessions))
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
    def get_deposit(deposit_id: str, courier: Courier) -> DepositOut:
        deposit = flows.deposit(deposit_id, courier)
        return _deposit_out(deposit).model_copy(update={"pickup_code": flows.handed_code(deposit)})

    @app.post("/api/deposits/{deposit_id}/does-not-fit")
    async def does_not_fit(deposit_id: str, courier: Courier) -> DepositOut:
        return _deposit_out(await flows.does_not_fit(courier, deposit_id))

    @app.post("/api/deposits/{deposit_id}/cancel")
    async def cancel(deposit_id: str, courier: Courier) -> DepositOut:
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

    @app.post("/api/pickup")
    async def pickup(body: CodeIn) -> list[DoorOut]:
        return _doors_out(await flows.pickup(body.code))

    @app.post("/api/pickup/refuse")
    def refuse(body: RefuseIn) -> ReturnOut:
        parcel = flows.refuse(body.code, body.parcel_id, body.reason)
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
