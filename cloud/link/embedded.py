"""The embedded broker: amqtt (pure Python, MQTT 3.1.1) so that a demo needs nothing installed.

It listens on loopback only and lets anyone on this machine connect; production runs Mosquitto
with per-bank credentials and ACLs (see the README).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from amqtt.broker import Broker

log = logging.getLogger(__name__)


@asynccontextmanager
async def embedded_broker(host: str = "127.0.0.1", port: int = 1883) -> AsyncIterator[str]:
    """Run amqtt on ``host:port`` for the duration; yields its URL (``mqtt311://...``)."""
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    log.info("embedded broker (amqtt) on %s:%d", host, port)
    try:
        yield f"mqtt311://{host}:{port}"
    finally:
        await broker.shutdown()
