"""Ingest benchmark: events per second the cloud stores in PostgreSQL, 10,000 banks connected.

Everything runs on this machine: a fresh PostgreSQL database, dropped afterwards, and a Mosquitto
of the benchmark's own on a free loopback port, stopped afterwards (no queue limit and
TCP_NODELAY as in ``docs/examples/mosquitto/smartlocker.conf``; unlike it, anonymous and without
persistence). The database is migrated and holds 10,000 banks of eight compartments, each with a
history of ten events already stored and applied (its cursor there), written with ``COPY`` and
then analysed: on empty tables PostgreSQL plans sequential scans, and the worker's prepared
statements would keep them as the tables grow. The benchmark raises its soft descriptor limit to
20,000 (at most the hard limit; it stops at once if that cannot cover the connections); Mosquitto
and the child processes inherit it.

The banks: two load processes hold half of the connections each, on a minimal MQTT 3.1.1 client
written here on asyncio protocols (aiomqtt and paho cost too much per connection for 10,000 in
one process). Each bank connects as ``edge-<bank id>`` with a clean session and subscribes to its
``events/ack`` and ``cmd`` as the edge does; when told, it publishes its next events to
``banks/<id>/events`` at QoS 1, one at a time (the edge's link awaits each PUBACK before the
next): ``Envelope`` JSON from ``model_dump_json`` as the edge sends it, ``door.closed`` and
``board.health`` alternating (the cloud records either and looks for one alarm to clear;
deposits and pickups, which touch parcels and reservations, cost more and are not measured
here). Payloads are built before the clock starts. The connections stay open through the rounds,
and from the start every bank publishes a heartbeat every 30 s (the edge's default), their turns
spread evenly: 333 heartbeats/s from 10,000 banks, through every round:

1. bare: one ``aiomqtt.Client`` (MQTT 5, clean start) subscribed at QoS 1 to
   ``$share/bench-bare/banks/+/events`` (the worker's kind of subscription) that only counts what
   it receives: no parsing, no database. Every bank publishes its events at once; the rate is
   events over the time from the first received to the last. No worker is subscribed: these
   events never reach the cloud.
2. heartbeats alone: one worker for 30 s (6 s with ``--quick``), no events: the cores it uses
   for 10,000 banks' heartbeats (gathered per bank, written every 0.25 s).
3. burst: ``cloud.link.worker.IngestWorker`` as production runs it (``mqtt://``: MQTT 5, a
   persistent session, the shared subscription, ``Settings`` defaults for lanes and linger, the
   collector settled as ``locker cloud ingest`` does), in a process of its own with its own
   engine, takes the banks' next events, all published at once: the
   worker's capacity. The rate is events over the time from the first stored to the last
   (``received_at``, stamped in each batch's transaction). The full run repeats it with two
   worker processes sharing the subscription.
4. catch-up: a worker connects, subscribes and stops (its session stays at the broker); 1,000
   banks (400 with ``--quick``) publish 10 events each (5) meanwhile; the worker comes back and
   drains them: seconds from its return to the last stored.
5. paced: one worker; one event each from as many banks as it takes, spread evenly at half the
   first burst's rate for 15 s (3 s with ``--quick``): the latency of a cloud that keeps up.
6. flood: the same paced load for 10 s (2 s) while one more bank publishes 20,000 events (2,000)
   at once without waiting for each PUBACK: the other banks' events' ages show whether the flood
   held them back.

After each ingest round the benchmark waits until the banks' cursors add up, then checks that
the cloud took every event exactly once: each bank's ``BankCursor.applied_seq`` is the last seq it
sent (and a bank that sent nothing is where it was), every event is stored once and applied, the
workers rejected none, and every bank that sent received an ``events/ack`` for its last seq. Any
miss fails the run. Then it ends the stopped workers' sessions, as a deployment retiring a worker
has to: Mosquitto goes on giving a stopped member of a shared subscription its share, which would
wait in that session for a worker that is gone (with one worker after two, half the events)
until the session expires (``LOCKER_CLOUD_INGEST_SESSION_EXPIRY_S``, 60 s by default).

Reading the table: ``published/s`` is how fast the banks published (first publish to last
PUBACK); well above ``events/s``, it shows the load did not limit the consumer. ``age`` runs from a
bank publishing an event to the worker storing it: in a burst it is mostly the wait behind the
backlog (p99 is about the time the burst took to drain); only the paced row is latency. ``cpu`` is
the cores used from the first publish until the consumer had every event, by the consumer's
processes, by the worker's PostgreSQL backends (blank when PostgreSQL runs elsewhere) and by
Mosquitto; a consumer near 1.0 per process is bound by its own interpreter. The ratio divides the
worker's rate by the bare subscriber's: what storing an event costs next to just receiving it.
Everything shares this machine's cores; the bare subscriber shares them with the load processes
for part of its window (the worker for a small part of its), which flatters the ratio a little.
Compare runs from the same machine only.

Run ``python -m benchmarks.ingest`` (PostgreSQL with trust authentication on 127.0.0.1:5432 by
default, see ``--postgres``; ``mosquitto`` on the PATH or in /usr/sbin), or with ``--quick`` for a
short CI run: 2,000 banks, one event per bank, one worker process, shorter and smaller rounds.
"""
