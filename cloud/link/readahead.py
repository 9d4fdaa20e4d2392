"""Reading the broker's socket a chunk at a time, for paho's small reads.

paho 2.2 reads a packet in three or more ``recv`` calls: one byte for its type, one per byte of
its remaining length, then its body. Each is a system call that lets go of the interpreter's
lock, and in the ingest worker, whose lanes store batches on threads, getting the lock back can
wait out the thread switch interval: under a flood of small events the reading fell behind the
storing (decision 0033). ``ReadAhead`` stands in for the connected socket: a read takes what the
kernel holds (up to ``CHUNK``) and hands it out in the sizes paho asks for; ``pending`` says
how much waits, which aiomqtt's reader asks (as of an SSL socket) to go on reading while any
does. Everything else is the socket's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import paho.mqtt.client as mqtt

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
            if len(data) <= size:
                return data  # b"" included: the connection is closed
            self._chunk, self._at = data, 0
        start, self._at = self._at, min(self._at + size, len(self._chunk))
        return self._chunk[start : self._at]

    def pending(self) -> int:
        """Bytes read from the kernel and not handed out yet (and an SSL socket's own)."""
        waiting = len(self._chunk) - self._at
        inner = getattr(self._sock, "pending", None)
        return waiting + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def read_ahead(paho: mqtt.Client) -> None:
    """From its next connection on, ``paho`` reads its socket through ``ReadAhead``. Its
    ``on_socket_open`` callback (aiomqtt's, which registers the reader) gets the wrapped one."""
    opened = paho.on_socket_open

    def wrapped(client: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        client._sock = ahead = ReadAhead(sock)
        if opened is not None:
            opened(client, userdata, ahead)

    paho.on_socket_open = wrapped
