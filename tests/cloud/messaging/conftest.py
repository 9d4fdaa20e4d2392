"""The notifier against real peers: a fleet database (SQLite and PostgreSQL, built by the
migrations), an HTTP gateway in Twilio's request shape on a local port (``http.server`` in a
thread), and an SMTP server (aiosmtpd) on a free port."""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import Engine
from sqlmodel import Session

from cloud.clock import FixedClock
from cloud.core.config import Settings
from cloud.core.db import make_engine
from cloud.messaging.channels import Channel
from cloud.messaging.dispatcher import EMAIL, PHONE, Dispatcher
from cloud.messaging.mail import SmtpChannel, SmtpConfig
from cloud.messaging.sms import GatewayConfig, SmsGateway
from cloud.models import Bank, BankCursor, Carrier, Compartment, Operator, Site
from cloud.services.ingest import ingest_event
from locker_contract import sealing
from locker_contract.events import Envelope, ParcelDeposited, ParcelPickedUp
from locker_contract.storage import StoragePolicy
from tests.databases import migrated
from tests.threads import serve_in_thread

BANK = "maple-court-3"
PHONE_NUMBER = "13800138000"
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ACCOUNT, TOKEN = "AC0123456789", secrets.token_hex(16)
PUBLIC, PRIVATE = sealing.new_key_pair()


@dataclass
class Gateway:
    """The test gateway: answers ``failures`` requests 503, then accepts; a key it took once
    is a repeat (the same sid back, not sent again)."""

    url: str
    failures: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)
    sent: dict[str, dict[str, str]] = field(default_factory=dict)  # by Idempotency-Key
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self) -> list[str]:
        return [r["key"] for r in self.requests]


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            auth = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {auth}":
                self._answer(401, {"message": "bad credentials"})
                return
            key = self.headers.get("Idempotency-Key", "")
            with gateway.lock:
                gateway.requests.append(form | {"key": key})
                if gateway.failures > 0:
                    gateway.failures -= 1
                    self._answer(503, {"message": "down"})
                    return
                gateway.sent.setdefault(key, form | {"sid": f"SM{uuid.uuid4().hex}"})
                self._answer(201, {"sid": gateway.sent[key]["sid"], "status": "queued"})

        def _answer(self, status: int, body: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test reads what it got from ``gateway``

    return Handler


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    made = Gateway(
        f"http://127.0.0.1:{server.server_port}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    )
    server.RequestHandlerClass = _handler(made)
    thread = serve_in_thread(server, "test-gateway")
    try:
        yield made
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Inbox:
    """aiosmtpd's handler: every message the server accepted."""

    def __init__(self) -> None:
        self.messages: list[SmtpEnvelope] = []

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def settings(database_url: str, gateway: Gateway, tmp_path: Path) -> Settings:
    (tmp_path / "token").write_text(TOKEN)
    return Settings(
        database_url=database_url,
        secret_key=secrets.token_hex(32),
        notify_channel="gateway",
        sms_endpoint=gateway.url,
        sms_account=ACCOUNT,
        sms_token_file=tmp_path / "token",
        sms_sender="+15005550006",
        sms_receipt_url="https://lockers.example.org/api/v1/messages/receipts",
        notify_storage_hours=72,
        notify_remind_before_hours=4,
        notify_retry_base_s=5,
        notify_retry_cap_s=60,
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    migrated(settings.database_url)
    made = make_engine(settings.database_url)
    with Session(made) as s:
        s.add(Operator(id="estates", name="Estates Ltd"))
        s.flush()
        s.add(
            Site(
                id="maple",
                operator_id="estates",
                name="Maple Court",
                lat=31.2,
                lon=121.4,
                address="1 Maple Road, Shanghai",
                timezone="Asia/Shanghai",
            )
        )
        s.flush()
        s.add(Bank(id=BANK, site_id="maple", name="Maple Court, block 3"))
        s.flush()
        s.add(BankCursor(bank_id=BANK))
        s.add(Carrier(id="sf", name="SF Express"))
        s.add(Carrier(id="jd", name="JD Logistics"))
        for n in range(1, 9):
            s.add(Compartment(bank_id=BANK, label=f"A{n:02d}", size="M", size_rank=2))
        s.commit()
    try:
        yield made
    finally:
        made.dispose()


def channels(settings: Settings, smtp_port: int | None = None) -> dict[str, Channel]:
    assert settings.sms_endpoint
    assert settings.sms_account
    assert settings.sms_sender
    config = GatewayConfig(
        settings.sms_endpoint,
        settings.sms_account,
        TOKEN,
        settings.sms_sender,
        receipt_url=settings.sms_receipt_url,
    )
    made: dict[str, Channel] = {PHONE: SmsGateway(config)}
    if smtp_port is not None:
        made[EMAIL] = SmtpChannel(
            SmtpConfig("127.0.0.1", smtp_port, "Lockers <lockers@example.org>", starttls=False)
        )
    return made


def dispatcher(
    engine: Engine, settings: Settings, clock: FixedClock, smtp_port: int | None = None
) -> Dispatcher:
    key = sealing.private_key(PRIVATE)
    return Dispatcher(engine, settings, key, channels(settings, smtp_port), clock=clock)


@dataclass
class Bank3:
    """The bank's side: numbered events, as its outbox would publish them."""

    engine: Engine
    clock: FixedClock
    seq: int = 0
    sent: list[Envelope] = field(default_factory=list)

    def publish(self, event: ParcelDeposited | ParcelPickedUp) -> Envelope:
        self.seq += 1
        envelope = Envelope(
            event_id=uuid.uuid4(), bank_id=BANK, seq=self.seq, time=self.clock.now(), event=event
        )
        ingest_event(self.engine, envelope, self.clock.now())
        self.sent.append(envelope)
        return envelope

    def deposit(
        self,
        waybill: str,
        label: str,
        group: uuid.UUID,
        code: str | None,
        *,
        carrier: str = "sf",
        storage: StoragePolicy | None = None,
    ) -> Envelope:
        sealed = None if code is None else sealing.seal_code(sealing.public_key(PUBLIC), code)
        return self.publish(
            ParcelDeposited(
                parcel_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{waybill}@{label}"),
                waybill=waybill,
                carrier=carrier,
                courier_id="sf-0042",
                compartment=label,
                recipient_phone=PHONE_NUMBER,
                group_id=group,
                sealed_code=sealed,
                consent="recipient_app",
                flagged_for_review=False,
                deposited_at=self.clock.now(),
                storage=storage,
            )
        )

    def picked_up(self, waybill: str, label: str) -> Envelope:
        return self.publish(
            ParcelPickedUp(
                parcel_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{waybill}@{label}"),
                waybill=waybill,
                compartment=label,
            )
        )

    def redeliver_all(self) -> None:
        for envelope in self.sent:
            ingest_event(self.engine, envelope, self.clock.now())


@pytest.fixture
def bank(engine: Engine, clock: FixedClock) -> Bank3:
    return Bank3(engine, clock)


@dataclass
class Rig:
    bank: Bank3
    gateway: Gateway
    engine: Engine
    settings: Settings
    clock: FixedClock

    def parts(self) -> tuple[Bank3, Gateway, Engine, Settings, FixedClock]:
        return self.bank, self.gateway, self.engine, self.settings, self.clock


@pytest.fixture
def rig(
    bank: Bank3, gateway: Gateway, engine: Engine, settings: Settings, clock: FixedClock
) -> Rig:
    return Rig(bank, gateway, engine, settings, clock)
