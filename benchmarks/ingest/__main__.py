"""Run the ingest benchmark: ``python -m benchmarks.ingest [--quick]`` (see the package)."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import ingest
from benchmarks.common import BenchmarkError, fresh_database, postgres_option
from benchmarks.ingest.children import children
from benchmarks.ingest.config import (
    BANKS,
    BEAT_PERIOD_S,
    FULL,
    HISTORY,
    LABELS,
    LOADERS,
    NOFILE,
    PACED_SHARE,
    QUICK,
    QUICK_BANKS,
    SPARE_FDS,
    STALL_S,
    Plan,
)
from benchmarks.ingest.fleet_rounds import beats_round, catchup_round, flood_round
from benchmarks.ingest.load import load_process
from benchmarks.ingest.messages import Beat, Beating, Connected, Stop
from benchmarks.ingest.report import Figures, header, lines, versions
from benchmarks.ingest.rounds import Run, bare_round, burst_round, paced_round
from benchmarks.ingest.services import bank_ids, mosquitto, open_files_limit, populate, raise_nofile
from controller.config import LinkSpec

SUMMARY = (ingest.__doc__ or "").splitlines()[0]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=SUMMARY)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a short run for CI: {QUICK.events} event per bank and one worker process (not "
        f"{FULL.events}, and one then two), {QUICK.paced_s:g} s paced (not {FULL.paced_s:g} s)",
    )
    parser.add_argument(
        "--banks",
        type=int,
        default=None,
        help=f"simulated banks (default {BANKS}, {QUICK_BANKS} with --quick)",
    )
    postgres_option(parser)
    return parser.parse_args(argv)


def terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds as Ctrl-C does: children, broker and database go


def measure(args: argparse.Namespace, plan: Plan, banks: list[str]) -> Figures:
    setup: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp,
        fresh_database(args.postgres) as database_url,
    ):
        started = time.perf_counter()
        populate(database_url, banks)
        setup.append(
            f"database: {len(banks)} banks with {len(LABELS)} compartments and {HISTORY} past "
            f"events each, written in {time.perf_counter() - started:.1f} s"
        )
        with mosquitto(Path(tmp)) as broker, children(broker) as kids:
            print(header(len(banks), plan, versions(database_url, broker)), flush=True)
            limit = open_files_limit(broker.pid)
            if not limit.isdigit() or int(limit) < len(banks) + SPARE_FDS:
                raise BenchmarkError(f"mosquitto may open {limit} descriptors only")
            share = math.ceil(len(banks) / LOADERS)
            loaders = [
                kids.start(
                    f"load process {n + 1}",
                    load_process,
                    broker.port,
                    banks[n * share : (n + 1) * share],
                )
                for n in range(LOADERS)
            ]
            opened = [loader.expect(Connected, timeout=STALL_S * 10) for loader in loaders]
            setup.append(
                f"connections: {sum(c.banks for c in opened)} opened in "
                f"{max(c.seconds for c in opened):.1f} s; descriptors: mosquitto {limit}, "
                f"load processes {raise_nofile(NOFILE)}"
            )
            for loader in loaders:  # every bank's heartbeat, through every round
                loader.send(Beat(BEAT_PERIOD_S))
                loader.expect(Beating)
            run = Run(kids, loaders, broker, database_url, banks)
            bare = [bare_round(run, plan.events, callback=how) for how in (False, True)]
            beats = beats_round(run, plan.beats_s)
            bursts = [burst_round(run, workers, plan.events) for workers in plan.workers]
            catchup = catchup_round(run, plan)
            # no faster than the banks published: a quick burst stored in a batch or two has
            # a first-to-last time of milliseconds, and a "rate" of 100,000s a second
            rate = min(bursts[0].rate, bursts[0].offered) * PACED_SHARE
            paced = paced_round(run, rate, plan.paced_s, plan.catchup_banks)
            floods = [
                flood_round(run, plan, rate, plan.catchup_banks, window=window)
                for window in (LinkSpec.model_fields["window"].default, None)
            ]
            for loader in loaders:
                loader.send(Stop())
    return Figures(bare, bursts, paced, beats, catchup, floods, setup)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    banks = bank_ids(args.banks or (QUICK_BANKS if args.quick else BANKS))
    limit = raise_nofile(NOFILE)  # inherited by mosquitto and the children
    if limit < len(banks) + SPARE_FDS:
        print(
            f"benchmark failed: {len(banks)} connections need {len(banks) + SPARE_FDS} "
            f"descriptors, the hard limit allows {limit} (ulimit -Hn)",
            file=sys.stderr,
        )
        return 1
    signal.signal(signal.SIGTERM, terminated)
    try:
        figures = measure(args, plan, banks)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130
    for line in lines(len(banks), figures):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
