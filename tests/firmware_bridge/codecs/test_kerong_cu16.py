"""Kerong KR-CU16 codec: published frames, framing edge cases and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.codecs import kerong_cu16 as cu16
from firmware_bridge.codecs.checksum import sum8
from firmware_bridge.codecs.kerong_cu16 import (
    Parser,
    Status,
    StatusAll,
    StatusReply,
    Unlock,
    encode,
    encode_reply,
)
from firmware_bridge.errors import InvalidRequest

PUBLISHED_REQUESTS = [
    (Unlock(0, 1), "02 00 31 03 36"),
    (Status(0), "02 00 30 03 35"),
    (StatusAll(), "02 F0 32 03 27"),
    (Unlock(1, 16), "02 1F 31 03 55"),
]


@pytest.mark.parametrize(("request_", "wire"), PUBLISHED_REQUESTS)
def test_published_requests_encode_byte_for_byte(request_: cu16.Request, wire: str) -> None:
    assert encode(request_) == bytes.fromhex(wire)


def test_published_all_clear_status_reply() -> None:
    [reply] = Parser(Status(0)).feed(bytes.fromhex("02 00 35 00 00 00 00 03 3A"))
    assert reply == StatusReply(0, locks=0, items=0)


def test_bitmaps_are_little_endian_with_bit_zero_for_lock_one() -> None:
    frame = bytes.fromhex("02 30 35 01 80 00 01 03")
    frame += bytes([sum8(frame)])
    [reply] = Parser(Status(3)).feed(frame)
    assert reply.board == 3
    assert reply.lock_bit(1)
    assert reply.lock_bit(16)
    assert not reply.lock_bit(2)
    assert reply.item_present(9)
    assert not reply.item_present(1)


def test_all_boards_reply_answers_status_all_only() -> None:
    frame = encode_reply(StatusReply(2, 0x0003, 0, all_boards=True))
    assert Parser(StatusAll()).feed(frame) == [StatusReply(2, 3, 0, all_boards=True)]
    parser = Parser(Status(2))
    assert parser.feed(frame) == []
    assert parser.stats.unexpected_frames == 1


def test_echo_of_the_request_is_not_a_reply() -> None:
    parser = Parser(Status(0))
    assert parser.feed(encode(Status(0))) == []
    assert parser.stats.unexpected_frames == 1


def test_unknown_command_and_bad_etx_are_bad_frames() -> None:
    parser = Parser(Status(0))
    assert parser.feed(bytes.fromhex("02 00 99 03 9E")) == []
    frame = bytearray(encode_reply(StatusReply(0, 0, 0)))
    frame[-2] = 0x04
    frame[-1] = sum8(bytes(frame[:-1]))
    assert parser.feed(bytes(frame)) == []
    assert parser.stats.bad_frames >= 2


def test_without_expectation_every_byte_is_noise_and_reset_counts() -> None:
    parser = Parser()
    assert parser.feed(encode_reply(StatusReply(0, 0, 0))) == []
    assert parser.stats.noise_bytes == 9
    parser.expect(Status(0))
    parser.feed(b"\x02\x00")
    assert not parser.awaiting_silence
    assert parser.reset() == 2
    parser.feed(b"\x02\x00\x35")
    assert parser.end_of_burst() == []
    assert parser.stats.noise_bytes == 14


@pytest.mark.parametrize(
    "make", [lambda: Status(16), lambda: Status(-1), lambda: Unlock(0, 0), lambda: Unlock(0, 17)]
)
def test_requests_outside_the_protocol_are_refused(make: object) -> None:
    with pytest.raises(InvalidRequest):
        make()  # type: ignore[operator]


# --- properties -----------------------------------------------------------------------------

words = st.integers(0, 0xFFFF)
replies = st.builds(StatusReply, st.integers(0, 15), words, words, st.booleans())
noise = st.binary(max_size=64).map(lambda b: bytes(x for x in b if x != cu16.STX))


def _awaits(reply: StatusReply) -> cu16.Request:
    return StatusAll() if reply.all_boards else Status(reply.board)


@given(replies, noise, st.integers(1, 9))
def test_round_trip_after_noise_free_of_headers(
    reply: StatusReply, junk: bytes, chunk: int
) -> None:
    parser = Parser(_awaits(reply))
    data = junk + encode_reply(reply)
    out: list[StatusReply] = []
    for i in range(0, len(data), chunk):
        out += parser.feed(data[i : i + chunk])
    assert out == [reply]


@given(replies, st.binary(max_size=256))
def test_random_bytes_never_raise_and_never_yield_a_bad_checksum(
    reply: StatusReply, data: bytes
) -> None:
    for parsed in Parser(_awaits(reply)).feed(data):
        wire = encode_reply(parsed)
        assert wire[-1] == sum8(wire[:-1])
        assert wire in data
