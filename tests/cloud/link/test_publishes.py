"""``Splitter`` takes a broker's PUBLISHes out of any cut of its stream, decoded as paho decodes
them, and leaves every other packet, whole and in order, to paho (decision 0034)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes

from cloud.link.publishes import Publish, Splitter
from locker_contract.broker import properties
from tests.cloud.link.packets import PINGRESP, other, publish


def fed(splitter: Splitter, data: bytes, cuts: list[int]) -> tuple[list[Publish], bytes]:
    """``data`` fed in pieces cut at ``cuts``."""
    found: list[Publish] = []
    others = b""
    at = 0
    for cut in [*sorted(cuts), len(data)]:
        taken, rest = splitter.feed(data[at:cut])
        found += taken
        others += rest
        at = max(at, cut)
    return found, others


def test_publishes_are_taken_and_the_rest_is_left_whole_in_order() -> None:
    suback = other(9, b"\x00\x01\x00\x01")
    stream = (
        publish(b"banks/maple/events", b'{"seq": 1}', mid=1)
        + suback
        + publish(b"banks/birch/status", b'{"state": "online"}', qos=0, retain=True)
        + PINGRESP
    )
    found, others = Splitter(properties=True).feed(stream)
    assert found == [
        Publish(b"banks/maple/events", b'{"seq": 1}', 1, 1, False),
        Publish(b"banks/birch/status", b'{"state": "online"}', 0, 0, True),
    ]
    assert others == suback + PINGRESP


def test_a_packet_cut_anywhere_is_taken_once_all_of_it_is_here() -> None:
    one = publish(b"banks/maple/heartbeat", b"{}" * 100, mid=7)
    splitter = Splitter(properties=True)
    for at in range(len(one) - 1):
        assert splitter.feed(one[at : at + 1]) == ([], b"")
    assert splitter.feed(one[-1:]) == (
        [Publish(b"banks/maple/heartbeat", b"{}" * 100, 7, 1, False)],
        b"",
    )


@pytest.mark.parametrize(
    "odd",
    [
        publish(b"banks/maple/events", b"{}", mid=3, qos=2),  # QoS 2: paho has its rules
        publish(b"", b"{}", mid=3),  # an empty topic: a topic alias, which we never allow
        publish(b"banks/maple/events", b"{}", mid=0),  # QoS 1 without a packet identifier
        bytes([0x32, 0x01, 0x00]),  # shorter than its topic's length
        bytes([0x32, 0x04, 0x00, 0x09, 0x61, 0x62]),  # a topic longer than the packet
        bytes([0x32, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x05]),  # properties past its end
    ],
)
def test_a_publish_it_cannot_take_is_left_to_paho(odd: bytes) -> None:
    after = publish(b"banks/maple/events", b"{}", mid=4)
    found, others = Splitter(properties=True).feed(odd + after)
    assert others == odd
    assert [p.mid for p in found] == [4]  # and the stream goes on


def test_past_a_remaining_length_of_five_bytes_everything_is_left_to_paho() -> None:
    broken = bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"junk"
    after = publish(b"banks/maple/events", b"{}", mid=4)
    splitter = Splitter(properties=True)
    assert splitter.feed(broken + after) == ([], broken + after)
    assert splitter.feed(after) == ([], after)  # paho ends the connection; nothing is guessed


def test_over_mqtt_3_1_1_a_publish_has_no_properties() -> None:
    data = publish(b"banks/maple/events", b"\x00{}", mid=5, properties=None)
    found, _ = Splitter(properties=False).feed(data)
    assert found == [Publish(b"banks/maple/events", b"\x00{}", 5, 1, False)]


def packed(expiry: int | None, users: list[tuple[str, str]], content: str | None) -> bytes:
    """A properties block as paho packs it, without its length."""
    props = properties(PacketTypes.PUBLISH)
    if expiry is not None:
        props.MessageExpiryInterval = expiry
    if users:
        props.UserProperty = users
    if content is not None:
        props.ContentType = content
    block: bytes = props.pack()  # type: ignore[no-untyped-call]
    return block[len(_varint_prefix(block)) :]


def _varint_prefix(block: bytes) -> bytes:
    end = next(n for n, byte in enumerate(block) if not byte & 0x80)
    return block[: end + 1]


texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
packets = st.builds(
    lambda topic, payload, mid, qos, retain, props: publish(
        topic.encode(), payload, mid=mid, qos=qos, retain=retain, properties=props
    ),
    texts.filter(bool),
    st.binary(max_size=300),
    st.integers(1, 65_535),
    st.integers(0, 1),
    st.booleans(),
    st.builds(
        packed,
        st.none() | st.integers(0, 2**32 - 1),
        st.lists(st.tuples(texts, texts), max_size=2),
        st.none() | texts,
    ),
)


@given(
    stream=st.lists(
        st.one_of(packets, st.just(PINGRESP), st.just(other(4, b"\x00\x09"))), max_size=30
    ),
    cuts=st.lists(st.integers(0, 10_000), max_size=20),
)
def test_any_stream_cut_anywhere_is_read_as_paho_reads_it(
    stream: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(stream)
    found, others = fed(Splitter(properties=True), data, cuts)
    publishes = [packet for packet in stream if packet[0] >> 4 == 3]
    assert others == b"".join(packet for packet in stream if packet[0] >> 4 != 3)
    assert len(found) == len(publishes)
    for mine, packet in zip(found, publishes, strict=True):
        body = packet[len(_varint_prefix(packet[1:])) + 1 :]
        theirs = _packet.decode_publish(packet[0], body, MQTTProtocolVersion.MQTTv5)
        assert (mine.topic, mine.payload, mine.qos, mine.retain) == (
            theirs.topic, theirs.payload, theirs.qos, theirs.retain
        )  # fmt: skip
        assert mine.mid == (theirs.mid if theirs.qos else 0)
