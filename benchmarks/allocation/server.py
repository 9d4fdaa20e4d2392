"""The cloud under test: ``locker cloud serve`` with its workers, on a fresh database."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2

from benchmarks.allocation.config import HTTP_OK, START_TIMEOUT_S, STOP_TIMEOUT_S, WORKERS
from benchmarks.common import BenchmarkError, free_port, stop, tail


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    database_url: str
    admin_key: str
    log: Path
    pid: int  # the supervisor's: its children are the workers


def _cpu_s(pid: int) -> float:
    """CPU seconds (user and system) process ``pid`` has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s(database_url: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend serving ``database_url``'s database
    (their titles name it; other databases on the machine are other people's)."""
    name = database_url.rpartition("/")[2].encode()
    used = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                title = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
                if title.startswith(b"postgres:") and name in title.split():
                    used[int(proc.name)] = _cpu_s(int(proc.name))
    return used


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings of the same processes: a process that started since
    counts whole, one that ended since is lost (a lower bound when a pool closes connections)."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


def worker_cpu_s(server: Server) -> dict[int, float]:
    """CPU seconds (user and system) each worker has used so far."""
    with open(f"/proc/{server.pid}/task/{server.pid}/children") as children:
        pids = [int(pid) for pid in children.read().split()]
    used = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # a worker gone since the list was read
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():  # not the tracker
                used[pid] = _cpu_s(pid)
    return used


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to uvicorn's supervisor (it stops its workers); SIGKILL to its group if stuck
    (the group started below: supervisor and workers)."""
    stop(proc, STOP_TIMEOUT_S, group=True)


def wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx2.Client(base_url=url, timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                raise BenchmarkError(f"the server exited with {proc.returncode}: {tail(log)}")
            with contextlib.suppress(httpx2.TransportError):
                if client.get("/docs").status_code == HTTP_OK:
                    return
            if time.monotonic() > deadline:
                raise BenchmarkError(f"the server did not answer within {START_TIMEOUT_S:g} s")
            time.sleep(0.1)


@contextlib.contextmanager
def serving(database_url: str, folder: Path) -> Iterator[Server]:
    """``locker cloud create-admin`` (it migrates), then ``serve`` with several workers."""
    env = os.environ | {
        "LOCKER_CLOUD_DATABASE_URL": database_url,
        "LOCKER_CLOUD_SECRET_KEY": secrets.token_hex(32),
        "LOCKER_CLOUD_RATE_PER_MINUTE": "1000000",  # the rate limiter is not what is measured
    }
    cli = [sys.executable, "-m", "locker_cli.main", "cloud"]
    made = subprocess.run(
        [*cli, "create-admin"], check=False, env=env, capture_output=True, text=True, timeout=120
    )
    if made.returncode != 0 or not made.stdout.strip():
        raise BenchmarkError(f"create-admin failed: {made.stderr.strip()[-500:]}")
    admin_key = made.stdout.strip().splitlines()[-1]
    port, log = free_port(), folder / "server.log"
    args = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(proc, url, log)
        yield Server(url, database_url, admin_key, log, proc.pid)
    finally:
        stop_server(proc)
