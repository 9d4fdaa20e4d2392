"""What every benchmark needs: its error, its heading, a free port, a log's tail, a child
process stopped, a fresh PostgreSQL database (and the option naming its server) and an aligned
table. Run the benchmarks as modules from the repository's root (``python -m benchmarks.ingest``),
so that they can share this."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import psycopg

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class BenchmarkError(Exception):
    """Something did not do what is being measured; the figures would be meaningless."""


def heading(name: str) -> str:
    """How every benchmark's first line starts: which one, the day, Python and the machine."""
    return (
        f"smartlocker {name} benchmark  {date.today().isoformat()}  "
        f"Python {platform.python_version()} ({platform.machine()}, {platform.system()}, "
        f"{os.cpu_count()} cores)"
    )


def postgres_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgres",
        default=PG_ADMIN,
        help=f"a PostgreSQL URL allowed to create databases (default {PG_ADMIN})",
    )


def stop(proc: subprocess.Popen[bytes], timeout_s: float, *, group: bool = False) -> None:
    """SIGTERM, then SIGKILL (to its whole process group with ``group``) if it does not stop
    within ``timeout_s``; nothing if it has stopped already."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tail(log: Path, lines: int = 5) -> str:
    if not log.exists():
        return ""
    return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards."""
    name = f"locker_bench_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        raise BenchmarkError(f"PostgreSQL at {admin_url} is not usable: {exc}") from exc
    try:
        yield admin_url.rpartition("/")[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def align(lines: Sequence[tuple[str, ...]]) -> list[str]:
    """First column left-aligned, the others right-aligned, each as wide as its widest cell."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]

    def fmt(line: tuple[str, ...]) -> str:
        figures = [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        return "  ".join([line[0].ljust(widths[0]), *figures])

    return [fmt(line) for line in lines]
