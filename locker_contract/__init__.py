"""The messages edge and cloud exchange, imported by both and by nothing it depends on.

``events`` holds the envelope every edge event travels in (event id, bank id, per-bank sequence
number, time, type, schema version) and one model per event type.
"""

from locker_contract.events import (
    BANK_ID_PATTERN,
    SCHEMA_VERSION,
    Envelope,
    Event,
    EventAdapter,
)

__all__ = ["BANK_ID_PATTERN", "SCHEMA_VERSION", "Envelope", "Event", "EventAdapter"]
