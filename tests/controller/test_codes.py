"""Pickup codes and PINs: random, keyed, compared in constant time, never stored in plain."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from controller import codes


def test_bank_key_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "bank.key"
    key = codes.load_or_create_key(path)
    assert len(key) == codes.KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert codes.load_or_create_key(path) == key
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="must be 32 bytes"):
        codes.load_or_create_key(path)


def test_codes_are_eight_digits_and_vary() -> None:
    drawn = {codes.new_code() for _ in range(200)}
    assert all(len(c) == 8 and c.isdigit() for c in drawn)
    assert len(drawn) > 190


def test_code_hash_is_keyed_and_ignores_grouping() -> None:
    key, other = b"k" * 32, b"o" * 32
    digest = codes.code_hash(key, "1234 5678")
    assert digest == codes.code_hash(key, "1234-5678")
    assert digest != codes.code_hash(other, "12345678")
    assert "12345678" not in digest
    assert codes.code_matches(key, "12345678", digest)
    assert not codes.code_matches(key, "12345679", digest)


def test_pin_hash_is_salted() -> None:
    key = b"k" * 32
    a, b = codes.new_salt(), codes.new_salt()
    assert codes.pin_hash(key, "2468", a) != codes.pin_hash(key, "2468", b)
    assert codes.pin_matches(key, "2468", a, codes.pin_hash(key, "2468", a))
    assert not codes.pin_matches(key, "2469", a, codes.pin_hash(key, "2468", a))


@pytest.mark.parametrize(
    ("phone", "shown"),
    [("+86 138 0013 8000", "*********8000"), ("13800138000", "*******8000"), ("12345", "******")],
)
def test_phone_numbers_hide_at_least_six_digits(phone: str, shown: str) -> None:
    masked = codes.mask_phone(phone)
    assert masked == shown
    assert masked.count("*") >= 6


def test_one_spelling_per_phone_number() -> None:
    assert codes.normalize_phone("138-0013-8000") == codes.normalize_phone("13800138000")
    assert codes.normalize_phone(" +86 138 0013 8000") == "+8613800138000"
