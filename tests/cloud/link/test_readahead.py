"""``ReadAhead`` hands out exactly the bytes the socket brought, in the sizes asked, and says how
many wait, so that a reader that goes on while any do never leaves a packet unread."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.link.readahead import CHUNK, ReadAhead


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    yield ours, theirs
    ours.close()
    theirs.close()


def test_small_reads_come_from_one_read_of_the_kernel(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    theirs.sendall(b"\x30\x05hello\x30\x02hi")
    ahead = ReadAhead(ours)
    assert ahead.recv(1) == b"\x30"
    assert ahead.pending() == 10  # the rest is here, not in the kernel: read on
    assert ahead.recv(1) == b"\x05"
    assert ahead.recv(5) == b"hello"
    assert ahead.recv(1) == b"\x30"
    assert ahead.recv(100) == b"\x02hi"  # no more than there is
    assert ahead.pending() == 0
    with pytest.raises(BlockingIOError):  # nothing here nor in the kernel, as a socket says
        ahead.recv(1)
    theirs.sendall(b"more")
    assert ahead.recv(4) == b"more"
    theirs.close()
    assert ahead.recv(1) == b""  # closed by the other end, as a socket says


def test_everything_else_is_the_sockets_own(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    ahead = ReadAhead(ours)
    assert ahead.fileno() == ours.fileno()
    assert ahead.send(b"out") == 3
    assert theirs.recv(3) == b"out"


@given(
    data=st.binary(min_size=1, max_size=3 * CHUNK // 16),
    sizes=st.lists(st.integers(min_value=1, max_value=2_000), min_size=1, max_size=200),
)
def test_any_reads_give_back_the_stream_in_order(data: bytes, sizes: list[int]) -> None:
    ours, theirs = socket.socketpair()
    try:
        ours.setblocking(False)
        theirs.sendall(data)
        ahead, got, turn = ReadAhead(ours), bytearray(), 0
        while len(got) < len(data):
            size = sizes[turn % len(sizes)]
            piece = ahead.recv(size)
            assert 0 < len(piece) <= size
            got += piece
            turn += 1
        assert bytes(got) == data
        assert ahead.pending() == 0
    finally:
        ours.close()
        theirs.close()
