"""Allocation benchmark: reservations per second at one bank and across a fleet, through HTTP
and directly.

Two rounds on one server: the one-bank round below, kept for contrast (every reservation waits
for the same bank's lock), then the fleet round (``fleetround``): 1,000 banks of 48
compartments with accepted shares, one in ten full, and 64 HTTP clients (32 connections on the
direct path: PostgreSQL allows 100 beside the workers' pools) reserving at random banks.
Successes and refusals (409 with the nearest banks with room) are timed apart; each worker's CPU
time during the HTTP round is printed (are they all busy?), and the CPU milliseconds per request
of the API workers, PostgreSQL and the clients (what ``docs/scaling.md`` divides by); no double
booking nor a carrier past its ceiling is checked after each path. The machine's load average
is printed before and after: other work on its cores moves every figure.

The one-bank round:

Everything runs against a fresh PostgreSQL database, dropped afterwards. The cloud is served as in
production (``locker cloud serve --workers N``, one per core and at least 2: uvicorn, one
process per worker, each with its own connection pool), and two banks of 500 size-M compartments
(the API's maximum for one bank) are set up through its API, with four carriers and no sharing
policy (everyone uses the shared pool).
32 clients then reserve concurrently, as fast as they can, until the bank is full:

- HTTP: ``POST /api/v1/reservations`` through ``httpx2`` (one connection per client); each
  request is timed from sending to the whole answer, which must be 201.
- direct: the same reservation transaction, written out in SQL and sent through psycopg 3 on one
  connection per client: take the bank's advisory lock, ask whether a soft reservation is due
  to expire, the shares and the counts (the same queries as
  ``cloud/services/allocation_queries.py``, the rule of ``locker_contract.sharing``), take the
  smallest free compartment ``FOR UPDATE SKIP LOCKED``, insert the reservation, the carrier's
  webhook event (and a delivery per endpoint), the ``reservation.push`` command and both audit
  entries (one statement), commit: the service's statements, one for one (decision 0032).
  Each transaction is timed from ``BEGIN`` to the end of ``COMMIT``.

The two paths take turns, a full bank each (a wave): direct, then HTTP, on their own bank. Between
waves the reservations are cancelled in SQL, outside the timed windows, so every wave fills a bank
from empty, as a busy locker does in a day. Throughput is reservations over the sum of the waves'
wall-clock times; the ratio row divides HTTP's figure by direct's. After each wave the database
must hold exactly one active reservation per compartment, and both paths must have written the
same rows per reservation (if the service changes what it writes, the direct path no longer
mirrors it and the benchmark fails).

Read the figures with this in mind: at one bank every reservation waits for the bank's lock,
so both paths run one transaction at a time and their latency is mostly queueing behind the other
clients (latency is about clients / throughput). HTTP's overhead on top of the transaction is the
API key lookup (in the same transaction), the pool's pre-ping, SQLAlchemy, JSON and uvicorn;
for scale, the run also times ``GET /docs`` on a kept-alive connection with one client (the HTTP
floor, no database work). The client, the workers and PostgreSQL share this machine's cores;
compare runs from the same machine only.

Run ``python -m benchmarks.allocation`` (PostgreSQL with trust authentication on 127.0.0.1:5432 by
default, see ``--postgres``), or with ``--quick`` for a short CI run (one wave, 1,500 fleet
requests per path instead of 12,000).
"""
