"""Serving details that are ours to get right: every worker busy, however connections arrive.

**Each worker its own listening socket.** With one socket shared by the workers (uvicorn's way),
whichever worker wakes first accepts every connection waiting: asyncio accepts up to the backlog
at each wake-up. Clients that keep their connections alive then stay with the two or three
workers that happened to be awake (issue 13 saw one worker of four idle). Here the supervisor
binds one socket per worker on the same address with ``SO_REUSEPORT``, so the kernel spreads
connections over them by a hash of each connection's addresses and ports; a worker restarted
after a crash takes over the same socket, and what waited in its queue is served.

**Kept-alive connections are bounded.** A connection is closed (``Connection: close`` on the
response) after ``MAX_REQUESTS_PER_CONNECTION`` requests, so a client that keeps one open for
hours comes back through the kernel's spread now and then: the load evens out again after a
worker's restart, at the cost of one TCP handshake per that many requests.

**TCP_NODELAY.** uvicorn (0.54) never sets it on connections accepted from a socket it was given
(Kludex/uvicorn#3149): every response after the first on a kept-alive connection then waits for
the client's delayed ACK, about 40 ms on Linux. The protocol class sets it on each connection.

**A compiled parser and loop.** Requests are parsed by httptools (llhttp, Node's parser) and the
workers run on uvloop: a reservation spends a fifth of its worker CPU in the event loop and the
HTTP parser, which pure-Python h11 and asyncio's loop make the larger part of (decision 0031).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import cast

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess, Process

log = logging.getLogger(__name__)

MAX_REQUESTS_PER_CONNECTION = 1000


class NoDelayProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with TCP_NODELAY and a bounded number of requests per
    connection."""

    served = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """asyncio's signature (uvicorn narrows it to the stream transport it is given)."""
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(cast(asyncio.Transport, transport))

    def on_headers_complete(self) -> None:
        """As uvicorn's; a request that starts a cycle is counted, and the last one allowed on
        this connection is answered with ``Connection: close`` (and the connection closed)."""
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is None or self.cycle is before:  # an upgrade: no cycle of ours
            return
        self.served += 1
        if self.served >= MAX_REQUESTS_PER_CONNECTION:
            self.cycle.keep_alive = False


def reuse_port_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to ``host``:``port`` together (``SO_REUSEPORT``), one per
    worker; they listen once their worker serves. A port another process listens on is
    refused (``OSError``, as uvicorn's own bind): ``SO_REUSEPORT`` alone would join that
    server's group and split the connections with it. Port 0: one free port for all."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # no SO_REUSEPORT: alone or not
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    sockets = []
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


class ReusePortWorkers(Multiprocess):
    """uvicorn's supervisor (signals, health checks, restarts), each worker on its own socket
    of ``reuse_port_sockets``: the ``index``-th worker, and whoever replaces it, on the
    ``index``-th."""

    def spawn(self, index: int) -> Process:
        process = Process(self.config, [self.sockets[index]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self.spawn(index) for index in range(len(self.sockets))]

    def keep_subprocess_alive(self) -> None:
        for index, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung, or dead already
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # it would fail the same way again
                log.error("worker %s failed to start; stopping", process.pid)
                self.should_exit.set()
                return
            log.warning("worker %s died; another takes its socket", process.pid)
            self.processes[index] = self.spawn(index)

    def restart_all(self) -> None:
        """SIGHUP: each worker replaced in turn, on its socket."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            old.terminate()
            old.join()
            self.processes[index] = self.spawn(index)


def serve(app: str, *, host: str, port: int, workers: int, access_log: bool = False) -> None:
    """Serve the ASGI app factory ``app`` (``module:function``) with ``workers`` processes,
    each on its own ``SO_REUSEPORT`` socket, until SIGINT or SIGTERM; uvicorn's line per
    request only with ``access_log``."""
    config = Config(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=NoDelayProtocol,
        loop="uvloop",
        access_log=access_log,
    )
    sockets = reuse_port_sockets(host, port, workers)
    try:
        ReusePortWorkers(config, sockets).run()
    finally:
        for sock in sockets:
            sock.close()
