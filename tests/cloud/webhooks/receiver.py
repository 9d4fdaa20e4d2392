"""A real HTTP receiver on loopback that verifies every delivery's signature with the
``standardwebhooks`` library, as a carrier's system would, and records what it got."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.threads import serve_in_thread


@dataclass(frozen=True)
class Received:
    id: str
    type: str
    data: dict[str, Any]
    timestamp: str  # the payload's: when it happened
    verified_by: frozenset[int]  # which of the receiver's secrets verify it
    answered: int
    host: str = ""  # the Host header it came with


@dataclass
class Receiver:
    """``secrets`` verify; ``status`` is what it answers (a 2xx only to verified requests)."""

    secrets: list[str] = field(default_factory=list)
    status: int = 204
    got: list[Received] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.take(body, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        serve_in_thread(self._server, "test-receiver")

    def stop(self) -> None:
        """Down: connections refused until ``start`` again (same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def take(self, body: bytes, headers: dict[str, str]) -> int:
        verified = set()
        for n, secret in enumerate(self.secrets):
            try:
                Webhook(secret).verify(body, headers)
                verified.add(n)
            except WebhookVerificationError:
                pass
        payload = json.loads(body)
        answered = self.status if verified else 401
        seen = Received(
            headers["webhook-id"],
            payload["type"],
            payload["data"],
            payload["timestamp"],
            frozenset(verified),
            answered,
            headers.get("Host", headers.get("host", "")),
        )
        with self._lock:
            self.got.append(seen)
        return answered

    def delivered(self) -> list[Received]:
        with self._lock:
            return [r for r in self.got if 200 <= r.answered < 300]

    def types(self) -> set[str]:
        return {r.type for r in self.delivered()}


def running(receiver: Receiver) -> Iterator[Receiver]:
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
