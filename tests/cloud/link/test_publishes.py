"""``Splitter`` takes a broker's PUBLISHes out of any cut of its stream, decoded as paho decodes
them, and leaves every other packet, whole and in order, to paho (decision 0034); past bytes that
are not MQTT it splits no more."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes

from cloud.link.publishes import Publish, Split, Splitter
from locker_contract.broker import properties
from tests.cloud.link.packets import PINGRESP, other, publish


def fed(splitter: Splitter, data: bytes, cuts: list[int]) -> tuple[list[Publish], bytes]:
    """``data`` fed in pieces cut at ``cuts``."""
    found: list[Publish] = []
    others = b""
    at = 0
    for cut in [*sorted(cuts), len(data)]:
        split = splitter.feed(data[at:cut])
        assert split.malformed is None
        found += split.publishes
        others += split.others
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
    split = Splitter(properties=True).feed(stream)
    assert split.publishes == [
        Publish(b"banks/maple/events", b'{"seq": 1}', 1, 1, False),
        Publish(b"banks/birch/status", b'{"state": "online"}', 0, 0, True),
    ]
    assert split.others == suback + PINGRESP


def test_a_packet_cut_anywhere_is_taken_once_all_of_it_is_here() -> None:
    one = publish(b"banks/maple/heartbeat", b"{}" * 100, mid=7)
    splitter = Splitter(properties=True)
    for at in range(len(one) - 1):
        assert splitter.feed(one[at : at + 1]) == Split([], b"")
    taken = Publish(b"banks/maple/heartbeat", b"{}" * 100, 7, 1, False)
    assert splitter.feed(one[-1:]) == Split([taken], b"")


def test_a_large_packet_is_looked_at_once_all_of_it_is_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not joined and split again at every read: that is quadratic (a 32 MiB packet in 16 KiB
    reads took 22 s of CPU so)."""
    one = publish(b"banks/maple/events", bytes(8 * 1024 * 1024), mid=1)
    looks: list[int] = []
    split_as_before = Splitter._split

    def split(self: Splitter, buf: bytes, found: list[Publish], others: list[bytes]) -> int:
        looks.append(len(buf))
        return split_as_before(self, buf, found, others)

    monkeypatch.setattr(Splitter, "_split", split)
    splitter = Splitter(properties=True)
    taken: list[Publish] = []
    for at in range(0, len(one), 16_384):
        taken += splitter.feed(one[at : at + 16_384]).publishes
    assert [len(p.payload) for p in taken] == [8 * 1024 * 1024]
    assert looks == [16_384, len(one)]  # its first piece, then all of it, once


@pytest.mark.parametrize(
    "odd",
    [
        publish(b"banks/maple/events", b"{}", mid=3, qos=2),  # QoS 2: paho has its rules
        publish(b"", b"{}", mid=3),  # an empty topic: a topic alias, which we never allow
        publish(b"banks/maple/events", b"{}", mid=0),  # QoS 1 without a packet identifier
    ],
)
def test_a_publish_it_does_not_take_is_left_to_paho_and_the_stream_goes_on(odd: bytes) -> None:
    after = publish(b"banks/maple/events", b"{}", mid=4)
    split = Splitter(properties=True).feed(odd + after)
    assert split.others == odd
    assert [p.mid for p in split.publishes] == [4]
    assert split.malformed is None


@pytest.mark.parametrize(
    "broken",
    [
        bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"junk",  # a length of five bytes
        bytes([0x36, 0x03, 0x00, 0x01, 0x61]),  # QoS 3
        bytes([0x32, 0x01, 0x00]),  # no room for its topic's length
        bytes([0x32, 0x04, 0x00, 0x09, 0x61, 0x62]),  # a topic longer than the packet
        bytes([0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]),  # no properties length
        bytes([0x32, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x05]),  # properties past its end
    ],
)
def test_past_bytes_that_are_not_mqtt_nothing_more_is_split(broken: bytes) -> None:
    """What came before is kept; what comes after cannot be framed with any trust."""
    before, after = publish(b"banks/maple/events", b"{}", mid=1), publish(b"x/y", b"{}", mid=4)
    splitter = Splitter(properties=True)
    split = splitter.feed(before + PINGRESP + broken + after)
    assert [p.mid for p in split.publishes] == [1]
    assert split.others == PINGRESP
    assert split.malformed is not None
    assert splitter.feed(after) == Split([], b"", split.malformed)


def test_over_mqtt_3_1_1_a_publish_has_no_properties() -> None:
    data = publish(b"banks/maple/events", b"\x00{}", mid=5, properties=None)
    assert Splitter(properties=False).feed(data).publishes == [
        Publish(b"banks/maple/events", b"\x00{}", 5, 1, False)
    ]


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
