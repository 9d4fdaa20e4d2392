"""Modbus RTU: read holding (03) and input (04) registers, for sensors on an RS-485 bus.

Wire format (CRC is CRC-16/MODBUS of every byte before it, sent low byte first)::

    read registers   AA FC SH SL CH CL CRC CRC          FC = 03 or 04, start S, count C
    reply            AA FC NN R1H R1L .. RnH RnL CRC CRC    NN = 2 x count
    exception        AA FC|80 EC CRC CRC                EC = exception code

An RTU frame carries no length and no start marker: the Modbus serial line guide delimits frames
by 3.5 character times of silence. As with 8A/80 replies (decision 0002), the parser is told which
request it awaits instead: that fixes the reply's address, function and length, so a reply
completes on its last byte, with no silence wait, and anything else is noise. It hunts for the
awaited address, checks the function, byte count and CRC, and resynchronises one byte further on
any failure. Why this is written here rather than taken from pymodbus: decision 0025.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import assert_never

from firmware_bridge.codecs.checksum import crc16_modbus
from firmware_bridge.codecs.stream import SelfDelimitingParser
from firmware_bridge.errors import InvalidRequest

DEFAULT_BAUD = 9600

READ_HOLDING = 0x03
READ_INPUT = 0x04
FUNCTIONS = (READ_HOLDING, READ_INPUT)
EXCEPTION_FLAG = 0x80

ADDRESS_MIN = 1
ADDRESS_MAX = 247  # 0 is broadcast (never answered), 248-255 are reserved
REGISTER_MAX = 0xFFFF
COUNT_MIN = 1
COUNT_MAX = 125  # the guide's limit for one read: 250 data bytes in a 256-byte frame

REQUEST_LEN = 8
EXCEPTION_LEN = 5
_HEAD_LEN = 3  # address, function, byte count (or exception code)
_CRC_LEN = 2


class ExceptionCode(IntEnum):
    """The exception codes a device may answer with (Modbus application protocol, section 7)."""

    ILLEGAL_FUNCTION = 0x01
    ILLEGAL_DATA_ADDRESS = 0x02
    ILLEGAL_DATA_VALUE = 0x03
    SERVER_DEVICE_FAILURE = 0x04
    ACKNOWLEDGE = 0x05
    SERVER_DEVICE_BUSY = 0x06
    MEMORY_PARITY_ERROR = 0x08
    GATEWAY_PATH_UNAVAILABLE = 0x0A
    GATEWAY_TARGET_FAILED = 0x0B


def exception_name(code: int) -> str:
    """``illegal-data-address`` for 2; ``code-0x2a`` for a code the protocol does not define."""
    try:
        return ExceptionCode(code).name.lower().replace("_", "-")
    except ValueError:
        return f"code-{code:#04x}"


def _check_address(address: int) -> None:
    if not ADDRESS_MIN <= address <= ADDRESS_MAX:
        raise InvalidRequest(f"Modbus address must be {ADDRESS_MIN}-{ADDRESS_MAX}, got {address}")


def _check_function(function: int) -> None:
    if function not in FUNCTIONS:
        raise InvalidRequest(f"Modbus read function must be 03 or 04, got {function:#04x}")


@dataclass(frozen=True, slots=True)
class ReadRegisters:
    """Read ``count`` 16-bit registers from ``start`` with function 03 (holding) or 04 (input)."""

    address: int
    function: int
    start: int
    count: int = 1

    def __post_init__(self) -> None:
        _check_address(self.address)
        _check_function(self.function)
        if not COUNT_MIN <= self.count <= COUNT_MAX:
            raise InvalidRequest(f"Modbus register count must be 1-{COUNT_MAX}, got {self.count}")
        if self.start < 0 or self.start + self.count - 1 > REGISTER_MAX:
            raise InvalidRequest(f"Modbus registers {self.start}+{self.count} out of 0-65535")

    @property
    def reply_len(self) -> int:
        """Bytes in the normal reply: head, two per register, CRC."""
        return _HEAD_LEN + 2 * self.count + _CRC_LEN


Request = ReadRegisters


@dataclass(frozen=True, slots=True)
class RegistersReply:
    """The registers a device returned, as unsigned 16-bit words, first register first."""

    address: int
    function: int
    registers: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_address(self.address)
        _check_function(self.function)
        if not COUNT_MIN <= len(self.registers) <= COUNT_MAX:
            raise InvalidRequest(f"Modbus reply must carry 1-{COUNT_MAX} registers")
        if any(not 0 <= word <= 0xFFFF for word in self.registers):
            raise InvalidRequest("Modbus registers are 16-bit words")


@dataclass(frozen=True, slots=True)
class ExceptionReply:
    """The device refused the request: ``code`` says why (see ``ExceptionCode``)."""

    address: int
    function: int
    code: int

    def __post_init__(self) -> None:
        _check_address(self.address)
        _check_function(self.function)
        if not 0 <= self.code <= 0xFF:
            raise InvalidRequest(f"Modbus exception code is one byte, got {self.code}")


Reply = RegistersReply | ExceptionReply


def _with_crc(body: bytes) -> bytes:
    return body + crc16_modbus(body).to_bytes(_CRC_LEN, "little")


def encode(request: Request) -> bytes:
    """The bytes that carry ``request`` on the wire."""
    head = bytes([request.address, request.function])
    return _with_crc(head + request.start.to_bytes(2, "big") + request.count.to_bytes(2, "big"))


def encode_reply(reply: Reply) -> bytes:
    """The bytes a device sends for ``reply`` (for tests and tools; the twin has its own)."""
    match reply:
        case RegistersReply(address, function, registers):
            data = b"".join(word.to_bytes(2, "big") for word in registers)
            return _with_crc(bytes([address, function, len(data)]) + data)
        case ExceptionReply(address, function, code):
            return _with_crc(bytes([address, function | EXCEPTION_FLAG, code]))
        case _:
            assert_never(reply)


def _decode(expect: Request, frame: bytes) -> Reply:
    """A CRC-valid frame whose head matched ``expect``, as a reply."""
    if frame[1] & EXCEPTION_FLAG:
        return ExceptionReply(expect.address, expect.function, frame[2])
    data = frame[_HEAD_LEN:-_CRC_LEN]
    words = tuple(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    return RegistersReply(expect.address, expect.function, words)


class Parser(SelfDelimitingParser[Request, Reply]):
    """Streaming parser for Modbus RTU replies to register reads; never raises on line noise."""

    def _frame_len(self, expect: Request) -> int | None:
        """Length of the reply at the buffer's head: None = wait for more bytes, 0 = the awaited
        address and function with a wrong byte count (a bad frame), -1 = not a reply's head."""
        buf = self._buf
        if len(buf) < _HEAD_LEN:
            return None
        if buf[1] == expect.function | EXCEPTION_FLAG:
            return EXCEPTION_LEN
        if buf[1] != expect.function:
            return -1
        return expect.reply_len if buf[2] == 2 * expect.count else 0

    def _next(self) -> Reply | None:
        while True:
            expect = self._expect
            index = -1 if expect is None else self._buf.find(expect.address)
            self._drop(len(self._buf) if expect is None or index < 0 else index)
            if expect is None or (length := self._frame_len(expect)) is None:
                return None
            if length < 0:
                self._drop(1)
                continue
            frame = bytes(self._buf[:length])
            if length and len(frame) < length:
                return None
            if not length or crc16_modbus(frame[:-_CRC_LEN]) != int.from_bytes(
                frame[-_CRC_LEN:], "little"
            ):
                self.stats.bad_frames += 1
                self._drop(1)
                continue
            del self._buf[:length]
            self.stats.frames += 1
            return _decode(expect, frame)
