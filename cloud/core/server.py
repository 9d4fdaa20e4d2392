"""Serving details that are ours to get right.

With several workers, uvicorn (0.54) binds the listening socket itself and never sets
TCP_NODELAY on accepted connections (Kludex/uvicorn#3149): every response after the first on a
kept-alive connection then waits for the client's delayed ACK, about 40 ms on Linux. This
protocol class sets it on each connection as it opens.
"""

from __future__ import annotations

import asyncio
import socket
from typing import cast

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """asyncio's signature (uvicorn narrows it to the stream transport it is given)."""
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(cast(asyncio.Transport, transport))
