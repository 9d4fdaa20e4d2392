"""The checksums the supported families use. Shared with the simulator on purpose: it is the
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


CRC16_MODBUS_INIT = 0xFFFF
CRC16_MODBUS_POLY = 0xA001  # 0x8005 reflected, as the Modbus serial line guide computes it


def crc16_modbus(data: bytes | bytearray) -> int:
    """CRC-16/MODBUS of ``data`` (Modbus RTU boards and sensors); sent low byte first."""
    crc = CRC16_MODBUS_INIT
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ CRC16_MODBUS_POLY if crc & 1 else crc >> 1
    return crc
