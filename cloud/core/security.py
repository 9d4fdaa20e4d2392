"""API keys: random, shown once, stored as HMAC-SHA256 under the server's secret key.

A leaked database alone does not let anyone check a guessed key offline: the secret key lives in
the environment, never in the database or the repository.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import itertools
import math
import secrets

from locker_contract.credentials import new_salt, pin_verifier

__all__ = ["key_hash", "new_api_key", "new_salt", "pin_verifier"]

KEY_PREFIX = "lk_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(secret_key: str, api_key: str) -> str:
    return hmac.new(secret_key.encode(), api_key.encode(), hashlib.sha256).hexdigest()


# --- the server's own secret key: long and random-looking -------------------------------------

SECRET_HINT = "generate one: openssl rand -hex 32"
SECRET_MIN_DISTINCT = 8  # 32 random hex digits show 9 or more; fewer is a pattern
SECRET_MIN_BITS = 80.0  # symbol entropy times length (32 random hex digits: 92 or more)
SECRET_REPEAT = 8  # a stretch this long seen twice (in 64 random hex digits: odds about 1e-6)
SECRET_MAX_STEPS = 0.7  # share of neighbours equal or one apart (32 random hex: <= 0.55)


def secret_weakness(value: str) -> str | None:
    """Why ``value`` does not look random (a run, a repeated pattern, few symbols), or None.
    A heuristic against keys typed by hand; ``openssl rand -hex 32`` always passes it."""
    if len(set(value)) < SECRET_MIN_DISTINCT:
        return f"only {len(set(value))} distinct characters"
    period = _period(value)
    if period is not None:
        return f"repeats a pattern of {period} characters"
    stretches = [value[i : i + SECRET_REPEAT] for i in range(len(value) - SECRET_REPEAT + 1)]
    if len(set(stretches)) < len(stretches):
        return f"a stretch of {SECRET_REPEAT} characters comes back"
    pairs = list(itertools.pairwise(value))
    steps = sum(1 for a, b in pairs if abs(ord(a) - ord(b)) <= 1)
    if steps > SECRET_MAX_STEPS * len(pairs):
        return "runs of consecutive characters"
    if _entropy_bits(value) < SECRET_MIN_BITS:
        return f"about {_entropy_bits(value):.0f} bits, {SECRET_MIN_BITS:.0f} needed"
    return None


def _period(value: str) -> int | None:
    """The shortest period of ``value`` if it repeats one at least twice."""
    for period in range(1, len(value) // 2 + 1):
        if all(value[i] == value[i - period] for i in range(period, len(value))):
            return period
    return None


def _entropy_bits(value: str) -> float:
    counts = collections.Counter(value)
    per_symbol = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return per_symbol * len(value)
