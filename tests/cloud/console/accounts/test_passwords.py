"""Passwords: Argon2id at pwdlib's recommended cost in production, the length-and-common-list
policy (no composition rules), and a hash that never matches when there is none."""

from __future__ import annotations

import pytest

from cloud.console.accounts import passwords


def test_production_hashes_are_argon2id_at_the_recommended_cost() -> None:
    hashed = passwords.hasher().hash("a sentence somebody remembers")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify("a sentence somebody remembers", hashed)
    assert not passwords.verify("a sentence somebody forgot", hashed)


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$broken"])
def test_no_hash_or_a_broken_one_never_matches(stored: str) -> None:
    assert not passwords.verify("a decoy nobody can sign in with", stored)
    assert not passwords.verify("", stored)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("eleven char", "accounts.password_short"),
        ("x" * 257, "accounts.password_long"),
        ("Password1234", "accounts.password_common"),
        ("abababababab", "accounts.password_common"),
        ("all lower case words only", None),
        ("七个汉字也可以吗十二个字了吧", None),
    ],
)
def test_the_policy(password: str, reason: str | None) -> None:
    assert passwords.weakness(password) == reason
