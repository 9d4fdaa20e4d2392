"""Running the child processes (spawned) and talking to them over pipes."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from benchmarks.common import BenchmarkError
from benchmarks.ingest.config import START_TIMEOUT_S, STOP_TIMEOUT_S
from benchmarks.ingest.services import Broker

T = TypeVar("T")


SPAWN = multiprocessing.get_context("spawn")


@dataclass
class Child:
    name: str
    process: BaseProcess
    conn: Connection
    broker: Broker
    client_id: str = ""  # a worker's MQTT client id, once it said

    def receive(self, timeout: float = START_TIMEOUT_S) -> object:
        deadline = time.monotonic() + timeout
        while not self.conn.poll(0.2):
            self.broker.check()
            if not self.process.is_alive():
                raise BenchmarkError(f"{self.name} exited with {self.process.exitcode}")
            if time.monotonic() > deadline:
                raise BenchmarkError(f"{self.name} did not answer within {timeout:g} s")
        try:
            answer: object = self.conn.recv()
        except EOFError:  # it died: poll() reports the closed pipe as readable
            self.process.join(STOP_TIMEOUT_S)
            raise BenchmarkError(f"{self.name} exited with {self.process.exitcode}") from None
        return answer

    @property
    def pid(self) -> int:
        return self.process.pid or 0

    def send(self, order: object) -> None:
        self.conn.send(order)

    def expect(self, kind: type[T], timeout: float = START_TIMEOUT_S) -> T:
        answer = self.receive(timeout)
        if not isinstance(answer, kind):
            raise BenchmarkError(f"{self.name} answered {answer!r}, not {kind.__name__}")
        return answer

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(STOP_TIMEOUT_S)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        self.conn.close()


class Children:
    """Every child process started, terminated on the way out whatever happens; waiting on
    one fails if it or the broker is gone."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.started: list[Child] = []

    def start(self, name: str, target: Any, *args: object) -> Child:
        ours, theirs = SPAWN.Pipe()
        process = SPAWN.Process(target=target, args=(theirs, *args), name=name, daemon=True)
        process.start()
        theirs.close()
        child = Child(name, process, ours, self.broker)
        self.started.append(child)
        return child

    def stop(self, child: Child) -> None:
        child.stop()
        self.started.remove(child)

    def stop_all(self) -> None:
        for child in list(self.started):
            self.stop(child)


@contextlib.contextmanager
def children(broker: Broker) -> Iterator[Children]:
    kids = Children(broker)
    try:
        yield kids
    finally:
        kids.stop_all()
