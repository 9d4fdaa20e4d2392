"""The quarantine rule at its thresholds (``cloud.console.health.score``)."""

from __future__ import annotations

import pytest

from cloud.console.health import score
from cloud.console.health.score import Totals, judge


def timed(earlier_ms: list[int], recent_ms: list[int]) -> dict[str, int]:
    return {
        "earlier_timed": len(earlier_ms), "earlier_ms_sum": sum(earlier_ms),
        "recent_timed": len(recent_ms), "recent_ms_sum": sum(recent_ms),
    }  # fmt: skip


def test_a_healthy_door_scores_100_and_is_not_proposed() -> None:
    judged = judge(Totals(unlocks=40, opens=40, **timed([700] * 30, [720] * 10)))
    assert (judged.score, judged.reasons, judged.proposed) == (100, (), False)


@pytest.mark.parametrize(
    ("totals", "reasons"),
    [
        (Totals(jams=score.JAMS_TO_PROPOSE - 1, unlocks=40), ()),
        (Totals(jams=score.JAMS_TO_PROPOSE, unlocks=40), ("jams",)),
        (Totals(jams=1, unlocks=score.MIN_UNLOCKS), ("jam_rate",)),
        (Totals(jams=1, unlocks=score.MIN_UNLOCKS - 1), ()),  # too few unlocks to judge a rate
        (Totals(unknown=score.UNKNOWN_TO_PROPOSE), ("unknown",)),
        (Totals(flaps=score.FLAPS_TO_PROPOSE - 1), ()),
        (Totals(flaps=score.FLAPS_TO_PROPOSE), ("flapping",)),
        (Totals(forced=score.FORCED_TO_PROPOSE), ("forced",)),
        (Totals(**timed([], [3000, 3000, 3000])), ("slow",)),
        (Totals(**timed([], [2900, 3000, 3000])), ()),
        (Totals(**timed([700] * 5, [1100, 1050, 1000])), ("slowing",)),  # 1050 >= 1.5 x 700
        (Totals(**timed([700] * 5, [1040, 1040, 1040])), ()),  # not yet 1.5 times
        (Totals(**timed([500] * 5, [900, 900, 900])), ()),  # 1.8 times, but under a second
        (Totals(**timed([700] * 2, [1100, 1100, 1100])), ()),  # too few earlier opens to tell
        (Totals(jams=2, forced=2, unknown=2, unlocks=100), ("score",)),  # 100 - 30 - 10 - 16
    ],
)
def test_each_reason_at_its_threshold(totals: Totals, reasons: tuple[str, ...]) -> None:
    assert judge(totals).reasons == reasons


def test_the_score_takes_points_per_fault_and_for_a_late_latch_never_below_zero() -> None:
    assert judge(Totals(jams=1, flaps=1, unlocks=100)).score == 100 - 15 - 4
    assert judge(Totals(**timed([], [4000] * 3))).score == 100 - score.SLOW_PENALTY
    assert judge(Totals(jams=20, unlocks=100)).score == 0
