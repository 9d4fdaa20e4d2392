"""Carriers' webhooks: deliveries per second from ``locker cloud webhooks`` processes to a local
receiver that verifies every signature, and the lag from an event's ingest to its delivery.

Rounds: a backlog (events already queued, then one sender, then two, drain it) gives
deliveries per second; a paced round (bank events through the real ingest while two senders run)
gives the lag from ingest to the receiver's answer, p50 and p99. PostgreSQL, a fresh database.
"""
