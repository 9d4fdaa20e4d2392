"""The storage policy as tables on an injected clock: every moment is the deposit plus hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from locker_contract.storage import (
    Outage,
    PolicyRefused,
    StoragePolicy,
    check_local_minimum,
    counted,
    deadline,
    expired,
    fee_owed,
    free_until,
    money,
)

DEPOSIT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# 18 free hours (Xiamen), then 0.50 per started 12 h, at most 3.00; back to the carrier at 7 days
POLICY = StoragePolicy(free_hours=18, keep_hours=168, fee_minor=50, period_hours=12, cap_minor=300)


def at(hours: float) -> datetime:
    return DEPOSIT + timedelta(hours=hours)


def span(start: float, end: float | None) -> Outage:
    return Outage(at(start), None if end is None else at(end))


@pytest.mark.parametrize(
    ("hours", "owed"),
    [
        (0, 0),
        (17.99, 0),
        (18, 0),  # the free period's last instant is free
        (18 + 1 / 3600, 50),  # one second into the first period: it has started
        (29.99, 50),
        (30, 50),  # a period that ends exactly is not a new one started
        (30.01, 100),
        (42.01, 150),
        (78.01, 300),
        (150, 300),  # the cap
        (-1, 0),  # a moment before the deposit (a clock stepped back) owes nothing
    ],
)
def test_fee_per_started_period_after_the_free_hours_up_to_the_cap(hours: float, owed: int) -> None:
    assert fee_owed(DEPOSIT, POLICY, [], at(hours)) == owed


@pytest.mark.parametrize(
    ("outages", "free_end", "deadline_hours", "owed_at_20h"),
    [
        ([], 18, 168, 50),
        ([span(2, 6)], 22, 172, 0),  # 4 h of maintenance: everything 4 h later
        ([span(2, 6), span(4, 8)], 24, 174, 0),  # overlapping outages count once
        ([span(-5, 3)], 21, 171, 0),  # begun before the deposit: only its part after
        ([span(19, 21)], 18, 170, 50),  # after the free period: moves the deadline only
        ([span(30, 40)], 18, 178, 50),  # after the moment asked: changes no fee yet
        ([span(10, None)], 28, 178, 0),  # still going at 20 h: taken to end then
    ],
)
def test_an_outage_extends_the_deadline_and_is_never_charged(
    outages: list[Outage], free_end: float, deadline_hours: float, owed_at_20h: int
) -> None:
    now = at(20)
    assert free_until(DEPOSIT, POLICY, outages, now) == at(free_end)
    assert deadline(DEPOSIT, POLICY, outages, now) == at(deadline_hours)
    assert fee_owed(DEPOSIT, POLICY, outages, now) == owed_at_20h


def test_an_ongoing_outage_holds_off_expiry_for_as_long_as_it_lasts() -> None:
    jammed = [span(100, None)]
    assert not expired(DEPOSIT, POLICY, jammed, at(500))
    assert counted(DEPOSIT, at(500), jammed) == timedelta(hours=100)
    assert expired(DEPOSIT, POLICY, [span(100, 110)], at(178))
    assert not expired(DEPOSIT, POLICY, [span(100, 110)], at(177.9))


@pytest.mark.parametrize(("hours", "gone"), [(167.99, False), (168, True), (200, True)])
def test_the_deadline_is_when_the_parcel_goes_back(hours: float, gone: bool) -> None:
    assert expired(DEPOSIT, POLICY, [], at(hours)) is gone


@pytest.mark.parametrize(
    ("free_hours", "minimum", "allowed"),
    [(18, 18, True), (24, 18, True), (17.5, 18, False), (1, 18, False), (12, 0, True)],
)
def test_a_policy_below_the_local_minimum_is_refused(
    free_hours: float, minimum: float, allowed: bool
) -> None:
    policy = POLICY.model_copy(update={"free_hours": free_hours})
    if allowed:
        assert check_local_minimum(policy, minimum) is policy
    else:
        with pytest.raises(PolicyRefused, match="below the local minimum"):
            check_local_minimum(policy, minimum)


@pytest.mark.parametrize(
    "bad",
    [
        {"free_hours": 0},
        {"free_hours": 48, "keep_hours": 24},  # goes back before its free period ends
        {"fee_minor": -1},
        {"period_hours": float("nan")},
        {"currency": "yuan"},
        {"keep_hours": 24 * 365},
    ],
)
def test_a_malformed_policy_is_refused_by_the_contract(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        StoragePolicy.model_validate(POLICY.model_dump() | bad)


def test_no_fee_without_a_fee_or_a_cap() -> None:
    free = StoragePolicy(free_hours=18, keep_hours=72, fee_minor=0, cap_minor=300)
    capless = StoragePolicy(free_hours=18, keep_hours=72, fee_minor=50, cap_minor=0)
    assert fee_owed(DEPOSIT, free, [], at(70)) == 0
    assert fee_owed(DEPOSIT, capless, [], at(70)) == 0


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(0, "CNY", "¥0.00"), (150, "CNY", "¥1.50"), (5, "CNY", "¥0.05"), (1234, "EUR", "EUR 12.34")],
)
def test_money(minor: int, currency: str, text: str) -> None:
    assert money(minor, currency) == text
