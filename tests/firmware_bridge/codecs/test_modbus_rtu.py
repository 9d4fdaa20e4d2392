"""Modbus RTU codec: published frames and CRC vectors, framing edge cases and properties.

Sources of the vectors:
- CRC-16/MODBUS check value of the ASCII string ``123456789``: 0x4B37 (the CRC catalogue's entry
  for CRC-16/MODBUS, reveng; also quoted by many Modbus test suites).
- ``01 03 00 00 00 0A C5 CD``: read 10 holding registers from 0 at device 1, the example frame
  most Modbus tools and test suites publish (with ``02 .. C5 FE`` and ``03 .. C4 2F`` for devices
  2 and 3 in a published probing script).
- ``01 04 00 01 00 01 60 0A`` / ``01 04 02 01 31 79 74``: the XY-MD02 (SHT20) manual's "read
  temperature" command and reply, 0x0131 = 30.5 C, as reproduced on vendors' product pages.
- ``01 83 02 C0 F1``: an exception reply, illegal data address, to a function 03 read, as given
  in Modbus tools' documentation and tests.
- ``01 03 00 00 00 02 C4 0B`` / ``01 03 04 00 0A 00 14 DA 3E``: a two-register read and its reply
  {10, 20}, from a published Modbus master's documented examples.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.codecs import modbus_rtu as rtu
from firmware_bridge.codecs.checksum import crc16_modbus
from firmware_bridge.codecs.modbus_rtu import (
    ExceptionReply,
    Parser,
    ReadRegisters,
    RegistersReply,
    encode,
    encode_reply,
)
from firmware_bridge.errors import InvalidRequest

HOLDING, INPUT = rtu.READ_HOLDING, rtu.READ_INPUT


def wire(text: str) -> bytes:
    return bytes.fromhex(text)


def test_crc_catalogue_check_value() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37


@pytest.mark.parametrize(
    ("request_", "frame"),
    [
        (ReadRegisters(1, HOLDING, 0, 10), "01 03 00 00 00 0A C5 CD"),
        (ReadRegisters(2, HOLDING, 0, 10), "02 03 00 00 00 0A C5 FE"),
        (ReadRegisters(3, HOLDING, 0, 10), "03 03 00 00 00 0A C4 2F"),
        (ReadRegisters(1, INPUT, 1, 1), "01 04 00 01 00 01 60 0A"),
        (ReadRegisters(1, HOLDING, 0, 2), "01 03 00 00 00 02 C4 0B"),
    ],
)
def test_published_requests_encode_byte_for_byte(request_: ReadRegisters, frame: str) -> None:
    assert encode(request_) == wire(frame)


def test_published_sht20_temperature_reply() -> None:
    [reply] = Parser(ReadRegisters(1, INPUT, 1, 1)).feed(wire("01 04 02 01 31 79 74"))
    assert reply == RegistersReply(1, INPUT, (0x0131,))


def test_published_two_register_reply() -> None:
    [reply] = Parser(ReadRegisters(1, HOLDING, 0, 2)).feed(wire("01 03 04 00 0A 00 14 DA 3E"))
    assert reply == RegistersReply(1, HOLDING, (10, 20))


def test_published_exception_reply() -> None:
    [reply] = Parser(ReadRegisters(1, HOLDING, 0x17, 1)).feed(wire("01 83 02 C0 F1"))
    assert reply == ExceptionReply(1, HOLDING, rtu.ExceptionCode.ILLEGAL_DATA_ADDRESS)
    assert encode_reply(reply) == wire("01 83 02 C0 F1")


def test_exception_names() -> None:
    assert rtu.exception_name(2) == "illegal-data-address"
    assert rtu.exception_name(0x2A) == "code-0x2a"


def test_a_reply_split_into_single_bytes_completes_on_its_last() -> None:
    parser = Parser(ReadRegisters(1, INPUT, 1, 1))
    frame = wire("01 04 02 01 31 79 74")
    assert [parser.feed(frame[i : i + 1]) for i in range(len(frame) - 1)] == [[]] * 6
    assert parser.feed(frame[-1:]) == [RegistersReply(1, INPUT, (0x0131,))]
    assert parser.stats.frames == 1
    assert parser.stats.noise_bytes == 0


def test_noise_before_the_reply_is_counted_and_skipped() -> None:
    parser = Parser(ReadRegisters(1, INPUT, 1, 1))
    [reply] = parser.feed(wire("FF 00 01 99") + wire("01 04 02 01 31 79 74"))
    assert reply == RegistersReply(1, INPUT, (0x0131,))
    assert parser.stats.noise_bytes == 4  # 01 99 starts like a frame but has the wrong function
    assert parser.stats.bad_frames == 0


def test_a_bad_crc_is_never_a_reply() -> None:
    parser = Parser(ReadRegisters(1, INPUT, 1, 1))
    assert parser.feed(wire("01 04 02 01 31 79 75")) == []
    assert parser.stats.bad_frames == 1
    assert parser.stats.frames == 0


def test_a_wrong_byte_count_is_not_a_reply() -> None:
    parser = Parser(ReadRegisters(1, INPUT, 1, 2))
    good_for_one = wire("01 04 02 01 31 79 74")
    assert parser.feed(good_for_one) == []
    assert parser.stats.bad_frames == 1


def test_another_devices_reply_is_noise() -> None:
    other = encode_reply(RegistersReply(2, INPUT, (5,)))
    parser = Parser(ReadRegisters(1, INPUT, 1, 1))
    assert parser.feed(other) == []
    assert parser.stats.frames == 0


def test_nothing_is_a_reply_when_nothing_is_awaited() -> None:
    parser = Parser()
    assert parser.feed(wire("01 04 02 01 31 79 74")) == []
    assert parser.stats.noise_bytes == 7


def test_reset_and_end_of_burst_drop_a_partial_frame() -> None:
    parser = Parser(ReadRegisters(1, INPUT, 1, 1))
    parser.feed(wire("01 04 02"))
    assert not parser.awaiting_silence
    assert parser.end_of_burst() == []
    assert parser.stats.noise_bytes == 3
    parser.feed(wire("01 04"))
    assert parser.reset() == 2
    parser.expect(None)
    assert parser.feed(wire("01")) == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: ReadRegisters(0, HOLDING, 0),
        lambda: ReadRegisters(248, HOLDING, 0),
        lambda: ReadRegisters(1, 0x06, 0),
        lambda: ReadRegisters(1, HOLDING, 0, 0),
        lambda: ReadRegisters(1, HOLDING, 0, 126),
        lambda: ReadRegisters(1, HOLDING, -1),
        lambda: ReadRegisters(1, HOLDING, 0xFFFF, 2),
        lambda: RegistersReply(1, HOLDING, ()),
        lambda: RegistersReply(1, HOLDING, (0x10000,)),
        lambda: ExceptionReply(1, HOLDING, 256),
    ],
)
def test_requests_and_replies_the_protocol_cannot_say_are_refused(
    make: Callable[[], object],
) -> None:
    with pytest.raises(InvalidRequest):
        make()


def test_reply_length_is_head_words_and_crc() -> None:
    assert ReadRegisters(1, INPUT, 1, 2).reply_len == 9
    assert ReadRegisters(1, INPUT, 0, rtu.COUNT_MAX).reply_len == 255


requests = st.builds(
    ReadRegisters,
    address=st.integers(rtu.ADDRESS_MIN, rtu.ADDRESS_MAX),
    function=st.sampled_from(rtu.FUNCTIONS),
    start=st.integers(0, 0xFF00),
    count=st.integers(1, 16),
)


@st.composite
def exchanges(draw: st.DrawFn) -> tuple[ReadRegisters, rtu.Reply]:
    request = draw(requests)
    if draw(st.booleans()):
        code = draw(st.integers(0, 255))
        return request, ExceptionReply(request.address, request.function, code)
    words = draw(st.lists(st.integers(0, 0xFFFF), min_size=request.count, max_size=request.count))
    return request, RegistersReply(request.address, request.function, tuple(words))


@given(exchanges(), st.binary(max_size=12), st.integers(1, 9))
def test_round_trip_through_noise_and_any_split(
    exchange: tuple[ReadRegisters, rtu.Reply], junk: bytes, step: int
) -> None:
    request, reply = exchange
    parser = Parser(request)
    stream = junk + encode_reply(reply)
    found = []
    for i in range(0, len(stream), step):
        found += parser.feed(stream[i : i + step])
    assert reply in found


@given(requests, st.binary(max_size=64))
def test_noise_never_raises_and_every_byte_is_accounted(
    request_: ReadRegisters, data: bytes
) -> None:
    parser = Parser(request_)
    replies = parser.feed(data)
    parser.end_of_burst()
    stats = parser.stats
    framed = sum(len(encode_reply(r)) for r in replies)
    assert stats.noise_bytes + framed == len(data)


@given(requests)
def test_encoded_requests_carry_their_crc_low_byte_first(request_: ReadRegisters) -> None:
    frame = encode(request_)
    assert len(frame) == rtu.REQUEST_LEN
    assert int.from_bytes(frame[-2:], "little") == crc16_modbus(frame[:-2])
