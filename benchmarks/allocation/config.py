"""The allocation benchmark's sizes, limits and plans (full and ``--quick``)."""

from __future__ import annotations

import os

import psycopg
from psycopg.rows import TupleRow

from cloud.models import Size

FULL_WAVES, QUICK_WAVES = 4, 1
BANK_SIZE = 500  # compartments per bank: the most one POST /api/v1/banks accepts
# One API worker per core, as a deployment runs them, and at least two (are they all busy?).
# On 2 cores, 4 workers cost 7.9 to 9.1 ms of CPU per reservation where 2 cost 6.1 to 6.5
# (decision 0031): two processes more fighting PostgreSQL and the clients for the same cores.
WORKERS = max(2, os.cpu_count() or 2)
CLIENTS = 32
CARRIERS = ("bench-a", "bench-b", "bench-c", "bench-d")
HTTP_BANK, DIRECT_BANK = "bench-http", "bench-direct"
SIZE = Size.M
TTL_S = 3600.0  # the API's default for a soft reservation; nothing expires during a run
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 60.0
HTTP_OK, HTTP_CREATED = 200, 201
MS = 1000.0
AsyncConnection = psycopg.AsyncConnection[TupleRow]
