"""How edge and cloud reach the broker: its URL, and how they wait before reconnecting.

``mqtt://host:port`` speaks MQTT 5 (Mosquitto): sessions with an expiry, message expiry for
commands, shared subscriptions. ``mqtts://host:port`` is the same over TLS (port 8883 by
default, the system's trusted CAs): what a bank on a public network uses.
``mqtt311://host:port`` speaks MQTT 3.1.1, for brokers that have nothing newer (amqtt, the
embedded default); commands then count their time to live from the receipt and the clock offset
the edge learnt from the cloud's acks.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from locker_contract.errors import ContractError

# paho's ``Properties`` (MQTT 5 packet properties) is untyped: its constructor under a typed name
properties: Callable[[int], Properties] = Properties

# scheme: (MQTT protocol level, TLS, default port); level 5 is MQTT 5, level 4 is 3.1.1
SCHEMES = {"mqtt": (5, False, 1883), "mqtts": (5, True, 8883), "mqtt311": (4, False, 1883)}
SESSION_EXPIRY_S = 7 * 24 * 3600  # a bank offline for a week still finds its commands waiting


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    protocol_level: int
    tls: bool = False

    @property
    def mqtt5(self) -> bool:
        return self.protocol_level == 5

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ContractError(
                f"broker URL {url!r}: expected mqtt://, mqtts:// or mqtt311://host:port"
            )
        if parts.username or parts.password:
            raise ContractError("put broker credentials in a file, not in the broker URL")
        level, tls, default_port = SCHEMES[parts.scheme]
        try:
            port = parts.port or default_port
        except ValueError as exc:
            raise ContractError(f"broker URL {url!r}: {exc}") from None
        return cls(parts.hostname, port, level, tls)

    def __str__(self) -> str:
        scheme = next(k for k, v in SCHEMES.items() if v[:2] == (self.protocol_level, self.tls))
        return f"{scheme}://{self.host}:{self.port}"


def client(
    broker: BrokerUrl,
    identifier: str,
    *,
    session_expiry_s: int = SESSION_EXPIRY_S,
    receive_maximum: int | None = None,
    **options: Any,
) -> aiomqtt.Client:
    """An MQTT client whose session the broker keeps across reconnects and restarts: MQTT 5
    with a session expiry (``session_expiry_s``), or ``clean_session=False`` on 3.1.1. MQTT 5's
    ``receive_maximum`` bounds the messages the broker hands it before it acknowledges any."""
    options |= {"identifier": identifier, "timeout": 10.0}
    if broker.tls:
        options["tls_context"] = ssl.create_default_context()
    if broker.mqtt5:
        props = properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s
        if receive_maximum is not None:
            props.ReceiveMaximum = receive_maximum
        options |= {"protocol": aiomqtt.ProtocolVersion.V5, "clean_start": False}
        options["properties"] = props
    else:
        options |= {"protocol": aiomqtt.ProtocolVersion.V311, "clean_session": False}
    return aiomqtt.Client(broker.host, broker.port, **options)


def full_jitter(
    attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait before reconnect ``attempt`` (0, 1, ...): uniform in [0, min(cap, base·2^n)].

    Spread over the whole interval, so that a district's banks whose network came back together
    do not all knock at once (AWS Architecture Blog, "Exponential Backoff And Jitter").
    """
    ceiling = min(cap_s, base_s * 2 ** min(attempt, 32))
    return (rng or random).uniform(0, ceiling)
