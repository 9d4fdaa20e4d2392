"""Run the webhooks benchmark: ``python -m benchmarks.webhooks [--quick]`` (see the package)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select

from benchmarks import webhooks
from benchmarks.common import BenchmarkError, align, fresh_database, heading, postgres_option
from benchmarks.webhooks.world import (
    LABELS,
    POLL_S,
    Receiver,
    deposit,
    new_server_key,
    populate,
    queue_backlog,
    retried,
    senders,
    serving,
)
from cloud.core.db import make_engine, transaction
from cloud.core.migrate import upgrade
from cloud.webhooks.tables import WebhookEvent

SUMMARY = (webhooks.__doc__ or "").splitlines()[0]
WAIT_LIMIT_S = 300.0
WARM_UP = 10  # deposits delivered one by one before the paced round is timed

Senders = Callable[[int], contextlib.AbstractContextManager[None]]


@dataclass(frozen=True)
class Plan:
    backlog: int  # events queued before each throughput round
    paced: int  # deposits through the ingest in the lag round ...
    rate: float  # ... at this many per second


QUICK, FULL = Plan(500, 100, 25.0), Plan(3_000, 400, 50.0)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=SUMMARY)
    parser.add_argument("--quick", action="store_true", help="a smaller run (CI), about 30 s")
    postgres_option(parser)
    return parser.parse_args(argv)


def wait_for(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not done():
        if time.monotonic() > deadline:
            raise BenchmarkError(f"gave up waiting for {what}")
        time.sleep(0.01)


def backlog_round(engine: Engine, receiver: Receiver, run: Senders, count: int, n: int) -> float:
    """Deliveries per second of ``count`` senders draining ``n`` queued events, from the first
    arrival to the last (the processes' start-up left out)."""
    before = set(receiver.arrived)
    queue_backlog(engine, n)
    with run(count):
        wait_for(lambda: receiver.count() >= len(before) + n, f"{n} deliveries")
    times = sorted(t for e, t in receiver.arrived.items() if e not in before)
    return (len(times) - 1) / (times[-1] - times[0])


def paced_round(
    engine: Engine, receiver: Receiver, run: Senders, plan: Plan
) -> tuple[list[float], float]:
    """Seconds from each deposit's ingest to its delivery, two senders running; and the rate
    the deposits were ingested at (the ingest may not keep up with ``plan.rate``)."""
    before = receiver.count()
    with run(2):
        for n in range(1, WARM_UP + 1):  # both senders up and past their first steps
            deposit(engine, n, LABELS[n], prefix="WU")
            wait_for(partial(arrived, receiver, before + n), "a warm-up delivery")
        began = time.monotonic()
        for n in range(plan.paced):
            time.sleep(max(0.0, began + n / plan.rate - time.monotonic()))
            deposit(engine, WARM_UP + n + 1, LABELS[(WARM_UP + n + 1) % len(LABELS)])
        achieved = plan.paced / (time.monotonic() - began)
        total = before + WARM_UP + plan.paced
        wait_for(lambda: receiver.count() >= total, "the paced deliveries")
    with transaction(engine) as s:
        query = select(WebhookEvent).where(col(WebhookEvent.waybill).startswith("PC"))
        events = list(s.exec(query))
    lags = sorted(receiver.arrived[e.id] - e.recorded_at.timestamp() for e in events)
    return lags, achieved


def arrived(receiver: Receiver, count: int) -> bool:
    return receiver.count() >= count


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


@contextlib.contextmanager
def world(postgres: str) -> Iterator[tuple[Engine, Receiver, Senders]]:
    key, receiver = new_server_key(), Receiver()
    with (
        tempfile.TemporaryDirectory(prefix="webhooks-bench-") as tmp,
        fresh_database(postgres) as url,
        serving(receiver) as hook,
    ):
        upgrade(url)
        engine = make_engine(url)
        try:
            receiver.secret = populate(engine, key, hook)
            yield engine, receiver, lambda count: senders(url, key, count, Path(tmp))
        finally:
            engine.dispose()


def report(
    rates: list[float], lags: list[float], achieved: float, receiver: Receiver, plan: Plan
) -> list[str]:
    ms = [lag * 1000 for lag in lags]
    rows = [
        ("round", "figure"),
        (f"backlog of {plan.backlog:,}, 1 sender", f"{rates[0]:,.0f} deliveries/s"),
        (f"backlog of {plan.backlog:,}, 2 senders", f"{rates[1]:,.0f} deliveries/s"),
        (f"ingest to delivery, {plan.paced} deposits, p50", f"{percentile(ms, 0.5):,.0f} ms"),
        ("ingest to delivery, p99", f"{percentile(ms, 0.99):,.0f} ms"),
    ]
    notes = [
        f"deposits ingested at {achieved:.0f}/s (asked {plan.rate:g}/s; the ingest in this "
        "process is the bound when it is lower)",
        f"senders poll every {POLL_S} s when idle; every signature verified by the receiver "
        f"(refused: {receiver.refused})",
        "load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
    ]
    return [*align(rows), *notes]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the senders, drop the database
    print(heading("webhooks"), flush=True)
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    try:
        with world(args.postgres) as (engine, receiver, run):
            rates = [backlog_round(engine, receiver, run, n, plan.backlog) for n in (1, 2)]
            lags, achieved = paced_round(engine, receiver, run, plan)
            lines = report(rates, lags, achieved, receiver, plan)
            lines.append(f"deliveries that needed a retry: {retried(engine)}")
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
