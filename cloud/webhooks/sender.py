"""One attempt of one delivery: signed per Standard Webhooks with the ``standardwebhooks``
library (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; during a rotation's
overlap the signature header carries one ``v1,`` signature per valid secret), POSTed to the
address ``targets.resolve`` checked, with the name in Host and SNI; 5 s in all, redirects not
followed (a 3xx is a failure: the receiver must answer at the URL it registered).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx2
from standardwebhooks.webhooks import Webhook

from cloud.webhooks.targets import Network, Refused, resolve

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0  # what the receiver has to answer in, connection included
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
    client: httpx2.Client, message: Message, at: datetime, allowed: Sequence[Network]
) -> Outcome:
    """POST ``message`` once; never raises for what the network or the receiver does."""
    try:
        target = resolve(message.url, allowed)
    except Refused as exc:
        return Outcome(False, error=f"refused: {exc}"[:ERROR_MAX])
    sent = headers(message, at) | {"host": target.host_header}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        answer = client.post(
            target.pinned_url, content=message.body, headers=sent, extensions=extensions
        )
    except httpx2.HTTPError as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:ERROR_MAX])
    if 200 <= answer.status_code < 300:
        return Outcome(True, answer.status_code)
    return Outcome(False, answer.status_code, f"answered {answer.status_code}")
