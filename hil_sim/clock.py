"""Simulation time: real time multiplied by a scale, with jumps, so a day can run in seconds."""

from __future__ import annotations

import time


class ScaledClock:
    """Seconds since the simulation started, running ``scale`` times faster than real time."""

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError(f"time scale must be positive, got {scale}")
        self.scale = scale
        self._start = time.monotonic()
        self._skipped = 0.0

    def now(self) -> float:
        return (time.monotonic() - self._start) * self.scale + self._skipped

    def skip(self, seconds: float) -> None:
        """Jump ahead: what was scheduled in between happens at once when next looked at."""
        self._skipped += seconds
