"""Settings refuse secret keys that are short, placeholders or not random-looking, and say how
to make a good one."""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError

from cloud.core.config import Settings

WEAK = [
    "1234567890" * 4,  # the one found in the wild
    "12345678901234567890123456789012",
    "abcdefghijklmnopqrstuvwxyzabcdefgh",  # a run
    "0123456789abcdef0123456789abcdef",  # a pattern, repeated
    "ab12" * 10,  # few distinct characters
    "1234567890qwertyuiop1234567890asdf",  # a stretch that comes back
    "11223344556677889900aabbccddeeff",  # neighbours one apart
    "Aa1!" * 9,
]


@pytest.mark.parametrize("weak", WEAK)
def test_low_entropy_secret_keys_are_refused_with_a_hint(weak: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(secret_key=weak)
    assert "openssl rand -hex 32" in str(refused.value)


@pytest.mark.parametrize("make", [secrets.token_hex, secrets.token_urlsafe])
def test_random_secret_keys_are_accepted(make: object) -> None:
    assert callable(make)
    for _ in range(200):
        key = make(32)
        assert Settings(secret_key=key).secret_key == key


def test_the_retention_of_personal_data_is_a_setting() -> None:
    settings = Settings(secret_key=secrets.token_hex(32), personal_data_retention_days=7)
    assert settings.personal_data_retention_days == 7
    with pytest.raises(ValidationError):
        Settings(secret_key=secrets.token_hex(32), personal_data_retention_days=0)
