"""8A/80 codec: published frames, framing edge cases and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.codecs import xor8a
from firmware_bridge.codecs.checksum import xor_bcc
from firmware_bridge.codecs.xor8a import (
    LockReply,
    OpenAll,
    OpenLock,
    OpenReply,
    Parser,
    ReadAll,
    ReadLock,
    StatusReply,
    encode,
    encode_reply,
)
from firmware_bridge.errors import InvalidRequest

# Frames published by vendors and third-party drivers (see shared PROTOCOLS.md, family A).
PUBLISHED_REQUESTS = [
    (OpenLock(1, 1), "8A 01 01 11 9B"),
    (ReadAll(1), "80 01 00 33 B2"),
    (ReadLock(1, 1), "80 01 01 33 B3"),
    (OpenAll(1), "8A 01 00 11 9A"),
]


@pytest.mark.parametrize(("request_", "wire"), PUBLISHED_REQUESTS)
def test_published_requests_encode_byte_for_byte(request_: xor8a.Request, wire: str) -> None:
    assert encode(request_) == bytes.fromhex(wire)


def test_open_reply_feedback_clear_means_latch_released_on_default_wiring() -> None:
    parser = Parser(OpenLock(1, 1))
    assert parser.feed(bytes.fromhex("8A 01 01 00 8A")) == [OpenReply(1, 1, feedback_set=False)]
    assert parser.feed(bytes.fromhex("8A 01 01 11 9B")) == [OpenReply(1, 1, feedback_set=True)]


def test_eight_channel_board_answering_with_three_status_bytes() -> None:
    # Captured: an 8-channel board answered read-all with three status bytes.
    parser = Parser(ReadAll(1))
    assert parser.feed(bytes.fromhex("80 01 00 00 00 33 B2")) == []
    assert parser.awaiting_silence
    [reply] = parser.end_of_burst()
    assert isinstance(reply, StatusReply)
    assert reply == StatusReply(1, bytes(3))
    assert reply.channels == 24


def test_read_all_bit_order_lowest_group_in_last_byte() -> None:
    # Open-Locker's captured vector: body 80 02 05 03 33 -> channels 1-8 from 03, 9-16 from 05.
    frame = encode_reply(StatusReply(2, bytes([0x05, 0x03])))
    [reply] = Parser(ReadAll(2, status_bytes=2)).feed(frame)
    assert isinstance(reply, StatusReply)
    assert [reply.feedback(c) for c in (1, 2, 3, 4)] == [True, True, False, False]
    assert [reply.feedback(c) for c in (9, 10, 11, 12)] == [True, False, True, False]
    assert reply.feedback(17) is None
    assert reply.feedback(0) is None
    assert reply.feedback(1, lowest_group_first=True) is True
    assert reply.feedback(9, lowest_group_first=True) is True
    assert reply.feedback(10, lowest_group_first=True) is True


def test_android_driver_comment_lock_two_open() -> None:
    # "锁2开 80 01 00 00 02 33 B0": bit 1 of the last status byte.
    [reply] = Parser(ReadAll(1, status_bytes=3)).feed(bytes.fromhex("80 01 00 00 02 33 B0"))
    assert isinstance(reply, StatusReply)
    assert reply.feedback(2) is True
    assert reply.feedback(1) is False


def test_read_one_lock_reply() -> None:
    parser = Parser(ReadLock(3, 7))
    assert parser.feed(encode_reply(LockReply(3, 7, feedback_set=True))) == [LockReply(3, 7, True)]


def test_open_all_echo() -> None:
    parser = Parser(OpenAll(1))
    assert parser.feed(bytes.fromhex("8A 01 00 11 9A")) == [OpenReply(1, 0, feedback_set=True)]


@pytest.mark.parametrize(
    "make",
    [
        lambda: OpenLock(0, 1),
        lambda: OpenLock(32, 1),
        lambda: OpenLock(1, 0),
        lambda: ReadLock(1, 51),
        lambda: OpenAll(0),
        lambda: ReadAll(1, status_bytes=0),
        lambda: ReadAll(1, status_bytes=9),
    ],
)
def test_requests_outside_the_protocol_are_refused(make: object) -> None:
    with pytest.raises(InvalidRequest):
        make()  # type: ignore[operator]


def test_reply_from_another_lock_is_counted_not_returned() -> None:
    parser = Parser(OpenLock(1, 2))
    wrong = encode_reply(OpenReply(1, 3, feedback_set=False))
    right = encode_reply(OpenReply(1, 2, feedback_set=False))
    assert parser.feed(wrong + right) == [OpenReply(1, 2, False)]
    assert parser.stats.unexpected_frames == 1
    assert parser.stats.frames == 1


def test_status_reply_from_another_board_is_counted_not_returned() -> None:
    parser = Parser(ReadAll(1, status_bytes=1))
    assert parser.feed(encode_reply(StatusReply(2, b"\x01"))) == []
    assert parser.stats.unexpected_frames == 1


def test_bad_feedback_byte_is_a_bad_frame() -> None:
    parser = Parser(ReadLock(1, 1))
    body = bytes.fromhex("80 01 01 22")
    frame = body + bytes([0x80 ^ 0x01 ^ 0x01 ^ 0x22])
    assert parser.feed(frame) == []
    assert parser.stats.bad_frames == 1


def test_bad_checksum_resynchronises_on_the_next_header() -> None:
    parser = Parser(OpenLock(1, 1))
    assert parser.feed(bytes.fromhex("8A 01 01 11 00 8A 01 01 00 8A")) == [OpenReply(1, 1, False)]
    assert parser.stats.bad_frames == 1
    assert parser.stats.noise_bytes == 5


def test_status_without_marker_byte_is_bad_when_length_is_known() -> None:
    parser = Parser(ReadAll(1, status_bytes=1))
    frame = bytes([0x80, 0x01, 0x00, 0x34])
    assert parser.feed(frame + bytes([0x80 ^ 0x01 ^ 0x34])) == []
    assert parser.stats.bad_frames >= 1


def test_status_with_unknown_length_gives_up_past_the_longest_frame() -> None:
    parser = Parser(ReadAll(1))
    assert parser.feed(bytes([0x80]) + bytes(range(1, 13))) == []
    assert parser.stats.bad_frames >= 1
    assert not parser.awaiting_silence


def test_silence_with_no_candidate_discards_the_burst() -> None:
    parser = Parser(ReadAll(1))
    assert parser.feed(bytes.fromhex("80 01 02")) == []
    assert not parser.awaiting_silence
    assert parser.end_of_burst() == []
    assert parser.stats.noise_bytes == 3


def test_without_expectation_every_byte_is_noise() -> None:
    parser = Parser()
    assert parser.feed(encode(OpenLock(1, 1))) == []
    assert parser.stats.noise_bytes == 5
    assert not parser.awaiting_silence


def test_reset_counts_what_it_drops() -> None:
    parser = Parser(OpenLock(1, 1))
    parser.feed(bytes.fromhex("8A 01"))
    assert parser.reset() == 2
    parser.expect(ReadLock(1, 1))
    assert parser.feed(encode_reply(LockReply(1, 1, False))) == [LockReply(1, 1, False)]


# --- properties -----------------------------------------------------------------------------

boards = st.integers(xor8a.BOARD_MIN, xor8a.BOARD_MAX)
locks = st.integers(xor8a.LOCK_MIN, xor8a.LOCK_MAX)
status_bytes = st.binary(min_size=1, max_size=xor8a.MAX_STATUS_BYTES)
HEADERS = {xor8a.HEADER_OPEN, xor8a.HEADER_READ}
noise = st.binary(max_size=64).map(lambda b: bytes(x for x in b if x not in HEADERS))


@st.composite
def exchanges(draw: st.DrawFn) -> tuple[xor8a.Request, xor8a.Reply]:
    board = draw(boards)
    lock = draw(locks)
    fb = draw(st.booleans())
    status = draw(status_bytes)
    choices: list[tuple[xor8a.Request, xor8a.Reply]] = [
        (OpenLock(board, lock), OpenReply(board, lock, fb)),
        (OpenAll(board), OpenReply(board, 0, fb)),
        (ReadLock(board, lock), LockReply(board, lock, fb)),
        (ReadAll(board, len(status)), StatusReply(board, status)),
    ]
    return draw(st.sampled_from(choices))


def _parse_all(parser: Parser, data: bytes, chunk: int) -> list[xor8a.Reply]:
    out: list[xor8a.Reply] = []
    for i in range(0, len(data), chunk):
        out += parser.feed(data[i : i + chunk])
    return out + parser.end_of_burst()


@given(exchanges(), noise, st.integers(1, 8))
def test_round_trip_after_noise_free_of_headers(
    exchange: tuple[xor8a.Request, xor8a.Reply], junk: bytes, chunk: int
) -> None:
    request, reply = exchange
    parser = Parser(request)
    assert _parse_all(parser, junk + encode_reply(reply), chunk) == [reply]
    assert parser.stats.noise_bytes >= len(junk)


@given(boards, status_bytes, noise, st.integers(1, 8))
def test_read_all_of_unknown_length_recovers_after_noise(
    board: int, status: bytes, junk: bytes, chunk: int
) -> None:
    parser = Parser(ReadAll(board))
    assert _parse_all(parser, junk + encode_reply(StatusReply(board, status)), chunk) == [
        StatusReply(board, status)
    ]


@given(exchanges(), st.binary(max_size=256))
def test_random_bytes_never_raise_and_never_yield_a_bad_checksum(
    exchange: tuple[xor8a.Request, xor8a.Reply], data: bytes
) -> None:
    request, _ = exchange
    parser = Parser(request)
    for reply in parser.feed(data) + parser.end_of_burst():
        wire = encode_reply(reply)
        assert wire[-1] == xor_bcc(wire[:-1])
        assert wire in data
