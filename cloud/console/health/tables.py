"""Door health's tables: one row per door and day of what its events said, and what the next
events of each door are measured against (``cloud.console.health.record``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field

from cloud.models import CloudModel


class DoorDay(CloudModel, table=True):
    """One door's day (the UTC day of the bank's own time, ``happened_at``). Latency is kept
    as a sum and a count, so that days add up over any window."""

    bank_id: str = Field(foreign_key="bank.id", primary_key=True)
    label: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    unlocks: int = 0  # door.unlock_requested
    opens: int = 0  # door.opened after an unlock
    measured: int = 0  # opens whose unlock was seen: their latency is known
    latency_ms_sum: int = 0
    latency_ms_max: int = 0
    jams: int = 0  # door.jammed
    unknown: int = 0  # door.outcome_unknown
    forced: int = 0  # opened without an unlock, not a flap (door.forced_open)
    flaps: int = 0  # opened without an unlock soon after the door shut: its sensor bouncing
    left_open: int = 0  # door.left_open


class DoorWatch(CloudModel, table=True):
    """A door's last unlock asked (its intent and time) and its last close: the next opening
    is timed from the first and told a flap by the second."""

    bank_id: str = Field(foreign_key="bank.id", primary_key=True)
    label: str = Field(primary_key=True)
    unlock_intent: str | None = None
    unlock_at: datetime | None = None
    closed_at: datetime | None = None
