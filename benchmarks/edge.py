"""Edge benchmark: what the edge daemon costs, from the kiosk's request to the wire, and idle.

Both parts run the real daemon against the hardware twin (``hil_sim.Simulator``): four xor8a
boards of 24 locks (96 compartments) behind a real pseudo-terminal paced at 9600 baud, polled at
the default ``poll_interval_s`` of 0.5 s. Every store is a real SQLite file (WAL,
``synchronous=FULL``) in a temporary directory, so commits pay the file system's fsync.

- pickup: the daemon runs in this process (``TestClient`` over ``create_app``, which runs the
  lifespan: pty opened, poller started). Parcels are deposited through the API, each for its own
  recipient, so each has its own code (read from the outbox's ``parcel.deposited`` events). For
  each code, the clock starts just before ``POST /api/pickup`` and stops at the end of the unlock
  frame's last byte on the simulated wire (the simulator stamps each request when its last byte
  ends, on the same ``perf_counter`` clock). The response must report the door ``opened``.
  "Reaching the API" is taken conservatively: the figure includes the in-process HTTP plumbing of
  ``TestClient`` (the request crosses an anyio portal into the event loop's thread), then the
  code check and the unlock intent's committed transaction, then the wait for the bus if the
  poller is reading a board at that moment. Each pickup starts at a random moment of the poll
  cycle (a person does not wait for the poller), after the previous door was shut and seen shut.
  It is printed next to the unlock frame's pure wire time (bytes x 10 bits / baud).
- idle: the daemon runs as a separate process (``python -m locker_cli.main edge``, uvicorn on a
  free local port) against a fresh simulator. Once ``/api/status`` answers and a settling second
  has passed, it is left polling for a window; the CPU time it used in the window (utime + stime
  from ``/proc/<pid>/stat``) over the window's length is its idle CPU, as a fraction of one core,
  and its resident memory (VmRSS) is read at the end. The status reads the simulator received in
  the window show that it was really polling, and every board must still be online. A bare
  interpreter (same executable, nothing imported) is measured in the same run as a baseline.

The figures depend on the machine, its load and its file system; compare runs from the same
machine only. The simulator's pacing thread runs in this process, not the daemon's, so it is not
counted in the daemon's CPU.

Run ``python -m benchmarks.edge``, or with ``--quick`` for a short CI run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from benchmarks.common import BenchmarkError, align, free_port, heading, stop
from controller.api import create_app
from controller.config import load_config
from controller.daemon import Edge
from firmware_bridge.codecs import xor8a
from firmware_bridge.timing import wire_time
from hil_sim import Simulator
from hil_sim.bus import ReceivedFrame
from locker_cli.main import app as locker_app

FULL_PICKUPS, FULL_IDLE_S = 100, 30.0
QUICK_PICKUPS, QUICK_IDLE_S = 15, 5.0
BOARDS = (1, 2, 3, 4)
ROWS = "ABCD"  # compartment labels: row letter per board, then the channel
CHANNELS = 24
BAUD = 9600
POLL_INTERVAL_S = 0.5  # the policy's default, written out so the figure's condition is explicit
COURIER, CARRIER, PIN = "c1", "acme", "2468"
SEED = 0
SETTLE_S = 1.0  # after the API answers, before the idle window: start-up work is not idle
STATE_TIMEOUT_S = 10.0  # a door change must be recorded within this
START_TIMEOUT_S = 30.0  # the daemon process must answer within this
STOP_TIMEOUT_S = 10.0
HTTP_OK, HTTP_CREATED = 200, 201
MS = 1000.0
MIB = 1024.0 * 1024.0
STAT_UTIME_FIELD = 13  # /proc/<pid>/stat, 0-based, counting from the pid (proc(5) numbers 14)
STAT_AFTER_COMM = 2  # the fields after "(comm)" start with the third one
WIRING = {
    f"{row}{channel:02d}": (board, channel)
    for row, board in zip(ROWS, BOARDS, strict=True)
    for channel in range(1, CHANNELS + 1)
}
STATUS_READS = {xor8a.encode(xor8a.ReadAll(board)) for board in BOARDS}


def bank_config(port: str, database: Path, api_port: int | None = None) -> str:
    """A bank of 4 boards x 24 compartments, all size M, labels A01..D24."""
    parts = [f'[bank]\nid = "edge-bench"\nname = "edge benchmark"\ndatabase = "{database}"']
    if api_port is not None:
        parts.append(f'[api]\nhost = "127.0.0.1"\nport = {api_port}')
    parts += [
        f"[policy]\npoll_interval_s = {POLL_INTERVAL_S}",
        f'[[bus]]\nname = "main"\nport = "{port}"\nprotocol = "xor8a"\nbaud = {BAUD}',
        *(f"[[bus.board]]\naddress = {board}\nchannels = {CHANNELS}" for board in BOARDS),
        *(
            f'[[compartment]]\nlabel = "{label}"\nbus = "main"\nboard = {board}\n'
            f'channel = {channel}\nsize = "M"'
            for label, (board, channel) in WIRING.items()
        ),
    ]
    return "\n\n".join(parts) + "\n"


def new_simulator() -> Simulator:
    return Simulator("xor8a", BOARDS, CHANNELS, baud=BAUD, close_after=None)


def wait_until(done: Callable[[], bool], what: str, timeout: float = STATE_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.01)


def shut(sim: Simulator, label: str) -> None:
    """A person pushes the door shut again."""
    if not sim.close_door(*WIRING[label]):
        raise BenchmarkError(f"door {label} did not latch again")


# --- pickup latency -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parcel:
    label: str
    parcel_id: str
    code: str


def add_courier(config: Path) -> None:
    args = ["edge", "--config", str(config), "couriers", "add"]
    args += ["--id", COURIER, "--carrier", CARRIER, "--pin", PIN]
    done = CliRunner().invoke(locker_app, args)
    if done.exit_code != 0:
        raise BenchmarkError(f"adding the courier failed: {done.output.strip()}")


def sign_in(client: TestClient) -> dict[str, str]:
    signed = client.post("/api/courier/sign-in", json={"courier_id": COURIER, "pin": PIN})
    if signed.status_code != HTTP_OK:
        raise BenchmarkError(f"courier sign-in failed: {signed.status_code} {signed.text}")
    return {"Authorization": f"Bearer {signed.json()['token']}"}


def deposit(client: TestClient, sim: Simulator, auth: dict[str, str], n: int) -> Parcel:
    """Deposit parcel ``n`` for its own recipient; return its compartment, parcel id and the
    code the courier's screen shows (this bank has no notifier key: decision 0011)."""
    body = {"waybill": f"WB{n:06d}", "phone": f"+1555{n:07d}", "size": "M"}
    started = client.post("/api/deposits", json=body | {"consent": "phone_call"}, headers=auth)
    opened = started.json() if started.status_code == HTTP_CREATED else {}
    if opened.get("state") != "open":
        raise BenchmarkError(f"deposit {n} did not open a door: {started.text}")
    label: str = opened["compartment"]
    shut(sim, label)
    url = f"/api/deposits/{opened['deposit_id']}"
    wait_until(
        lambda: client.get(url, headers=auth).json()["state"] == "recorded",
        f"recording deposit {n} in {label}",
    )
    recorded = client.get(url, headers=auth).json()
    if not recorded["pickup_code"]:
        raise BenchmarkError(f"no pickup code on the courier's screen for {label}")
    return Parcel(label, recorded["parcel_id"], recorded["pickup_code"])


def parcel_state(database: Path, parcel_id: str) -> str:
    with contextlib.closing(sqlite3.connect(database)) as db:
        row = db.execute("SELECT state FROM parcel WHERE id = ?", (parcel_id,)).fetchone()
    return str(row[0]) if row else "missing"


def fill(client: TestClient, sim: Simulator, first: int, count: int) -> list[Parcel]:
    """Deposit ``count`` parcels; return them ordered to cycle over boards first."""
    auth = sign_in(client)
    parcels = [deposit(client, sim, auth, n) for n in range(first, first + count)]
    return sorted(parcels, key=lambda p: (WIRING[p.label][1], WIRING[p.label][0]))


def unlock_sent_at(frames: Sequence[ReceivedFrame], frame: bytes, after: float) -> float:
    """When the first copy of ``frame`` sent after ``after`` ended on the wire."""
    for received in frames:
        if received.at > after and received.data == frame:
            return received.at
    raise BenchmarkError(f"unlock frame {frame.hex(' ')} never reached the simulated wire")


def time_pickup(client: TestClient, sim: Simulator, database: Path, parcel: Parcel) -> float:
    """Seconds from ``POST /api/pickup`` to the unlock frame's last byte; the door is shut after."""
    started = time.perf_counter()
    answer = client.post("/api/pickup", json={"code": parcel.code})
    doors = answer.json() if answer.status_code == HTTP_OK else []
    if [(d["compartment"], d["outcome"]) for d in doors] != [(parcel.label, "opened")]:
        raise BenchmarkError(f"pickup from {parcel.label}: {answer.status_code} {answer.text}")
    sent = unlock_sent_at(sim.frames, xor8a.encode(xor8a.OpenLock(*WIRING[parcel.label])), started)
    shut(sim, parcel.label)
    wait_until(
        lambda: parcel_state(database, parcel.parcel_id) == "picked_up",
        f"recording the pickup from {parcel.label}",
    )
    return sent - started


def measure_pickups(count: int, folder: Path) -> list[float]:
    """Deposit and pick up ``count`` parcels, a bank's worth at a time; return the latencies."""
    rng = random.Random(SEED)
    config, database = folder / "edge.toml", folder / "edge.db"
    samples: list[float] = []
    with new_simulator() as sim:
        config.write_text(bank_config(sim.path, database))
        add_courier(config)
        with TestClient(create_app(Edge(load_config(config)))) as client:
            while len(samples) < count:
                batch = min(count - len(samples), len(WIRING))
                for parcel in fill(client, sim, len(samples), batch):
                    time.sleep(rng.uniform(0.0, POLL_INTERVAL_S))
                    samples.append(time_pickup(client, sim, database, parcel))
    return samples


# --- idle daemon --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Idle:
    window_s: float
    cpu_s: float
    rss_bytes: int
    status_reads: int
    baseline_rss_bytes: int

    @property
    def cpu_fraction(self) -> float:
        return self.cpu_s / self.window_s

    @property
    def reads_per_s(self) -> float:
        return self.status_reads / self.window_s


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time ``pid`` has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rpartition(")")[2].split()  # the command name may contain spaces
    utime = STAT_UTIME_FIELD - STAT_AFTER_COMM
    ticks = int(fields[utime]) + int(fields[utime + 1])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchmarkError(f"process {pid} reports no VmRSS")


@contextlib.contextmanager
def running(args: Sequence[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, terminated (then killed if need be) on the way out."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        stop(proc, STOP_TIMEOUT_S)


def get_status(port: int) -> dict[str, object] | None:
    """``/api/status`` of the daemon on ``port``, or None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=1) as reply:
            status: dict[str, object] = json.load(reply)
            return status
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def wait_for_api(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while get_status(port) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise BenchmarkError("the daemon did not start: " + " | ".join(tail))
        time.sleep(0.05)


def check_polled(frames: Sequence[ReceivedFrame], port: int) -> int:
    """Status reads in ``frames``; the daemon must have sent nothing else and see every board."""
    others = [f.data.hex(" ") for f in frames if f.data not in STATUS_READS]
    if others:
        raise BenchmarkError(f"the idle daemon sent other frames: {', '.join(others[:3])}")
    status = get_status(port) or {}
    if status.get("boards_online") != {f"main/{board}": True for board in BOARDS}:
        raise BenchmarkError(f"not every board is online after the window: {status}")
    if not frames:
        raise BenchmarkError("the daemon sent no status read in the idle window")
    return len(frames)


def measure_daemon(window: float, folder: Path) -> tuple[float, float, int, int]:
    """Window length, CPU seconds, RSS at the end and status reads of the idle daemon."""
    config, port = folder / "edge.toml", free_port()
    with new_simulator() as sim:
        config.write_text(bank_config(sim.path, folder / "edge.db", api_port=port))
        args = [sys.executable, "-m", "locker_cli.main", "edge", "--config", str(config)]
        with running(args, folder / "daemon.log") as proc:
            wait_for_api(proc, port, folder / "daemon.log")
            time.sleep(SETTLE_S)
            cpu_before, started = cpu_seconds(proc.pid), time.perf_counter()
            time.sleep(window)
            cpu_after, ended = cpu_seconds(proc.pid), time.perf_counter()
            rss = rss_bytes(proc.pid)
            frames = [f for f in sim.frames if started < f.at <= ended]
            reads = check_polled(frames, port)
    return ended - started, cpu_after - cpu_before, rss, reads


def baseline_rss(folder: Path) -> int:
    """RSS of this interpreter doing nothing, once it has started."""
    code = "import sys, time; print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=folder)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise BenchmarkError("the bare interpreter did not start")
        return rss_bytes(proc.pid)
    finally:
        proc.terminate()
        proc.wait()


def measure_idle(window: float, folder: Path) -> Idle:
    window_s, cpu_s, rss, reads = measure_daemon(window, folder)
    return Idle(window_s, cpu_s, rss, reads, baseline_rss(folder))


# --- reporting ----------------------------------------------------------------------------


def p99(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def header(pickups: int, window: float) -> str:
    return (
        f"{heading('edge')}  xor8a {len(BOARDS)}x{CHANNELS} @ {BAUD}, "
        f"poll every {POLL_INTERVAL_S:g} s  "
        f"{pickups} pickups, {window:g} s idle window"
    )


def latency_table(samples: Sequence[float]) -> list[str]:
    wire = wire_time(len(xor8a.encode(xor8a.OpenLock(1, 1))), BAUD)
    median = statistics.median(samples)
    return align(
        [
            ("measure", "median ms", "p99 ms", "wire ms", "median/wire", "p99/wire"),
            (
                "pickup request -> unlock frame end",
                f"{median * MS:.2f}",
                f"{p99(samples) * MS:.2f}",
                f"{wire * MS:.2f}",
                f"{median / wire:.1f}",
                f"{p99(samples) / wire:.1f}",
            ),
        ]
    )


def idle_table(idle: Idle) -> list[str]:
    return align(
        [
            ("idle daemon", "value"),
            ("resident memory (VmRSS)", f"{idle.rss_bytes / MIB:.1f} MiB"),
            ("bare interpreter (VmRSS)", f"{idle.baseline_rss_bytes / MIB:.1f} MiB"),
            ("CPU, fraction of one core", f"{idle.cpu_fraction * 100:.2f} %"),
            ("CPU time in the window", f"{idle.cpu_s:.2f} s of {idle.window_s:.1f} s"),
            ("status reads on the wire", f"{idle.status_reads} ({idle.reads_per_s:.2f}/s)"),
            ("board polls per board", f"{idle.reads_per_s / len(BOARDS):.2f}/s"),
        ]
    )


def notes() -> list[str]:
    clock_tick = 1.0 / os.sysconf("SC_CLK_TCK")
    return [
        "latency includes TestClient's in-process HTTP plumbing, the intent's fsynced commit and",
        "any poll read in progress on the bus; CPU time is counted in clock ticks "
        f"({clock_tick * MS:.0f} ms).",
    ]


# --- entry point --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_PICKUPS} pickups and a {QUICK_IDLE_S:g} s idle window (CI)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    pickups, window = (QUICK_PICKUPS, QUICK_IDLE_S) if args.quick else (FULL_PICKUPS, FULL_IDLE_S)
    print(header(pickups, window), flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
            (Path(tmp) / "pickup").mkdir()
            (Path(tmp) / "idle").mkdir()
            samples = measure_pickups(pickups, Path(tmp) / "pickup")
            idle = measure_idle(window, Path(tmp) / "idle")
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    for line in [*latency_table(samples), "", *idle_table(idle), *notes()]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
