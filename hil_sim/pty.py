"""The simulated bus behind a real pseudo-terminal, so the edge opens a device path as in the field.

Both ends are put in raw mode (a fresh pty translates and swallows bytes such as 0x03, 0x11 and
0x13, which these protocols use). The simulator keeps its own handle to the device side open, so a
client killed with ``kill -9`` can reopen the path. Bytes are paced at the baud rate in both
directions: a request's last byte is taken to end ``len * char_time`` after it arrived (or after
the previous byte), and replies leave byte by byte on the same schedule.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import selectors
import threading
import time
import tty

from firmware_bridge.timing import char_time
from hil_sim.bus import SimBus, Transmission

log = logging.getLogger(__name__)

IDLE_WAKE = 0.05  # seconds between checks of the stop flag when the line is idle
SPIN_BELOW = 0.0002  # waits shorter than this are busy-waited: sleep() overshoots them
# epoll rounds its timeout up to whole milliseconds, so a reply due in 0.3 ms would leave ~1 ms
# late. The loop wakes this much early from select() and sleeps the rest precisely.
SELECT_RESOLUTION = 0.002


class PtyPort:
    """A pseudo-terminal whose device side is served by a ``SimBus`` in a background thread."""

    def __init__(self, bus: SimBus, baud: int) -> None:
        self.bus = bus
        self.char = char_time(baud)
        self.master_fd, self.slave_fd = os.openpty()
        tty.setraw(self.master_fd)
        tty.setraw(self.slave_fd)
        os.set_blocking(self.master_fd, False)
        self.path = os.ttyname(self.slave_fd)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"hil-sim {self.path}", daemon=True)
        self._pending: list[tuple[float, int, Transmission]] = []
        self._order = itertools.count()
        self._rx_free_at = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master_fd)
        os.close(self.slave_fd)

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.master_fd, selectors.EVENT_READ)
            while not self._stop.is_set():
                wait = IDLE_WAKE
                if self._pending:
                    wait = min(wait, self._pending[0][0] - time.perf_counter())
                if wait < SELECT_RESOLUTION:
                    _sleep_until(self._pending[0][0])
                elif selector.select(wait - SELECT_RESOLUTION / 2):
                    self._receive()
                self._send_due()

    def _receive(self) -> None:
        try:
            data = os.read(self.master_fd, 4096)
        except BlockingIOError:
            return
        start = max(time.perf_counter(), self._rx_free_at)
        self._rx_free_at = start + len(data) * self.char
        for tx in self.bus.receive(data, self._rx_free_at):
            heapq.heappush(self._pending, (tx.at, next(self._order), tx))

    def _send_due(self) -> None:
        while self._pending and self._pending[0][0] <= time.perf_counter():
            _, _, tx = heapq.heappop(self._pending)
            self._send_paced(tx.data)

    def _send_paced(self, data: bytes) -> None:
        """Write ``data`` so that byte i leaves no earlier than i character times after byte 0."""
        start = time.perf_counter()
        sent = 0
        while sent < len(data):
            due = min(len(data), int((time.perf_counter() - start) / self.char) + 1)
            try:
                os.write(self.master_fd, data[sent:due])
            except BlockingIOError:
                log.debug("pty buffer full; nobody is reading %s", self.path)
                return
            sent = due
            if sent < len(data):
                _sleep_until(start + sent * self.char)


def _sleep_until(deadline: float) -> None:
    while (left := deadline - time.perf_counter()) > 0:
        if left > SPIN_BELOW:
            time.sleep(left - SPIN_BELOW)
