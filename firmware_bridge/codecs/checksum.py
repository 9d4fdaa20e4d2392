"""The two checksums the supported families use. Shared with the simulator on purpose: it is the
only piece of protocol code the simulator reuses, so a framing bug cannot be mirrored silently."""

from __future__ import annotations

from functools import reduce
from operator import xor


def xor_bcc(data: bytes | bytearray) -> int:
    """Block check character: XOR of every byte (8A/80 boards)."""
    return reduce(xor, data, 0)


def sum8(data: bytes | bytearray) -> int:
    """Low byte of the arithmetic sum of every byte (Kerong boards)."""
    return sum(data) & 0xFF
