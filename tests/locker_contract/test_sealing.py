"""Sealed pickup codes: only the notifier's private key opens them, and the contract carries
nothing else where a code travels."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from locker_contract import sealing
from locker_contract.events import ParcelDeposited

PUBLIC, PRIVATE = sealing.new_key_pair()


def deposited(sealed: str | None) -> ParcelDeposited:
    return ParcelDeposited(
        parcel_id=uuid.uuid4(), waybill="SF1", carrier="sf", courier_id="c-1", compartment="A03",
        recipient_phone="13800138000", group_id=uuid.uuid4(), sealed_code=sealed,
        consent="phone_call", flagged_for_review=False,
    )  # fmt: skip


@pytest.mark.parametrize("code", ["1", "12345678", "1234567890123456"])
def test_a_sealed_code_opens_with_the_private_key_only(code: str) -> None:
    sealed = sealing.seal_code(sealing.public_key(PUBLIC), code)
    assert len(code) < 8 or code not in sealed
    assert sealing.open_code(sealing.private_key(PRIVATE), sealed) == code
    assert deposited(sealed).sealed_code == sealed  # every code length fits the contract
    _, other = sealing.new_key_pair()
    with pytest.raises(sealing.SealingError, match="does not open"):
        sealing.open_code(sealing.private_key(other), sealed)


def test_each_sealing_differs_so_equal_codes_are_not_linkable() -> None:
    key = sealing.public_key(PUBLIC)
    assert sealing.seal_code(key, "12345678") != sealing.seal_code(key, "12345678")


@pytest.mark.parametrize("sealed", ["12345678", "not base64 at all!" * 5, "A" * 200])
def test_the_contract_refuses_what_is_not_a_sealed_box(sealed: str) -> None:
    with pytest.raises(ValidationError, match="sealed_code"):
        deposited(sealed)


def test_a_tampered_box_is_refused() -> None:
    sealed = sealing.seal_code(sealing.public_key(PUBLIC), "12345678")
    flipped = ("B" if sealed[10] == "A" else "A").join((sealed[:10], sealed[11:]))
    with pytest.raises(sealing.SealingError):
        sealing.open_code(sealing.private_key(PRIVATE), flipped)
    with pytest.raises(sealing.SealingError):
        sealing.open_code(sealing.private_key(PRIVATE), "%%%")


@pytest.mark.parametrize("text", ["", "abc", "A" * 40 + "====", "A" * 64])
def test_a_key_must_be_32_bytes_of_base64(text: str) -> None:
    with pytest.raises(sealing.SealingError, match="32 bytes"):
        sealing.public_key(text)


def test_the_private_key_file_is_new_and_only_its_owner_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "notify.key"
    sealing.write_private_key(path, PRIVATE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = sealing.seal_code(sealing.public_key(PUBLIC), "87654321")
    assert sealing.open_code(sealing.read_private_key(path), sealed) == "87654321"
    with pytest.raises(sealing.SealingError, match="cannot create"):
        sealing.write_private_key(path, sealing.new_key_pair()[1])  # never overwritten
    assert sealing.open_code(sealing.read_private_key(path), sealed) == "87654321"
    with pytest.raises(sealing.SealingError, match="cannot read"):
        sealing.read_private_key(tmp_path / "missing.key")
