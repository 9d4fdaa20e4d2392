"""What the ingest benchmark runs against: descriptors, its own Mosquitto, a populated database."""

from __future__ import annotations

import contextlib
import getpass
import json
import resource
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.common import BenchmarkError, free_port, stop, tail
from benchmarks.ingest.config import (
    FLOOD_BANK,
    HISTORY,
    LABELS,
    NOFILE,
    PROBE_BANK,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    Db,
)
from benchmarks.ingest.messages import event_for
from cloud.core.migrate import upgrade


def raise_nofile(wanted: int) -> int:
    """Raise this process's soft descriptor limit towards ``wanted``; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise BenchmarkError(f"mosquitto exited with {proc.returncode}: {tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BenchmarkError(
                    f"mosquitto did not listen within {START_TIMEOUT_S:g} s"
                ) from None
            time.sleep(0.05)


def open_files_limit(pid: int) -> str:
    """The soft ``Max open files`` of a running process, from ``/proc``."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return line.split()[3]
    return "?"


@dataclass(frozen=True, slots=True)
class Broker:
    port: int
    process: subprocess.Popen[bytes]
    version: str

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        if self.process.poll() is not None:
            raise BenchmarkError(f"mosquitto exited with {self.process.returncode}")


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise BenchmarkError("mosquitto is not installed (apt-get install mosquitto)")
    return found


@contextlib.contextmanager
def mosquitto(folder: Path) -> Iterator[Broker]:
    """A Mosquitto of the benchmark's own on a free port; it inherits the raised descriptor
    limit. Stopped afterwards."""
    binary = mosquitto_binary()
    banner = subprocess.run([binary, "-h"], capture_output=True, text=True, check=False).stdout
    port, log = free_port(), folder / "mosquitto.log"
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n"
        f"user {getpass.getuser()}\n"  # as root it would switch to mosquitto: no tmp access
        "allow_anonymous true\n"
        "max_connections -1\n"
        "max_queued_messages 0\n"  # as docs/examples/mosquitto/smartlocker.conf
        "max_inflight_messages 0\n"  # as there: the workers' Receive Maximum bounds it
        "set_tcp_nodelay true\n"
        "persistence false\n"
        "connection_messages false\n"
        f"log_dest file {log}\n"
        "log_type error\nlog_type warning\n"
    )
    with (folder / "mosquitto.out").open("wb") as out:  # its warnings, e.g. about root
        proc = subprocess.Popen([binary, "-c", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, log)
        words = banner.split()
        yield Broker(port, proc, words[2] if len(words) > 2 else "?")
    finally:
        stop(proc, STOP_TIMEOUT_S)


def bank_ids(count: int) -> list[str]:
    return [f"bench-{n:05d}" for n in range(1, count + 1)]


def populate(database_url: str, banks: Sequence[str]) -> None:
    """Migrate, then one operator and site, the banks with their compartments and a history
    of ``HISTORY`` events each, applied (the cursor there), written with ``COPY`` (the ORM one
    row at a time would take minutes); then statistics for the planner. On empty tables,
    PostgreSQL plans sequential scans; statements prepared then keep them as the tables grow
    until the statistics are renewed (by autovacuum, if it is on)."""
    upgrade(database_url)
    with psycopg.connect(database_url) as db:
        db.execute("INSERT INTO operator (id, name) VALUES ('bench', 'Bench')")
        db.execute(
            "INSERT INTO site (id, operator_id, name, address, lat, lon) "
            "VALUES ('bench', 'bench', 'Bench site', '', 31.2, 121.4)"
        )
        with db.cursor().copy("COPY bank (id, site_id, name) FROM STDIN") as copy:
            for bank in [*banks, PROBE_BANK, FLOOD_BANK]:
                copy.write_row((bank, "bench", bank))
        with db.cursor().copy("COPY bankcursor (bank_id, applied_seq) FROM STDIN") as copy:
            for bank in banks:
                copy.write_row((bank, HISTORY))
        columns = "event_id, bank_id, seq, type, body, received_at, applied"
        then = datetime.now(UTC) - timedelta(days=1)
        with db.cursor().copy(f"COPY inboundevent ({columns}) FROM STDIN") as copy:
            for bank in banks:
                for seq in range(1, HISTORY + 1):
                    event = event_for(seq)
                    body = json.dumps(event.model_dump(mode="json"))
                    copy.write_row((str(uuid.uuid4()), bank, seq, event.type, body, then, True))
        columns = "id, bank_id, label, size, size_rank, low, in_service"
        with db.cursor().copy(f"COPY compartment ({columns}) FROM STDIN") as copy:
            for bank in banks:
                for label in LABELS:
                    copy.write_row((str(uuid.uuid4()), bank, label, "M", 1, False, True))
        db.execute("ANALYZE")


def scalar(db: Db, query: str, params: Sequence[object] = ()) -> Any:
    row = db.execute(query, params).fetchone()
    if row is None:
        raise BenchmarkError(f"no answer to {query}")
    return row[0]


def quiet_child() -> None:
    """Children leave Ctrl-C to the parent, which stops them; their limit raised like its."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_nofile(NOFILE)
