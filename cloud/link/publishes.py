"""The broker's PUBLISH packets, taken out of the worker's byte stream (sans-IO; decision 0034).

A QoS 1 subscription brings PUBLISH packets of QoS 0 and 1 (MQTT 5, 3.3; 3.1.1, 3.3). ``Splitter``
is fed what the socket brings, in pieces of any size, and gives back the PUBLISHes it could
decode, in order, and the bytes of every other packet, whole and in order, for the MQTT client
(paho) to read as it always did: acknowledgements, SUBACK, PINGRESP, DISCONNECT. A PUBLISH it
cannot decode (too short, an empty topic, QoS 2) is left to the client too, which has the rules
for what to say of it; so is the rest of a stream whose remaining length runs past four bytes.
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


def _length(buf: bytes, at: int, end: int) -> tuple[int, int] | None:
    """A Variable Byte Integer at ``at``: its value and where it ends; None if not all here.
    Raises ``ValueError`` past four bytes."""
    value, shift = 0, 0
    while at < end:
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift >= 7 * LENGTH_BYTES:
            raise ValueError("a remaining length of more than four bytes")
    return None


def _publish(header: int, buf: bytes, at: int, stop: int, properties: bool) -> Publish | None:
    """The PUBLISH in ``buf[at:stop]`` (its variable header and payload), or None if it is not
    one this reader takes."""
    qos = (header >> 1) & 0x03
    if qos > 1 or stop - at < 2:
        return None
    size = int.from_bytes(buf[at : at + 2], "big")
    topic = buf[at + 2 : at + 2 + size]
    at += 2 + size
    mid = 0
    if qos:
        mid = int.from_bytes(buf[at : at + 2], "big")
        at += 2
    if properties:  # skipped: a subscriber of ours is sent none it acts on
        try:
            found = _length(buf, at, stop)
        except ValueError:
            return None
        if found is None:
            return None
        length, at = found
        at += length
    if not topic or at > stop or (qos and not mid):
        return None
    return Publish(topic, buf[at:stop], mid, qos, bool(header & 0x01))


class Splitter:
    """A connection's incoming stream, split into PUBLISHes and everything else."""

    def __init__(self, *, properties: bool) -> None:
        self._properties = properties  # MQTT 5: a PUBLISH carries a properties block
        self._rest = b""  # the start of a packet not all here yet
        self._broken = False

    def feed(self, data: bytes) -> tuple[list[Publish], bytes]:
        """The PUBLISHes ``data`` completes, and the other packets it completes, as bytes."""
        if self._broken:
            return [], data
        buf = self._rest + data if self._rest else data
        at, end = 0, len(buf)
        found: list[Publish] = []
        others: list[bytes] = []
        while at < end:
            try:
                length = _length(buf, at + 1, end)
            except ValueError:  # not MQTT: the client says so and drops the connection
                self._broken, self._rest = True, b""
                others.append(buf[at:])
                return found, b"".join(others)
            if length is None or length[1] + length[0] > end:
                break
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
        self._rest = buf[at:]
        return found, b"".join(others)
