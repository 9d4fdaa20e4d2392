"""Door health that predicts (issue 15; decision 0023): per door, unlock-to-open latency, jams,
unknown outcomes, forced openings and sensor flapping by day (``record``, written by ingest), a
score and a rule that proposes a failing door for quarantine (``score``), and the console's
service (``service``: ``door_health``, ``proposals``, ``door_days``, ``quarantine_door``).

Kept light: ingest imports ``record`` on every batch.
"""
