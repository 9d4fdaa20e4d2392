"""A door's score and the rule that proposes it for quarantine (decision 0023).

Over the last ``WINDOW_DAYS`` days of a door's counts (``DoorDay``), the door is **proposed for
quarantine** when any of these holds (each a reason, named in ``health.reason.<reason>``):

- ``jams``: at least ``JAMS_TO_PROPOSE`` jams;
- ``jam_rate``: with at least ``MIN_UNLOCKS`` unlocks, a share of jams of ``JAM_RATE_TO_PROPOSE``;
- ``unknown``: at least ``UNKNOWN_TO_PROPOSE`` unlocks whose outcome the board could not tell;
- ``slow``: with at least ``MIN_TIMED`` timed opens, a mean unlock-to-open latency of
  ``SLOW_MS`` or more (a latch that drags);
- ``slowing``: the last ``RECENT_DAYS`` days' mean latency ``SLOWING_FACTOR`` times the earlier
  days' and at least ``SLOWING_MIN_MS`` (with ``MIN_TIMED`` timed opens in each part): the
  latch is wearing, before it jams and strands a parcel;
- ``flapping``: at least ``FLAPS_TO_PROPOSE`` openings without an unlock within seconds of a
  close (the door's sensor bouncing: the bank may then believe a shut door open, or the reverse);
- ``forced``: at least ``FORCED_TO_PROPOSE`` forced openings (a door that no longer latches);
- ``score``: the score below ``PROPOSE_BELOW``.

The **score** (0 to 100, 100 healthy) takes ``PENALTY`` points per jam, unknown outcome, flap and
forced opening, and ``SLOW_PENALTY`` for a slow or a slowing latch, never below 0. A door already
out of service is scored but not proposed.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_DAYS = 14  # the days a door is judged on
RECENT_DAYS = 3  # ... of which the last few are compared with the earlier ones (slowing)
MIN_UNLOCKS = 5  # fewer unlocks than this: no rate is judged
MIN_TIMED = 3  # fewer timed opens than this: no latency is judged
JAMS_TO_PROPOSE = 3
JAM_RATE_TO_PROPOSE = 0.2
UNKNOWN_TO_PROPOSE = 3
SLOW_MS = 3000.0  # a healthy latch opens within about a second of its pulse
SLOWING_FACTOR = 1.5
SLOWING_MIN_MS = 1000.0
FLAPS_TO_PROPOSE = 6
FORCED_TO_PROPOSE = 3
PROPOSE_BELOW = 50
PENALTY = {"jams": 15, "unknown": 8, "flaps": 4, "forced": 5}
SLOW_PENALTY = 20


@dataclass(frozen=True)
class Totals:
    """A door's counts over the window, and its timed opens split into earlier and recent."""

    unlocks: int = 0
    opens: int = 0
    jams: int = 0
    unknown: int = 0
    forced: int = 0
    flaps: int = 0
    left_open: int = 0
    latency_ms_max: int = 0
    earlier_timed: int = 0
    earlier_ms_sum: int = 0
    recent_timed: int = 0
    recent_ms_sum: int = 0

    @property
    def timed(self) -> int:
        return self.earlier_timed + self.recent_timed

    @property
    def mean_ms(self) -> float | None:
        return _mean(self.earlier_ms_sum + self.recent_ms_sum, self.timed)

    @property
    def recent_ms(self) -> float | None:
        return _mean(self.recent_ms_sum, self.recent_timed)

    @property
    def earlier_ms(self) -> float | None:
        return _mean(self.earlier_ms_sum, self.earlier_timed)


@dataclass(frozen=True)
class Judgement:
    score: int
    reasons: tuple[str, ...]

    @property
    def proposed(self) -> bool:
        return bool(self.reasons)


def _mean(total: int, n: int) -> float | None:
    return total / n if n else None


def slowing(t: Totals) -> bool:
    if t.earlier_timed < MIN_TIMED or t.recent_timed < MIN_TIMED:
        return False
    recent, earlier = t.recent_ms or 0.0, t.earlier_ms or 0.0
    return recent >= SLOWING_MIN_MS and recent >= SLOWING_FACTOR * earlier


def slow(t: Totals) -> bool:
    return t.timed >= MIN_TIMED and (t.mean_ms or 0.0) >= SLOW_MS


def judge(t: Totals) -> Judgement:
    """The door's score and the reasons it is proposed for quarantine (none: not proposed)."""
    late = slow(t) or slowing(t)
    penalty = sum(points * getattr(t, name) for name, points in PENALTY.items())
    score = max(0, 100 - penalty - (SLOW_PENALTY if late else 0))
    rules = {
        "jams": t.jams >= JAMS_TO_PROPOSE,
        "jam_rate": t.unlocks >= MIN_UNLOCKS and t.jams >= JAM_RATE_TO_PROPOSE * t.unlocks,
        "unknown": t.unknown >= UNKNOWN_TO_PROPOSE,
        "slow": slow(t),
        "slowing": slowing(t),
        "flapping": t.flaps >= FLAPS_TO_PROPOSE,
        "forced": t.forced >= FORCED_TO_PROPOSE,
        "score": score < PROPOSE_BELOW,
    }
    return Judgement(score, tuple(reason for reason, holds in rules.items() if holds))
