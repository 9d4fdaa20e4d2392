"""Passwords: Argon2id hashes (pwdlib's recommended parameters) and the one policy.

The policy is NIST SP 800-63B's: at least ``MIN_LENGTH`` characters, not a commonly used
password, no composition rules. An unknown e-mail is checked against a hash made once at start,
so that a sign-in takes as long whether or not the account exists.
"""

from __future__ import annotations

from functools import cache

from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError

MIN_LENGTH = 12
MAX_LENGTH = 256  # Argon2 takes any length; a megabyte "password" is refused before hashing

# passwords of 12 characters or more that lists of leaked passwords put near the top, and the
# product's own words; compared lower-cased
COMMON = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456123456",
        "111111111111",
        "000000000000",
        "123123123123",
        "password1234",
        "password12345",
        "password123456",
        "passwordpassword",
        "qwertyuiopas",
        "qwerty123456",
        "qwertyqwerty",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "iloveyou1234",
        "abcdefghijkl",
        "abc123abc123",
        "letmeinletmein",
        "welcome12345",
        "administrator",
        "adminadmin123",
        "changeme1234",
        "smartlocker123",
        "lockerlocker",
        "woaini1314520",
        "aa123456789012",
    }
)


@cache
def hasher() -> PasswordHash:
    return PasswordHash.recommended()


@cache
def decoy() -> str:
    return hasher().hash("a decoy nobody can sign in with")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from; an empty or malformed hash (an
    invitation not yet used, an unknown person: pass "") never matches, in the same time."""
    try:
        matches = hasher().verify(password, stored or decoy())
    except PwdlibError:
        return False
    return matches and bool(stored)


def weakness(password: str) -> str | None:
    """The text key saying why ``password`` is refused, or None if it is acceptable."""
    if len(password) < MIN_LENGTH:
        return "accounts.password_short"
    if len(password) > MAX_LENGTH:
        return "accounts.password_long"
    if password.lower() in COMMON or len(set(password)) < 4:
        return "accounts.password_common"
    return None
