"""Device-side framing and the boards' answers, checked against published frames."""

from __future__ import annotations

from hil_sim.boards import KerongBoard, Xor8aBoard
from hil_sim.framing import RequestFramer


def test_framer_drops_garbage_and_bad_checksums() -> None:
    framer = RequestFramer("xor8a")
    data = bytes.fromhex("00 FF 8A 01 01 11 00 8A 01 01 11 9B")
    [command] = framer.feed(data)
    assert command.raw == bytes.fromhex("8A 01 01 11 9B")
    assert framer.rejected_bytes == 7


def test_8a_board_answers_published_frames() -> None:
    board = Xor8aBoard(1, channels=8, status_bytes=3, close_after=None)
    [read_all] = RequestFramer("xor8a").feed(bytes.fromhex("80 01 00 33 B2"))
    assert board.handle(read_all, 0.0) == (0.003, bytes.fromhex("80 01 00 00 FF 33 4D"))
    [open_one] = RequestFramer("xor8a").feed(bytes.fromhex("8A 01 01 11 9B"))
    assert board.handle(open_one, 0.0) == (0.02, bytes.fromhex("8A 01 01 00 8A"))


def test_8a_board_ignores_other_addresses_and_missing_locks() -> None:
    board = Xor8aBoard(1, channels=8)
    framer = RequestFramer("xor8a")
    for frame in ("8A 02 01 11 98", "8A 01 09 11 93", "8A 01 01 33 B9"):
        [command] = framer.feed(bytes.fromhex(frame))
        assert board.handle(command, 0.0) is None


def test_8a_open_all_pulses_every_lock_and_echoes() -> None:
    board = Xor8aBoard(1, channels=4, close_after=None)
    [command] = RequestFramer("xor8a").feed(bytes.fromhex("8A 01 00 11 9A"))
    assert board.handle(command, 0.0) == (0.04, bytes.fromhex("8A 01 00 11 9A"))
    assert not any(board.feedback(n, 1.0) for n in range(1, 5))


def test_kerong_board_answers_published_frames() -> None:
    board = KerongBoard(0, close_after=None)
    framer = RequestFramer("kerong-cu16")
    [status] = framer.feed(bytes.fromhex("02 00 30 03 35"))
    reply = board.handle(status, 0.0)
    assert reply == (0.003, bytes.fromhex("02 00 35 FF FF 00 00 03 38"))
    [unlock] = framer.feed(bytes.fromhex("02 00 31 03 36"))
    assert board.handle(unlock, 0.0) is None
    board.doors[1].advance(0.0)
    assert not board.doors[1].latch_closed
    [everyone] = framer.feed(bytes.fromhex("02 F0 32 03 27"))
    answer = board.handle(everyone, 1.0)
    assert answer is not None
    assert answer[1][2] == 0x36


def test_kerong_board_can_answer_an_unlock_with_its_status() -> None:
    board = KerongBoard(1, reply_to_unlock=True)
    [unlock] = RequestFramer("kerong-cu16").feed(bytes.fromhex("02 10 31 03 46"))
    answer = board.handle(unlock, 0.0)
    assert answer is not None
    assert answer[1][:3] == bytes.fromhex("02 10 35")
