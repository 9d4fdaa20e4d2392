"""The sharing rule over counts: the example where the cloud and the bank used to disagree, and
what the rule promises whenever the guarantees can all be kept."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from locker_contract.sharing import BankCounts, Share, Verdict, admit

CARRIERS = ("a", "b", "c")


def test_out_of_service_compartments_leave_the_guarantees_to_whoever_comes_first() -> None:
    # 4 compartments, a and b each guaranteed 2, 2 out of service: 2 free, nothing held
    shares = {"a": Share(guaranteed=2, ceiling=4), "b": Share(guaranteed=2, ceiling=4)}
    assert admit(BankCounts(free=2, held={}, shares=shares), "a") is Verdict.ADMITTED
    assert admit(BankCounts(free=2, held={}, shares=shares), "b") is Verdict.ADMITTED
    assert admit(BankCounts(free=1, held={"a": 1}, shares=shares), "a") is Verdict.ADMITTED
    assert admit(BankCounts(free=0, held={"a": 2}, shares=shares), "b") is Verdict.FULL
    # a carrier past its guarantee, or without one, still finds the pool closed
    assert admit(BankCounts(free=1, held={"a": 1}, shares=shares), "c") is Verdict.OWED


def test_the_ceiling_comes_first_and_the_pool_beyond_the_guarantees() -> None:
    shares = {"a": Share(guaranteed=1, ceiling=2), "b": Share(guaranteed=2, ceiling=4)}
    assert admit(BankCounts(free=3, held={"a": 1}, shares=shares), "a") is Verdict.ADMITTED
    assert admit(BankCounts(free=2, held={"a": 2}, shares=shares), "a") is Verdict.AT_CEILING
    assert admit(BankCounts(free=2, held={"a": 2}, shares=shares), "c") is Verdict.OWED
    assert admit(BankCounts(free=3, held={"a": 2}, shares=shares), "c") is Verdict.ADMITTED
    assert admit(BankCounts(free=0, held={}, shares={}), "c") is Verdict.FULL
    assert admit(BankCounts(free=1, held={"c": 50}, shares={}), "c") is Verdict.ADMITTED


@st.composite
def keepable(draw: st.DrawFn) -> tuple[BankCounts, str]:
    """A bank whose guarantees can all be kept: every carrier's holdings or guarantee, whichever
    is more, fit in what is in service."""
    shares = {
        c: Share(g, g + draw(st.integers(0, 3)))
        for c in draw(st.sets(st.sampled_from(CARRIERS)))
        for g in [draw(st.integers(0, 4))]
    }
    held = {c: draw(st.integers(0, 4)) for c in CARRIERS}
    claimed = sum(max(n, shares[c].guaranteed if c in shares else 0) for c, n in held.items())
    in_service = claimed + draw(st.integers(0, 4))
    return BankCounts(in_service - sum(held.values()), held, shares), draw(
        st.sampled_from(CARRIERS)
    )


@given(keepable())
def test_when_the_guarantees_can_be_kept_one_within_its_guarantee_finds_room(
    state: tuple[BankCounts, str],
) -> None:
    bank, carrier = state
    share = bank.shares.get(carrier)
    if share is not None and bank.holds(carrier) < min(share.guaranteed, share.ceiling):
        assert bank.free > bank.owed_to_others(carrier)  # the pool check alone would admit it
        assert admit(bank, carrier) is Verdict.ADMITTED
