"""Phone numbers as both sides compare them: one spelling per number, and the verifier a bank
checks a recipient's standing refusal with (decision 0018)."""

from __future__ import annotations

from locker_contract.credentials import pin_verifier


def normalize_phone(text: str) -> str:
    """One spelling per number: a leading ``+`` if given, then digits (``138-0013-8000`` and
    ``13800138000`` are one recipient)."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return f"+{digits}" if text.strip().startswith("+") else digits


def phone_verifier(phone: str, salt: str) -> str:
    """The normalised number stretched with scrypt under ``salt`` (the bank's): what travels
    and is stored instead of the number, slow to test guesses against."""
    return pin_verifier(normalize_phone(phone), salt)
