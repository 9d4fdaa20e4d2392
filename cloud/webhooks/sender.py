"""One attempt of one delivery: signed per Standard Webhooks with the ``standardwebhooks``
library (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; during a rotation's
overlap the signature header carries one ``v1,`` signature per valid secret), POSTed to the
address ``targets.resolve`` checked, with the name in Host and SNI; 5 s to connect, to send and
to answer, the answer's body read for 5 s at most (and 64 KiB), redirects not followed (a 3xx
is a failure: the receiver must answer at the URL it registered).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx2
from standardwebhooks.webhooks import Webhook

from cloud.clock import Clock, SystemClock
from cloud.webhooks.targets import Network, Refused, resolve

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0  # for each of: connecting, sending, and each read of the answer
# one attempt at its slowest: the name resolved (the resolver's default, 2 tries of 5 s), then
# connecting, sending, the answer's head and the body's last read, each up to TIMEOUT_S
ATTEMPT_MAX_S = 6 * TIMEOUT_S
BODY_MAX = 64 * 1024  # what is read of an answer's body (then the connection is dropped)
ERROR_MAX = 300  # what is kept of why an attempt failed
USER_AGENT = "smartlocker-webhooks/1"


@dataclass(frozen=True)
class Message:
    id: str  # the delivery's id: the same on every attempt
    body: str  # the JSON payload, exactly as signed
    url: str
    secrets: tuple[str, ...]  # every secret valid now, the current first


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None = None
    error: str | None = None


def signature(message: Message, at: datetime) -> str:
    """The ``webhook-signature`` header: one signature per secret, space-separated."""
    return " ".join(
        Webhook(secret).sign(message.id, at, message.body) for secret in message.secrets
    )


def headers(message: Message, at: datetime) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message.id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature(message, at),
    }


def new_client() -> httpx2.Client:
    return httpx2.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False)


def send(
    client: httpx2.Client,
    message: Message,
    at: datetime,
    allowed: Sequence[Network],
    clock: Clock | None = None,
) -> Outcome:
    """POST ``message`` once; never raises for what the network or the receiver does."""
    clock = clock or SystemClock()
    try:
        target = resolve(message.url, allowed)
    except Refused as exc:
        return Outcome(False, error=f"refused: {exc}"[:ERROR_MAX])
    sent = headers(message, at) | {"host": target.host_header}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request = client.build_request(
        "POST", target.pinned_url, content=message.body, headers=sent, extensions=extensions
    )
    try:
        began = clock.monotonic()
        answer = client.send(request, stream=True)
        try:
            _drain(answer, lambda: clock.monotonic() - began > TIMEOUT_S)
        finally:
            answer.close()
    except httpx2.HTTPError as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:ERROR_MAX])
    if 200 <= answer.status_code < 300:
        return Outcome(True, answer.status_code)
    return Outcome(False, answer.status_code, f"answered {answer.status_code}")


def _drain(answer: httpx2.Response, late: Callable[[], bool]) -> None:
    """Read what the receiver says, up to ``BODY_MAX`` and until ``TIMEOUT_S`` after the
    request went (nothing of it is kept): a short answer leaves the connection reusable; a long
    or slow one is cut, and its connection closed."""
    read = 0
    for chunk in answer.iter_raw():
        read += len(chunk)
        if read > BODY_MAX or late():
            return
