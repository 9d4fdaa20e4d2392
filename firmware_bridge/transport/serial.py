"""Real serial ports through pyserial-asyncio-fast; the one place OS errors become ours.

Accepts what pyserial accepts and has a file descriptor: device paths (including stable
``/dev/serial/by-id/...`` links) and ``socket://host:port``. ``loop://`` has no descriptor and
cannot work with an asyncio reader, so it is refused up front.
"""

from __future__ import annotations

import asyncio
import errno
import logging

from firmware_bridge.errors import TransportError
from firmware_bridge.transport.inbox import Inbox

log = logging.getLogger(__name__)

# errnos after which reopening the port later can succeed (adapter unplugged, gateway down);
# EACCES and the like are configuration faults and are reported as such.
RECONNECTABLE_ERRNOS = frozenset(
    {errno.ENOENT, errno.ENXIO, errno.EIO, errno.EBADF, errno.ECONNREFUSED, errno.ENODEV}
)


class _InboxProtocol(asyncio.Protocol):
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    def data_received(self, data: bytes) -> None:
        self.inbox.push(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.inbox.close(f"serial port closed: {exc}" if exc else "serial port closed")


class SerialTransport:
    """A serial port opened with ``open_serial``."""

    def __init__(self, url: str, transport: asyncio.Transport, inbox: Inbox) -> None:
        self.url = url
        self._transport = transport
        self._inbox = inbox

    async def write(self, data: bytes) -> None:
        if self._transport.is_closing():
            raise TransportError(f"{self.url}: port is closed")
        self._transport.write(data)

    async def read(self, timeout: float) -> bytes:
        return await self._inbox.read(timeout)

    def discard_input(self) -> bytes:
        return self._inbox.take()

    async def close(self) -> None:
        self._transport.close()
        await asyncio.sleep(0)


async def open_serial(url: str, baud: int) -> SerialTransport:
    """Open ``url`` at ``baud`` 8N1; raise ``TransportError`` with the reason when it fails."""
    if url.startswith("loop://"):
        raise TransportError("loop:// has no file descriptor; use a pty or socket:// instead")
    import serial  # noqa: PLC0415 - keep pyserial out of sans-IO imports
    import serial_asyncio_fast  # noqa: PLC0415

    inbox = Inbox()
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await serial_asyncio_fast.create_serial_connection(
            loop, lambda: _InboxProtocol(inbox), url, baudrate=baud
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise TransportError(f"{url}: cannot open: {_reason(exc)}") from exc
    log.debug("opened %s at %d baud", url, baud)
    return SerialTransport(url, transport, inbox)


def _reason(exc: BaseException) -> str:
    number = getattr(exc, "errno", None)
    if number == errno.EACCES:
        return "permission denied (is the user in the dialout group?)"
    if number is not None and number in RECONNECTABLE_ERRNOS:
        return f"{errno.errorcode[number]}: device missing or unplugged"
    return str(exc) or type(exc).__name__
