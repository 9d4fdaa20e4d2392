"""Sign-in guesses sent all at once are throttled as if sent one after another (R2)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from cloud.console.accounts import people, throttle
from cloud.console.accounts.errors import LockedOut, SignInRefused
from tests.cloud.console.accounts.conftest import Console

GUESSES = 12


def test_guesses_sent_together_get_no_more_tries_than_the_allowance(console: Console) -> None:
    console.person("ann@example.org")
    start = threading.Barrier(GUESSES)
    key, now = console.settings.secret_key, console.clock.now()

    def guess(n: int) -> str:
        start.wait()
        try:
            people.sign_in(
                console.engine, key, "ann@example.org", f"wrong guess {n}", address="a", now=now
            )
        except (LockedOut, SignInRefused) as exc:
            return type(exc).__name__
        return "signed in"

    with ThreadPoolExecutor(GUESSES) as pool:
        answers = list(pool.map(guess, range(GUESSES)))
    assert answers.count("SignInRefused") == throttle.EMAIL.allowance, answers
    assert answers.count("LockedOut") == GUESSES - throttle.EMAIL.allowance, answers


def test_signing_in_right_again_and_again_never_locks_anyone_out(console: Console) -> None:
    console.person("ann@example.org")
    for _ in range(throttle.ADDRESS.allowance + 2):
        assert console.sign_in("ann@example.org").status_code == 303
    assert console.sign_in("ann@example.org", "a wrong one, once").status_code == 401
    assert console.sign_in("ann@example.org").status_code == 303
