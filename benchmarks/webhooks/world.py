"""The benchmark's world: a fresh schema with one bank and one carrier whose endpoint is a local
receiver (a real HTTP server that verifies each signature with ``standardwebhooks``), events
queued straight through the outbox or through the real ingest, and sender processes."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import col, select
from standardwebhooks.webhooks import Webhook

from benchmarks.common import BenchmarkError, stop, tail
from cloud.core.db import transaction
from cloud.models import Bank, Carrier, Compartment, Operator, Role, Site
from cloud.services.auth import Principal
from cloud.services.ingest import ingest_event
from cloud.webhooks import endpoints
from cloud.webhooks.events import Kind
from cloud.webhooks.outbox import record
from cloud.webhooks.tables import WebhookDelivery
from locker_contract.events import Envelope, ParcelDeposited

BANK, CARRIER = "bench-bank", "bench-carrier"
LABELS = [f"{row}{n:02d}" for row in "ABCDEFGHJK" for n in range(1, 100)]  # 990 doors
POLL_S = 0.1  # how often an idle sender looks for work (production's default: 1 s)


@dataclass
class Receiver:
    """Answers 204 to every request whose signature verifies (401 otherwise); records when
    each event arrived."""

    secret: str = ""
    arrived: dict[str, float] = field(default_factory=dict)  # event id -> wall time
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except Exception:
            with self._lock:
                self.refused += 1
            return 401
        with self._lock:
            self.arrived.setdefault(str(payload["data"]["event_id"]), time.time())
        return 204

    def count(self) -> int:
        with self._lock:
            return len(self.arrived)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # as a carrier's server would: the default 5 refuses bursts


@contextlib.contextmanager
def serving(receiver: Receiver) -> Iterator[str]:
    """The receiver on a free loopback port; its URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a carrier's server would

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(receiver.take(body, dict(self.headers.items())))
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def populate(engine: Engine, server_key: str, url: str) -> str:
    """The bank, its doors, the carrier and its endpoint; the endpoint's secret."""
    with transaction(engine) as s:
        operator = Operator(name="bench")
        s.add(operator)
        s.flush()
        site = Site(operator_id=operator.id, name="bench", lat=31.2, lon=121.4)
        s.add(site)
        s.flush()
        s.add(Bank(id=BANK, site_id=site.id, name="bench"))
        s.add(Carrier(id=CARRIER, name="bench"))
        s.flush()
        for label in LABELS:
            s.add(Compartment(bank_id=BANK, label=label, size="M", size_rank=2))
    who = Principal(key_id="bench", role=Role.CARRIER, carrier_id=CARRIER)
    made = endpoints.create(engine, who, server_key, url=url, events=[], now=datetime.now(UTC))
    return made.secret


def queue_backlog(engine: Engine, count: int, batch: int = 500) -> None:
    """``count`` events of distinct parcels, written through the outbox as ingest writes them."""
    now = datetime.now(UTC)
    for start in range(0, count, batch):
        with transaction(engine) as s:
            for n in range(start, min(count, start + batch)):
                waybill = f"BL{n}"
                data: dict[str, object] = {"waybill": waybill, "bank_id": BANK}
                subject = f"parcel:{waybill}"
                record(s, Kind.IN_LOCKER, CARRIER, subject, at=now, now=now, data=data)


def deposit(engine: Engine, seq: int, label: str, prefix: str = "PC") -> None:
    """One deposit through the real ingest (its webhook event recorded in its transaction)."""
    event = ParcelDeposited(
        parcel_id=uuid.uuid4(),
        waybill=f"{prefix}{seq}",
        carrier=CARRIER,
        courier_id="bench",
        compartment=label,
        recipient_phone="13800138000",
        group_id=uuid.uuid4(),
        sealed_code=None,
        consent="recipient_app",
        flagged_for_review=False,
    )
    envelope = Envelope(
        event_id=uuid.uuid4(), bank_id=BANK, seq=seq, time=datetime.now(UTC), event=event
    )
    ingest_event(engine, envelope)


@contextlib.contextmanager
def senders(database_url: str, server_key: str, count: int, logs: Path) -> Iterator[None]:
    """``count`` ``locker cloud webhooks`` processes, stopped afterwards."""
    env = os.environ | {
        "LOCKER_CLOUD_DATABASE_URL": database_url,
        "LOCKER_CLOUD_SECRET_KEY": server_key,
        "LOCKER_CLOUD_WEBHOOK_ALLOW": json.dumps(["127.0.0.0/8"]),
        "LOCKER_CLOUD_WEBHOOK_POLL_S": str(POLL_S),
    }
    command = [sys.executable, "-m", "locker_cli.main", "cloud", "webhooks"]
    procs = []
    try:
        for n in range(count):
            log = (logs / f"sender-{n}.log").open("wb")
            procs.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
        yield
    finally:
        for proc in procs:
            stop(proc, 10.0)
        for n in range(count):
            said = (logs / f"sender-{n}.log").read_text(errors="replace")
            if "Traceback" in said:  # a step failed and was retried: the figures carry it
                print(f"sender {n} logged errors: {tail(logs / f'sender-{n}.log', 8)}")
        if any(proc.returncode not in (0, -15) for proc in procs):
            raise BenchmarkError(f"a sender failed: see {logs}")


def retried(engine: Engine) -> int:
    """Deliveries that took more than one attempt (a refused connection, a timeout)."""
    with transaction(engine) as s:
        query = (
            select(func.count())
            .select_from(WebhookDelivery)
            .where(col(WebhookDelivery.attempts) > 1)
        )
        return int(s.exec(query).one())


def new_server_key() -> str:
    return secrets.token_hex(32)
