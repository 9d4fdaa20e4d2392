"""What a streaming parser counts instead of raising."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ParserStats:
    """Counters kept by every parser; the bus master exports them as metrics.

    ``noise_bytes`` are bytes skipped while hunting for a header or after a frame failed its
    checks; ``bad_frames`` counts candidate frames that failed the checksum or their structure;
    ``unexpected_frames`` counts well-formed frames that do not answer the request awaited (an
    echo, a stale reply, another board).
    """

    frames: int = 0
    noise_bytes: int = 0
    bad_frames: int = 0
    unexpected_frames: int = 0
