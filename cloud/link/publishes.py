"""The broker's PUBLISH packets, taken out of the worker's byte stream (sans-IO; decision 0034).

A QoS 1 subscription brings PUBLISH packets of QoS 0 and 1 (MQTT 5, 3.8.4). ``Splitter`` is fed
what the socket brings, in pieces of any size, and gives back the PUBLISHes it could decode, in
order, and the bytes of every other packet, whole and in order, for the MQTT client (paho) to
read as it always did: acknowledgements, SUBACK, PINGRESP, DISCONNECT.

Two kinds of PUBLISH it does not take:
- one whose framing holds but that this reader does not deal with (QoS 2, an empty topic, a QoS 1
  packet without an identifier) goes to the client as it is, and the splitting goes on;
- one whose fields run past its end, with no room for a topic length, or with QoS 3, is
  malformed, as is a remaining length past four bytes: the framing after it cannot be trusted.
  The splitter says so (``Split.malformed``) and splits no more; the connection is to be ended.
"""

from __future__ import annotations

from dataclasses import dataclass

PUBLISH = 3  # the packet type, the high nibble of the first byte
LENGTH_BYTES = 4  # a Variable Byte Integer's most (MQTT 5, 1.5.5)


@dataclass(frozen=True, slots=True)
class Publish:
    topic: bytes  # as it came: UTF-8 is the reader's to check
    payload: bytes
    mid: int  # 0 at QoS 0
    qos: int
    retain: bool


class Malformed(ValueError):
    """Bytes that are not the MQTT the broker should send: the stream is not to be split on."""


def _length(buf: bytes, at: int, end: int) -> tuple[int, int] | None:
    """A Variable Byte Integer at ``at``: its value and where it ends; None if not all here.
    Raises ``Malformed`` past four bytes."""
    value, shift = 0, 0
    while at < end:
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift >= 7 * LENGTH_BYTES:
            raise Malformed("a Variable Byte Integer of more than four bytes")
    return None


def _publish(header: int, buf: bytes, at: int, stop: int, properties: bool) -> Publish | None:
    """The PUBLISH in ``buf[at:stop]`` (its variable header and payload), or None if it is one
    the client is to deal with. Raises ``Malformed``."""
    qos = (header >> 1) & 0x03
    if qos == 3 or stop - at < 2:
        raise Malformed("a PUBLISH of QoS 3 or without room for its topic")
    size = int.from_bytes(buf[at : at + 2], "big")
    topic = buf[at + 2 : at + 2 + size]
    at += 2 + size + (2 if qos else 0)
    mid = int.from_bytes(buf[at - 2 : at], "big") if qos else 0
    if properties and at <= stop:  # skipped: a subscriber of ours is sent none it acts on
        found = _length(buf, at, stop)
        at = stop + 1 if found is None else found[1] + found[0]
    if at > stop:
        raise Malformed("a PUBLISH whose fields run past its end")
    if qos == 2 or not topic or (qos and not mid):
        return None
    return Publish(topic, buf[at:stop], mid, qos, bool(header & 0x01))


@dataclass(frozen=True, slots=True)
class Split:
    """What a piece of the stream completed: PUBLISHes, and the other packets' bytes. Once
    ``malformed``, nothing more: what came before it is here, nothing after."""

    publishes: list[Publish]
    others: bytes
    malformed: Malformed | None = None


class Splitter:
    """A connection's incoming stream, split into PUBLISHes and everything else."""

    def __init__(self, *, properties: bool) -> None:
        self._properties = properties  # MQTT 5: a PUBLISH carries a properties block
        self._rest: list[bytes] = []  # the start of a packet not all here yet, as read
        self._held = 0  # bytes in ``_rest``
        self._needed = 0  # bytes the packet in ``_rest`` needs before it is worth a look
        self._malformed: Malformed | None = None

    def feed(self, data: bytes) -> Split:
        """What ``data``, the stream's next bytes, completes."""
        if self._malformed is not None:
            return Split([], b"", self._malformed)
        if self._rest:  # joined once, when the packet is all here: a large one costs no more
            self._rest.append(data)
            self._held += len(data)
            if self._held < self._needed:
                return Split([], b"")
            data, self._rest, self._held = b"".join(self._rest), [], 0
        found: list[Publish] = []
        others: list[bytes] = []
        try:
            at = self._split(data, found, others)
        except Malformed as exc:
            self._malformed = exc
            return Split(found, b"".join(others), exc)
        if at < len(data):
            self._keep(data[at:])
        return Split(found, b"".join(others))

    def _split(self, buf: bytes, found: list[Publish], others: list[bytes]) -> int:
        """Whole packets of ``buf`` into ``found`` and ``others``; where the rest starts.
        Raises ``Malformed``, what came before it kept."""
        at, end = 0, len(buf)
        while at < end:
            length = _length(buf, at + 1, end)
            if length is None or length[1] + length[0] > end:
                return at
            start, stop = length[1], length[1] + length[0]
            header = buf[at]
            publish = None
            if header >> 4 == PUBLISH:
                publish = _publish(header, buf, start, stop, self._properties)
            if publish is None:
                others.append(buf[at:stop])
            else:
                found.append(publish)
            at = stop
        return at

    def _keep(self, start: bytes) -> None:
        """Hold the start of a packet until the bytes it needs are here (``_split`` has read
        what is here of its remaining length)."""
        self._rest, self._held = [start], len(start)
        length = _length(start, 1, len(start))
        self._needed = len(start) + 1 if length is None else length[1] + length[0]
