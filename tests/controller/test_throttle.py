"""The guessing throttle: lockouts that double, a daily disable for PINs, restarts, and for
pickup codes: per source, a kiosk-wide budget that slows, and the attacker's odds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, SQLModel, create_engine

from controller.config import Policy
from controller.store import Throttle
from controller.throttle import (
    CODE_SCOPES,
    KIOSK_SCOPE,
    NETWORK,
    TERMINAL,
    CodeRows,
    Moment,
    check,
    check_code,
    code_scope,
    fail,
    fail_code,
    guessing_odds,
    rearm_all,
    reenable,
    source_for,
    succeed,
    succeed_code,
)

POLICY = Policy()
TODAY = date(2026, 11, 24)
BOOT = "boot-a"


def _fail(row: Throttle, now: float, today: date = TODAY) -> None:
    fail(row, POLICY, now=now, today=today, boot=BOOT, wall=WALL)


def test_five_wrong_then_thirty_seconds() -> None:
    row = Throttle(scope="kiosk:code")
    for n in range(4):
        verdict = fail(row, POLICY, now=0.0, today=TODAY, boot=BOOT, wall=WALL)
        assert verdict.allowed
        assert verdict.attempts_left == 4 - n
    verdict = fail(row, POLICY, now=0.0, today=TODAY, boot=BOOT, wall=WALL)
    assert not verdict.allowed
    assert verdict.retry_after_s == 30
    assert check(row, POLICY, now=29.0, today=TODAY, boot=BOOT, wall=WALL).retry_after_s == 1.0
    assert check(row, POLICY, now=30.0, today=TODAY, boot=BOOT, wall=WALL).allowed


def test_each_wrong_code_after_a_lockout_doubles_it_up_to_fifteen_minutes() -> None:
    row = Throttle(scope="kiosk:code")
    now = 0.0
    for _ in range(5):
        _fail(row, now)
    lockouts = []
    for _ in range(8):
        now = row.locked_until
        assert check(row, POLICY, now=now, today=TODAY, boot=BOOT, wall=WALL).allowed
        lockouts.append(fail(row, POLICY, now=now, today=TODAY, boot=BOOT, wall=WALL).retry_after_s)
    assert lockouts == [60, 120, 240, 480, 900, 900, 900, 900]


def test_a_right_code_resets() -> None:
    row = Throttle(scope="kiosk:code")
    for _ in range(5):
        _fail(row, 0.0)
    succeed(row)
    assert check(row, POLICY, now=0.0, today=TODAY, boot=BOOT, wall=WALL).attempts_left == 5


def test_a_hundred_failures_in_a_day_disable_until_tomorrow_or_a_manager() -> None:
    row = Throttle(scope="kiosk:code")
    for _ in range(99):
        row.locked_until = 0.0
        _fail(row, 0.0)
    assert not row.disabled
    assert fail(row, POLICY, now=0.0, today=TODAY, boot=BOOT, wall=WALL).disabled
    assert check(row, POLICY, now=1e9, today=TODAY, boot=BOOT, wall=WALL).disabled
    tomorrow = TODAY + timedelta(days=1)
    assert not check(row, POLICY, now=1e9, today=tomorrow, boot=BOOT, wall=WALL).disabled
    row.disabled = True
    reenable(row)
    assert check(row, POLICY, now=1e9, today=tomorrow, boot=BOOT, wall=WALL).allowed


def test_a_restart_in_the_same_boot_keeps_the_deadline() -> None:
    row = Throttle(scope="kiosk:code")
    for _ in range(5):
        _fail(row, 100.0)
    assert check(row, POLICY, now=110.0, today=TODAY, boot=BOOT, wall=WALL).retry_after_s == 20.0


def test_a_reboot_rearms_an_unfinished_lockout_in_full() -> None:
    row = Throttle(scope="kiosk:code")
    for _ in range(5):
        _fail(row, 100.0)
    # After a reboot the monotonic clock restarts near zero: the old deadline means nothing.
    verdict = check(row, POLICY, now=5.0, today=TODAY, boot="boot-b", wall=WALL)
    assert not verdict.allowed
    assert verdict.retry_after_s == 30.0


# --- pickup codes: per source, kiosk-wide, never disabled --------------------------------------

SLOW = POLICY.slow_lockout_s
WALL = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _at(now: float, today: date = TODAY) -> Moment:
    return Moment(now=now, wall=WALL + timedelta(seconds=now), today=today, boot=BOOT)


def _rows() -> dict[str, CodeRows]:
    kiosk = Throttle(scope=KIOSK_SCOPE)
    return {
        source: CodeRows(Throttle(scope=code_scope(source)), kiosk)
        for source in (TERMINAL, NETWORK)
    }


def test_the_kiosk_screen_is_one_source_and_every_other_address_another() -> None:
    terminals = POLICY.kiosk_terminals
    assert source_for("127.0.0.1", terminals) == TERMINAL
    assert source_for("::1", terminals) == TERMINAL
    assert source_for("::ffff:127.0.0.1", terminals) == TERMINAL
    assert source_for("192.168.1.20", terminals) == NETWORK
    assert source_for("192.168.1.20", ["192.168.1.20"]) == TERMINAL  # a screen on the LAN
    assert source_for("testclient", terminals) == NETWORK
    assert source_for(None, terminals) == NETWORK
    assert {code_scope(TERMINAL), code_scope(NETWORK), KIOSK_SCOPE} == set(CODE_SCOPES)


def test_one_sources_wrong_codes_do_not_lock_another_and_a_success_clears_only_its_own() -> None:
    rows = _rows()
    for _ in range(5):
        verdict = fail_code(rows[NETWORK], POLICY, _at(0.0))
    assert verdict.retry_after_s == 30
    assert not check_code(rows[NETWORK], POLICY, _at(1.0)).allowed
    assert check_code(rows[TERMINAL], POLICY, _at(1.0)).attempts_left == 5
    succeed_code(rows[TERMINAL])  # the recipient at the screen opens her doors
    assert check_code(rows[NETWORK], POLICY, _at(1.0)).retry_after_s == 29.0
    assert rows[NETWORK].source.consecutive == 5
    assert rows[TERMINAL].kiosk.day_failures == 5  # the kiosk's count is never cleared


def test_a_success_does_not_give_a_source_its_kiosk_budget_back() -> None:
    rows = _rows()[NETWORK]
    now = 0.0
    for _ in range(POLICY.kiosk_failure_budget - 1):  # four wrong, one right, and again
        if rows.source.consecutive == POLICY.lockout_after - 1:
            succeed_code(rows)
        verdict = fail_code(rows, POLICY, _at(now))
        assert verdict.allowed
    verdict = fail_code(rows, POLICY, _at(now))
    assert verdict.budget_reached
    assert verdict.retry_after_s == SLOW


def test_past_the_kiosk_budget_every_wrong_code_slows_its_source_and_nothing_is_disabled() -> None:
    rows = _rows()
    now = 0.0
    for n in range(1, POLICY.kiosk_failure_budget + 1):
        assert check_code(rows[NETWORK], POLICY, _at(now)).allowed
        verdict = fail_code(rows[NETWORK], POLICY, _at(now))
        assert verdict.budget_reached == (n == POLICY.kiosk_failure_budget)
        now = max(now, rows[NETWORK].source.locked_until)
    assert verdict.retry_after_s == SLOW
    # the screen has made no mistake: a recipient there is not held up
    assert check_code(rows[TERMINAL], POLICY, _at(now - 1)).allowed
    # one typo there now waits the slow lockout too, and says so: no daily disable
    verdict = fail_code(rows[TERMINAL], POLICY, _at(now - 1))
    assert (verdict.allowed, verdict.disabled, verdict.retry_after_s) == (False, False, SLOW)
    for _ in range(50):  # the attacker goes on, one try per slow lockout
        verdict = check_code(rows[NETWORK], POLICY, _at(now))
        assert verdict.allowed
        assert not verdict.disabled
        assert fail_code(rows[NETWORK], POLICY, _at(now)).retry_after_s == SLOW
        assert not check_code(rows[NETWORK], POLICY, _at(now + SLOW - 1)).allowed
        now += SLOW
    assert not rows[NETWORK].source.disabled
    assert not rows[NETWORK].kiosk.disabled


def test_a_new_day_restores_the_ramp_but_not_a_running_lockout() -> None:
    rows = _rows()[NETWORK]
    now = 0.0
    for _ in range(POLICY.kiosk_failure_budget):
        fail_code(rows, POLICY, _at(now))
        now = rows.source.locked_until
    tomorrow = TODAY + timedelta(days=1)
    assert not check_code(rows, POLICY, _at(now - 1, tomorrow)).allowed  # outlives midnight
    assert check_code(rows, POLICY, _at(now, tomorrow)).allowed
    assert rows.kiosk.day_failures == 0
    succeed_code(rows)
    assert fail_code(rows, POLICY, _at(now, tomorrow)).attempts_left == 4


def test_the_odds_bound_holds_against_a_greedy_guesser_with_a_valid_code() -> None:
    """Simulate the best a guesser can do over 72 h from both sources, starting just before
    midnight, resetting his ramp with a code of his own before each lockout: he never makes
    more wrong guesses than ``guessing_odds`` counts."""
    odds = guessing_odds(POLICY)
    start = datetime(2026, 11, 24, 23, 59, tzinfo=UTC)
    kiosk = Throttle(scope=KIOSK_SCOPE)
    rows = [CodeRows(Throttle(scope=code_scope(s)), kiosk) for s in (TERMINAL, NETWORK)]
    guesses, now, horizon = 0, 0.0, 72 * 3600.0
    while now <= horizon:
        wall = start + timedelta(seconds=now)
        at = Moment(now=now, wall=wall, today=wall.date(), boot=BOOT)
        for source in rows:
            if check_code(source, POLICY, at).allowed:
                if source.source.consecutive == POLICY.lockout_after - 1:
                    succeed_code(source)
                fail_code(source, POLICY, at)
                guesses += 1
        now = min([r.source.locked_until for r in rows if r.source.locked_until > now] or [now])
        now = min(now, (wall.replace(hour=0, minute=0) + timedelta(days=1) - start).total_seconds())
        now += 0.001
    assert odds.guesses >= guesses > odds.guesses * 0.7  # a bound, and not a loose one


def test_the_odds_for_a_bank_of_a_hundred_parcels_over_three_days_meet_the_goal() -> None:
    odds = guessing_odds(Policy(), parcels=100, hours=72)
    assert odds.codes == 10**8
    assert odds.probability <= 1e-4
    assert odds.guesses == odds.budget_guesses + odds.slow_guesses


def test_docs_security_shows_the_odds_of_the_current_defaults() -> None:
    """docs/security.md cannot drift: it must show what ``guessing_odds`` computes now."""
    text = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    odds = guessing_odds(Policy())
    policy = Policy()
    for shown in (
        f"kiosk_failure_budget = {policy.kiosk_failure_budget}",
        f"slow_lockout_s = {policy.slow_lockout_s:g}",
        f"{odds.local_days} × {policy.kiosk_failure_budget} = {odds.budget_guesses}",
        f"= {odds.slow_guesses}",
        f"G = {odds.budget_guesses} + {odds.slow_guesses} = {odds.guesses}",
        f"P ≤ {odds.probability:.1e}",
    ):
        assert shown in text, shown


def test_a_slow_lockout_survives_a_restart_exactly_and_a_reboot_in_full() -> None:
    rows = _rows()[NETWORK]
    now = 0.0
    for _ in range(POLICY.kiosk_failure_budget):
        fail_code(rows, POLICY, _at(now))
        now = rows.source.locked_until
    now -= SLOW  # the moment of the last failure
    assert check_code(rows, POLICY, _at(now + 100)).retry_after_s == SLOW - 100
    rebooted = Moment(now=3.0, wall=WALL + timedelta(seconds=now + 100), today=TODAY, boot="b2")
    assert check_code(rows, POLICY, rebooted).retry_after_s == SLOW


def test_a_reboot_is_rearmed_once_at_start_not_at_every_refused_try() -> None:
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine)
    try:
        with Session(engine) as s:
            row = Throttle(scope=code_scope(TERMINAL))
            for _ in range(5):
                fail(row, POLICY, now=100.0, today=TODAY, boot=BOOT, wall=WALL)
            s.add(row)
            s.commit()
        rebooted = Moment(now=5.0, wall=WALL, today=TODAY, boot="boot-b")
        with Session(engine) as s:
            rearm_all(s, rebooted)
            s.commit()
        for now, left in ((20.0, 15.0), (30.0, 5.0)):  # refused tries, each rolled back
            with Session(engine) as s:
                row = s.get_one(Throttle, code_scope(TERMINAL))
                verdict = check(row, POLICY, now=now, today=TODAY, boot="boot-b", wall=WALL)
                assert verdict.retry_after_s == left
                s.rollback()
    finally:
        engine.dispose()
