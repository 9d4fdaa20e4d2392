"""MQTT packets as a broker writes them, for the tests of the worker's reading: framed by the
benchmark's simulated banks' encoder, checked against paho's own decoding in ``test_publishes``."""

from __future__ import annotations

from benchmarks.ingest.mqtt import PINGRESP as PINGRESP_TYPE
from benchmarks.ingest.mqtt import PUBLISH, packet, remaining_length

PINGRESP = packet(PINGRESP_TYPE, 0, b"")


def publish(
    topic: bytes,
    payload: bytes,
    *,
    mid: int = 0,
    qos: int = 1,
    retain: bool = False,
    properties: bytes | None = b"",
) -> bytes:
    """A PUBLISH (MQTT 5, 3.3); ``properties`` is the packed block's content, None over 3.1.1."""
    body = len(topic).to_bytes(2, "big") + topic
    if qos:
        body += mid.to_bytes(2, "big")
    if properties is not None:
        body += remaining_length(len(properties)) + properties
    return packet(PUBLISH, qos << 1 | retain, body + payload)


def other(kind: int, body: bytes) -> bytes:
    """Any other packet: its type and its body."""
    return packet(kind, 0, body)
