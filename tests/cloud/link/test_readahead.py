"""``ReadAhead`` hands out exactly the bytes the socket brought, in the sizes asked, and says how
many wait, so that a reader that goes on while any do never leaves a packet unread; ``Tapped``
does so with what is left once the PUBLISHes are taken out."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.link.publishes import Publish
from cloud.link.readahead import CHUNK, ReadAhead, Tapped
from tests.cloud.link import packets


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


def tapping(pair: tuple[socket.socket, socket.socket]) -> tuple[Tapped, list[Publish]]:
    """Our end of ``pair`` tapped (MQTT 5), and the PUBLISHes it hands over."""
    taken: list[Publish] = []
    return Tapped(pair[0], taken.append, mqtt5=True), taken


def test_tapped_hands_publishes_over_and_paho_the_rest(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    theirs = pair[1]
    tapped, taken = tapping(pair)
    one = packets.publish(b"banks/maple/events", b"{}", mid=1)
    theirs.sendall(one + one[:5])  # a publish, and the start of the next
    with pytest.raises(BlockingIOError):  # nothing for paho: as a socket with nothing to say
        tapped.recv(1)
    assert [p.mid for p in taken] == [1]
    theirs.sendall(one[5:] + packets.PINGRESP)
    assert tapped.recv(1) == packets.PINGRESP[:1]  # the ping's answer, read as paho reads
    assert [p.mid for p in taken] == [1, 1]
    assert tapped.pending() == 1
    assert tapped.recv(1) == packets.PINGRESP[1:]
    theirs.close()
    assert tapped.recv(1) == b""  # closed by the other end, as a socket says


def test_tapped_ends_the_connection_at_bytes_that_are_not_mqtt(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """paho takes a reset socket as a lost connection; the next one starts the stream afresh."""
    theirs = pair[1]
    tapped, taken = tapping(pair)
    theirs.sendall(packets.publish(b"banks/maple/events", b"{}", mid=1) + bytes([0x36, 0x00]))
    with pytest.raises(ConnectionResetError):
        tapped.recv(1)
    assert [p.mid for p in taken] == [1]  # what came before it was read


def test_a_message_the_worker_fails_on_is_said_and_the_reading_goes_on(
    pair: tuple[socket.socket, socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    ours, theirs = pair
    taken: list[int] = []

    def deliver(publish: Publish) -> None:
        if publish.mid == 1:
            raise RuntimeError("a bug")
        taken.append(publish.mid)

    tapped = Tapped(ours, deliver, mqtt5=True)
    one, two = (packets.publish(b"banks/maple/events", b"{}", mid=n) for n in (1, 2))
    theirs.sendall(one + two + packets.PINGRESP)
    with caplog.at_level(logging.ERROR, logger="cloud.link.readahead"):
        assert tapped.recv(2) == packets.PINGRESP
    assert taken == [2]
    assert [r.exc_info is not None for r in caplog.records] == [True]
