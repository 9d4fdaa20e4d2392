"""Reading the broker's socket a chunk at a time, for paho's small reads.

paho 2.2 reads a packet in three or more ``recv`` calls: one byte for its type, one per byte of
its remaining length, then its body. Each is a system call that lets go of the interpreter's
lock, and in the ingest worker, whose lanes store batches on threads, getting the lock back can
wait out the thread switch interval: under a flood of small events the reading fell behind the
storing (decision 0033). ``ReadAhead`` stands in for the connected socket: a read takes what the
kernel holds (up to ``CHUNK``) and hands it out in the sizes paho asks for; ``pending`` says
how much waits, which aiomqtt's reader asks (as of an SSL socket) to go on reading while any
does. Everything else is the socket's own.

``Tapped`` reads the same way and takes the PUBLISH packets out of what it read (decision 0034):
each is handed to a callback as soon as its last byte is read; the client reads the rest.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import paho.mqtt.client as mqtt

from cloud.link.publishes import Publish, Splitter

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike  # a typing protocol only

CHUNK = 65_536  # bytes asked of the kernel at once: a few hundred events


class Socket(Protocol):
    def recv(self, size: int, /) -> bytes: ...


class ReadAhead:
    """A socket whose reads are served from what one read of the kernel returned."""

    def __init__(self, sock: Socket) -> None:
        self._sock = sock
        self._chunk = b""
        self._at = 0

    def recv(self, size: int) -> bytes:
        if self._at >= len(self._chunk):
            data = self._sock.recv(max(size, CHUNK))  # may raise BlockingIOError, as before
            if data:
                data = self._kept(data)
                if not data:  # all of it taken, or a packet's start: nothing to read yet
                    raise BlockingIOError(errno.EAGAIN, "nothing for the client yet")
            if len(data) <= size:
                return data  # b"" included: the connection is closed
            self._chunk, self._at = data, 0
        start, self._at = self._at, min(self._at + size, len(self._chunk))
        return self._chunk[start : self._at]

    def _kept(self, data: bytes) -> bytes:
        """What of a read of the kernel the client is to read: all of it."""
        return data

    def pending(self) -> int:
        """Bytes read from the kernel and not handed out yet (and an SSL socket's own)."""
        waiting = len(self._chunk) - self._at
        inner = getattr(self._sock, "pending", None)
        return waiting + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class Tapped(ReadAhead):
    """A ``ReadAhead`` that hands every PUBLISH it reads to ``deliver``, not to the client."""

    def __init__(self, sock: Socket, deliver: Callable[[Publish], None], *, mqtt5: bool) -> None:
        super().__init__(sock)
        self._splitter = Splitter(properties=mqtt5)
        self._deliver = deliver

    def _kept(self, data: bytes) -> bytes:
        split = self._splitter.feed(data)
        for publish in split.publishes:
            try:
                self._deliver(publish)
            except Exception:  # a bug: said, and the message left to the broker to send again
                log.exception("a message of the broker could not be taken; reading on")
        if split.malformed is not None:  # paho takes the connection down: a fresh one resyncs
            log.error("the broker's stream is not MQTT (%s): reconnecting", split.malformed)
            raise ConnectionResetError(errno.ECONNRESET, str(split.malformed))
        return split.others


def read_ahead(paho: mqtt.Client, deliver: Callable[[Publish], None] | None = None) -> None:
    """From its next connection on, ``paho`` reads its socket through ``ReadAhead``, or, given
    ``deliver``, through ``Tapped``. Its ``on_socket_open`` callback (aiomqtt's, which registers
    the reader) gets the wrapped one."""
    opened = paho.on_socket_open
    mqtt5 = paho.protocol == mqtt.MQTTv5

    def wrapped(client: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        ahead = ReadAhead(sock) if deliver is None else Tapped(sock, deliver, mqtt5=mqtt5)
        client._sock = ahead
        if opened is not None:
            opened(client, userdata, ahead)

    paho.on_socket_open = wrapped
