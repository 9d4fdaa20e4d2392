"""Pickup codes sealed for the cloud's notifier: the one form in which a code leaves a bank.

A bank holds the notifier's public key only; it seals each new code into an anonymous public-key
box (libsodium's ``crypto_box_seal``: X25519, XSalsa20-Poly1305, an ephemeral sender key per box)
before anything is written, so neither its store, nor the broker, nor the cloud's database ever
holds a code in plain. Only the notifier, holding the private key, opens it. Keys and boxes travel
as standard base64 text. Decision 0011 says why.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

KEY_BYTES = 32
SEALED_OVERHEAD = 48  # ephemeral public key (32) + Poly1305 tag (16)
CODE_MAX = 16  # the kiosk's longest code
SEALED_MIN = 4 * -(-(SEALED_OVERHEAD + 1) // 3)  # a box around one character, in base64: 68
SEALED_MAX = 4 * -(-(SEALED_OVERHEAD + CODE_MAX) // 3)  # around the longest code: 88
SEALED_PATTERN = r"^[A-Za-z0-9+/]+={0,2}$"


class SealingError(Exception):
    """A key or a sealed code that cannot be used; the message says which and why."""


def new_key_pair() -> tuple[str, str]:
    """A fresh key pair as (public, private), each base64 text."""
    private = PrivateKey.generate()
    return _text(bytes(private.public_key)), _text(bytes(private))


def public_key(text: str) -> PublicKey:
    return PublicKey(_key_bytes(text, "public"))


def private_key(text: str) -> PrivateKey:
    return PrivateKey(_key_bytes(text, "private"))


def seal_code(key: PublicKey, code: str) -> str:
    """``code`` sealed for the holder of ``key``'s private half, as base64 text."""
    return _text(SealedBox(key).encrypt(code.encode("ascii")))


def open_code(key: PrivateKey, sealed: str) -> str:
    """The code inside ``sealed``; refused when it was not sealed for ``key``."""
    try:
        return SealedBox(key).decrypt(base64.b64decode(sealed, validate=True)).decode("ascii")
    except (binascii.Error, CryptoError, UnicodeDecodeError) as exc:
        raise SealingError("the sealed code does not open with this key") from exc


def read_private_key(path: Path) -> PrivateKey:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SealingError(f"cannot read the private key in {path}: {exc}") from None
    return private_key(text)


def write_private_key(path: Path, private: str) -> None:
    """Write ``private`` to a new file only its owner can read; never overwrite a key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise SealingError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(private + "\n")


def _key_bytes(text: str, which: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise SealingError(f"a {which} key is {KEY_BYTES} bytes in base64 (44 characters)")
    return raw


def _text(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
