"""The allocation race on PostgreSQL through a real server with several worker processes.

A bank of 100 free size-M compartments; carriers A, B and C each guaranteed 20 with a ceiling of
50; 80, 70 and 50 reservation requests. Whatever order the workers serve them in, the policy
decides the outcome: exactly 100 succeed, the rest are refused cleanly (409 with a reason), no
compartment is held twice, nobody is above 50 and C gets its 20.

Sent all at once and interleaved, C's requests are spread over the race, so C would reach 20 even
without its guarantee. A second bank therefore gets A's and B's requests first, all at once, and
C's only afterwards: A and B must stop at 80 between them, and C then gets exactly its 20.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest

from cloud.core.server import MAX_REQUESTS_PER_CONNECTION
from tests.cloud.conftest import postgres_database
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

A, B, C = "carrier-a", "carrier-b", "carrier-c"
REQUESTS = {A: 80, B: 70, C: 50}
GUARANTEED, CEILING = 20, 50
COMPARTMENTS = 100
WORKERS = 4
SEED = 20261124
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 60.0

Outcome = tuple[str, httpx2.Response | BaseException]  # (carrier, answer or failure)


@dataclass(frozen=True)
class Server:
    url: str
    database_url: str
    admin: dict[str, str]
    log: Path
    pid: int  # the supervisor's


@dataclass(frozen=True)
class Fleet:
    operator: dict[str, str]
    site_id: str
    carriers: dict[str, dict[str, str]]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_errors(log: Path, lines: int = 30) -> str:
    """The end of the server's log without its access lines: tracebacks and warnings."""
    text = log.read_text(errors="replace").splitlines()
    return "\n".join([line for line in text if not line.startswith("INFO: ")][-lines:])


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to uvicorn's supervisor (it stops its workers); SIGKILL to its group if stuck."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this test started: supervisor + workers
        proc.wait()


def wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx2.Client(base_url=url, timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{server_errors(log)}")
            with contextlib.suppress(httpx2.TransportError):
                if client.get("/docs").status_code == 200:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within {START_TIMEOUT_S:g} s")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``locker cloud serve --workers 4`` on a fresh PostgreSQL database; stopped afterwards."""
    with contextlib.contextmanager(postgres_database)() as database_url:
        env = os.environ | {
            "LOCKER_CLOUD_DATABASE_URL": database_url,
            "LOCKER_CLOUD_SECRET_KEY": secrets.token_hex(32),
            "LOCKER_CLOUD_RATE_PER_MINUTE": "100000",
        }
        cli = [sys.executable, "-m", "locker_cli.main", "cloud"]
        made = subprocess.run(
            [*cli, "create-admin"],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        admin_key = made.stdout.strip().splitlines()[-1]
        port, log = free_port(), tmp_path_factory.mktemp("race") / "server.log"
        serve = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*serve, "--workers", str(WORKERS)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_serving(proc, url, log)
            yield Server(url, database_url, bearer(admin_key), log, proc.pid)
        finally:
            stop(proc)


def ok(client: httpx2.Client, method: str, path: str, key: dict[str, str], **kw: Any) -> Any:
    answer = client.request(method, path, headers=key, **kw)
    assert answer.status_code in (200, 201), f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json()


@pytest.fixture(scope="module")
def fleet(server: Server) -> Fleet:
    """An operator with one site, and the three carriers."""
    with httpx2.Client(base_url=server.url, timeout=30.0) as client:
        made = ok(client, "POST", "/api/v1/operators", server.admin, json={"name": "Race Ltd"})
        operator = bearer(made["api_key"])
        where = {"name": "Race site", "lat": 31.2, "lon": 121.4}
        site = ok(client, "POST", "/api/v1/sites", operator, json=where)
        carriers = {}
        for carrier in REQUESTS:
            body = {"id": carrier, "name": carrier.upper()}
            made = ok(client, "POST", "/api/v1/carriers", server.admin, json=body)
            carriers[carrier] = bearer(made["api_key"])
    return Fleet(operator, site["id"], carriers)


def labels(count: int) -> list[str]:
    """A01..A20, B01..B20, ...: 20 to a row."""
    return [f"{chr(ord('A') + n // 20)}{n % 20 + 1:02d}" for n in range(count)]


def add_bank(server: Server, fleet: Fleet, bank: str) -> None:
    """100 M compartments; every carrier guaranteed 20 with a ceiling of 50."""
    compartments = [{"label": label, "size": "M"} for label in labels(COMPARTMENTS)]
    body = {"id": bank, "site_id": fleet.site_id, "name": bank, "compartments": compartments}
    policy = {"guaranteed": GUARANTEED, "ceiling": CEILING}
    with httpx2.Client(base_url=server.url, timeout=30.0) as client:
        ok(client, "POST", "/api/v1/banks", fleet.operator, json=body)
        for carrier in REQUESTS:
            path = f"/api/v1/banks/{bank}/policies/{carrier}"
            assert ok(client, "PUT", path, fleet.operator, json=policy) == policy
            accept = f"/api/v1/shares/{bank}/accept"
            ok(client, "POST", accept, fleet.carriers[carrier])  # in force once accepted


async def race(server: Server, fleet: Fleet, bank: str, carriers: Sequence[str]) -> list[Outcome]:
    """The carriers' requests, shuffled together and sent at once; (carrier, outcome) each."""
    order = [carrier for carrier in carriers for _ in range(REQUESTS[carrier])]
    random.Random(SEED).shuffle(order)
    limits = httpx2.Limits(max_connections=len(order), max_keepalive_connections=len(order))
    body = {"bank_id": bank, "size": "M"}
    async with httpx2.AsyncClient(
        base_url=server.url, limits=limits, timeout=REQUEST_TIMEOUT_S
    ) as client:
        outcomes = await asyncio.gather(
            *(
                client.post("/api/v1/reservations", json=body, headers=fleet.carriers[c])
                for c in order
            ),
            return_exceptions=True,
        )
    return list(zip(order, outcomes, strict=True))


def successes(server: Server, outcomes: Sequence[Outcome]) -> dict[str, list[str]]:
    """Carrier -> compartments won; every other answer must be a clean refusal."""
    failures = [(c, o) for c, o in outcomes if isinstance(o, BaseException)]
    assert not failures, f"{len(failures)} requests failed outright, e.g. {failures[0][1]!r}"
    answers = [(c, o) for c, o in outcomes if isinstance(o, httpx2.Response)]
    statuses = Counter(answer.status_code for _, answer in answers)
    assert set(statuses) <= {201, 409}, f"{statuses}\n{server_errors(server.log)}"
    for _, answer in answers:
        if answer.status_code == 409:
            detail = answer.json().get("detail")
            assert isinstance(detail, str), answer.text
            assert detail, answer.text
    won: dict[str, list[str]] = {carrier: [] for carrier in REQUESTS}
    for carrier, answer in answers:
        if answer.status_code == 201:
            made = answer.json()
            assert (made["size"], made["state"], made["kind"]) == ("M", "active", "soft"), made
            won[carrier].append(made["compartment_id"])
    return won


def active_reservations(database_url: str, bank: str) -> list[tuple[str, str]]:
    """(carrier, compartment) of every active reservation at ``bank``, read from the database."""
    with psycopg.connect(database_url) as db:
        rows = db.execute(
            "SELECT r.carrier_id, r.compartment_id FROM reservation r "
            "JOIN compartment c ON c.id = r.compartment_id "
            "WHERE r.state = 'active' AND r.bank_id = %s AND c.bank_id = %s AND c.size = 'M'",
            (bank, bank),
        ).fetchall()
    return [(str(carrier), str(compartment)) for carrier, compartment in rows]


def check_bank(server: Server, bank: str, won: dict[str, list[str]]) -> Counter[str]:
    """The policy's promises, in the answers and in the database; the count per carrier."""
    per_carrier = Counter({carrier: len(held) for carrier, held in won.items()})
    print(f"{bank}: successes per carrier {dict(per_carrier)}")  # noqa: T201
    given = [compartment for held in won.values() for compartment in held]
    assert len(given) == COMPARTMENTS, per_carrier
    assert len(set(given)) == COMPARTMENTS, "a compartment was given out twice"
    assert max(per_carrier.values()) <= CEILING, per_carrier
    assert per_carrier[C] >= GUARANTEED, per_carrier
    assert min(per_carrier.values()) >= GUARANTEED, per_carrier  # each sent more than 20
    assert per_carrier.total() == COMPARTMENTS

    held = active_reservations(server.database_url, bank)
    assert len(held) == COMPARTMENTS
    assert len({compartment for _, compartment in held}) == COMPARTMENTS
    assert {compartment for _, compartment in held} == set(given)
    assert Counter(carrier for carrier, _ in held) == +per_carrier
    return per_carrier


def test_interleaved_requests_respect_the_policy(server: Server, fleet: Fleet) -> None:
    add_bank(server, fleet, "race-mixed")
    outcomes = asyncio.run(race(server, fleet, "race-mixed", [A, B, C]))
    check_bank(server, "race-mixed", successes(server, outcomes))


def test_a_late_carrier_still_gets_its_guarantee(server: Server, fleet: Fleet) -> None:
    add_bank(server, fleet, "race-late")
    early = asyncio.run(race(server, fleet, "race-late", [A, B]))
    late = asyncio.run(race(server, fleet, "race-late", [C]))
    per_carrier = check_bank(server, "race-late", successes(server, [*early, *late]))
    assert per_carrier[A] + per_carrier[B] == COMPARTMENTS - GUARANTEED, per_carrier
    assert per_carrier[C] == GUARANTEED, per_carrier


# --- every worker busy, however connections arrive (issue 13) --------------------------------


def workers(server: Server) -> list[int]:
    """The supervisor's children that serve (not multiprocessing's resource tracker)."""
    with open(f"/proc/{server.pid}/task/{server.pid}/children") as children:
        pids = [int(pid) for pid in children.read().split()]
    return [pid for pid in pids if b"spawn_main" in _cmdline(pid)]


def _cmdline(pid: int) -> bytes:
    """What ``pid`` runs; nothing once it is gone (a killed worker can be reaped between
    reading the supervisor's children and reading their command lines)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def established(port: int) -> set[int]:
    """Socket inodes of the server's end of every established TCP connection to ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local, state, inode = fields[1], fields[3], int(fields[9])
                if state == "01" and int(local.rpartition(":")[2], 16) == port:
                    inodes.add(inode)
    return inodes


def connections_per_worker(server: Server) -> dict[int, int]:
    """How many of the server's established connections each worker holds."""
    port = int(server.url.rpartition(":")[2])
    mine = established(port)
    held = {}
    for pid in workers(server):
        sockets = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    sockets.add(int(target[8:-1]))
        held[pid] = len(sockets & mine)
    return held


async def keep_open(server: Server, count: int) -> dict[int, int]:
    """``count`` clients, each with its own kept-alive connection; the connections each worker
    holds while they are open."""
    clients = [
        httpx2.AsyncClient(base_url=server.url, timeout=REQUEST_TIMEOUT_S) for _ in range(count)
    ]
    try:
        for client in clients:  # one after another, as a client's pool grows
            assert (await client.get("/docs")).status_code == 200
        return connections_per_worker(server)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def test_connections_opened_at_once_reach_every_worker(server: Server) -> None:
    """Each worker listens on its own socket and the kernel spreads connections over them
    (32 missing one of 4 by chance: 4 x (3/4)^32 = 4e-4). The shared socket of before passes
    this on an idle server too; its failure was under load, where the workers awake accepted
    everything waiting: the benchmark's fleet round shows each worker's CPU time."""
    held = asyncio.run(keep_open(server, 32))
    assert len(held) == WORKERS
    assert sum(held.values()) == 32, held
    assert min(held.values()) > 0, held


def test_a_worker_killed_is_replaced_on_its_socket(server: Server) -> None:
    before = workers(server)
    os.kill(before[0], signal.SIGKILL)
    wait_until(lambda: len(set(workers(server)) - set(before)) == 1, what="a new worker")
    replacement = (set(workers(server)) - set(before)).pop()
    wait_until(lambda: asyncio.run(keep_open(server, 32)).get(replacement, 0) > 0,
               what="the new worker serving")  # fmt: skip


def test_a_kept_alive_connection_is_closed_after_its_bounded_requests(server: Server) -> None:
    """Long-lived connections come back through the kernel's spread now and then."""
    with httpx2.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as client:
        answers = [client.get("/docs") for _ in range(MAX_REQUESTS_PER_CONNECTION + 1)]
    closing = [n for n, a in enumerate(answers, 1) if a.headers.get("connection") == "close"]
    assert closing == [MAX_REQUESTS_PER_CONNECTION]
    assert answers[-1].status_code == 200  # the client reconnected
