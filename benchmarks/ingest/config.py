"""The ingest benchmark's sizes, limits and plans (full and ``--quick``)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow

from cloud.core.config import Settings

BANKS = 10_000
QUICK_BANKS = 2_000  # CI's run: the same rounds, a fifth of the fleet, in about a minute
LOADERS = 2  # processes holding the banks' connections
LANES = Settings.model_fields["ingest_lanes"].default  # the cloud's default
NOFILE = 20_000  # descriptors asked for (soft limit up to this, never above the hard limit)
SPARE_FDS = 200  # descriptors a process needs besides the connections
KEEPALIVE_S = 120  # the simulated banks' MQTT keep-alive; they ping every half of it
CONNECTING = 100  # connection attempts in flight per load process
LABELS = [f"A{n:02d}" for n in range(1, 9)]  # compartments per bank in the cloud's database
HISTORY = 10  # events per bank stored and applied before the run, as in a fleet's database
PROBE_BANK = "bench-probe"
FLOOD_BANK = "bench-flood"  # the bank that floods, beside the others
BEAT_PERIOD_S = 30.0  # every bank's heartbeat period (the edge's default), in every round
RATED_S = 1.0  # a round's window shorter than this gives no rate worth a ratio
SETTLE_S = 5.0  # a worker's start (every bank's retained status), left out of the heartbeats' cost
BARE_GROUP = "bench-bare"
STALL_S = 60.0  # no progress for this long: the run failed
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
Db = psycopg.Connection[TupleRow]


@dataclass(frozen=True, slots=True)
class Plan:
    events: int  # per bank, in the bare round and in each burst
    workers: tuple[int, ...]  # worker processes, one burst each
    paced_s: float  # how long the paced round publishes
    beats_s: float  # how long the heartbeats-only round measures one worker
    catchup_banks: int  # per load process: banks whose events queue while no worker runs
    catchup_events: int  # per such bank
    flood_events: int  # the flooding bank's, all at once
    flood_s: float  # how long the other banks publish, paced, meanwhile


FULL = Plan(
    events=3,
    workers=(1, 2),
    paced_s=15.0,
    beats_s=30.0,
    catchup_banks=500,
    catchup_events=10,
    flood_events=20_000,
    flood_s=10.0,
)
QUICK = Plan(
    events=1,
    workers=(1,),
    paced_s=3.0,
    beats_s=6.0,
    catchup_banks=200,
    catchup_events=5,
    flood_events=2_000,
    flood_s=2.0,
)
PACED_SHARE = 0.5  # the paced round's rate: a share of one worker's burst rate (or published/s)
