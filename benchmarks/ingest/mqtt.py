"""The simulated banks: a minimal MQTT 3.1.1 client on asyncio protocols, one per bank."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from collections.abc import Sequence

from benchmarks.ingest.config import HISTORY, KEEPALIVE_S
from locker_contract.topics import Channel, topic

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
PING_PACKET = bytes([PINGREQ << 4, 0])
DISCONNECT_PACKET = bytes([DISCONNECT << 4, 0])


def remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (128 if n else 0))
        if not n:
            return bytes(out)


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + remaining_length(len(body)) + body


def utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(client_id: str) -> bytes:
    """MQTT 3.1.1, clean session, no will, no credentials."""
    return packet(
        CONNECT,
        0,
        utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", KEEPALIVE_S) + utf8(client_id),
    )


def subscribe_packet(packet_id: int, filters: Sequence[str]) -> bytes:
    body = struct.pack("!H", packet_id) + b"".join(utf8(f) + b"\x01" for f in filters)
    return packet(SUBSCRIBE, 0x02, body)


def publish_packet(topic_name: bytes, packet_id: int, payload: bytes) -> bytes:
    """QoS 1, not retained."""
    body = struct.pack("!H", len(topic_name)) + topic_name + struct.pack("!H", packet_id)
    return packet(PUBLISH, 0x02, body + payload)


def publish_qos0_packet(topic_name: bytes, payload: bytes) -> bytes:
    """QoS 0, not retained: no packet id, no PUBACK."""
    return packet(PUBLISH, 0, struct.pack("!H", len(topic_name)) + topic_name + payload)


def puback_packet(packet_id: int) -> bytes:
    return packet(PUBACK, 0, struct.pack("!H", packet_id))


class SimBank(asyncio.Protocol):
    """One bank's connection: publishes its events at QoS 1, one at a time (the edge's link
    awaits each PUBACK before the next), and takes its ``events/ack`` as a bank does."""

    def __init__(self, bank_id: str) -> None:
        self.bank_id = bank_id
        self.events_topic = topic(bank_id, Channel.EVENTS).encode()
        self.heartbeat_topic = topic(bank_id, Channel.HEARTBEAT).encode()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.loop = asyncio.get_running_loop()
        self.connack: asyncio.Future[None] = self.loop.create_future()
        self.pending: dict[int, asyncio.Future[None]] = {}
        self.last_id = 0
        self.acked_seq = 0  # the highest seq the cloud acknowledged
        self.ack_moved = asyncio.Event()  # set by each events/ack that moves ``acked_seq``
        self.last_seq = HISTORY  # the highest seq published, as its heartbeats say

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.fail(ConnectionError(f"{self.bank_id}: connection lost ({exc})"))

    def fail(self, exc: Exception) -> None:
        """Whatever waits on this connection gets ``exc``; the connection is dropped."""
        for waiter in [self.connack, *self.pending.values()]:
            if not waiter.done():
                waiter.set_exception(exc)
        self.pending.clear()
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        while len(buf) >= 2:
            length, shift, i = 0, 0, 1
            while True:
                if i >= len(buf):
                    return
                byte = buf[i]
                length |= (byte & 127) << shift
                shift += 7
                i += 1
                if not byte & 128:
                    break
            end = i + length
            if len(buf) < end:
                return
            first, body = buf[0], bytes(buf[i:end])
            del buf[:end]
            try:
                self.received(first >> 4, first & 15, body)
            except (ValueError, KeyError, IndexError, struct.error, ConnectionError) as exc:
                self.fail(exc)
                return

    # --- packets in ---

    def received(self, kind: int, flags: int, body: bytes) -> None:
        if kind == PUBACK:
            self.resolve(struct.unpack_from("!H", body)[0])
        elif kind == PUBLISH:
            self.delivered(flags, body)
        elif kind == CONNACK:
            if body[1] != 0:
                raise ConnectionError(f"{self.bank_id}: CONNACK refused with {body[1]}")
            self.connack.set_result(None)
        elif kind == SUBACK:
            if 0x80 in body[2:]:
                raise ConnectionError(f"{self.bank_id}: subscription refused")
            self.resolve(struct.unpack_from("!H", body)[0])
        elif kind != PINGRESP:
            raise ConnectionError(f"{self.bank_id}: unexpected MQTT packet type {kind}")

    def delivered(self, flags: int, body: bytes) -> None:
        (topic_length,) = struct.unpack_from("!H", body)
        name, at = body[2 : 2 + topic_length], 2 + topic_length
        if (flags >> 1) & 3:
            (packet_id,) = struct.unpack_from("!H", body, at)
            at += 2
            self.write(puback_packet(packet_id))
        if name.endswith(b"/events/ack"):
            seq = int(json.loads(body[at:])["seq"])
            if seq > self.acked_seq:
                self.acked_seq = seq
                self.ack_moved.set()

    def resolve(self, packet_id: int) -> None:
        waiter = self.pending.pop(packet_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- packets out ---

    def write(self, data: bytes) -> None:
        if self.transport is None:
            raise ConnectionError(f"{self.bank_id}: not connected")
        self.transport.write(data)

    def next_id(self) -> tuple[int, asyncio.Future[None]]:
        self.last_id = self.last_id % 65535 + 1
        waiter = self.loop.create_future()
        self.pending[self.last_id] = waiter
        return self.last_id, waiter

    async def open(self, port: int, client_id: str) -> None:
        """Connect, then subscribe to the bank's ``events/ack`` and ``cmd`` as the edge does."""
        await self.loop.create_connection(lambda: self, "127.0.0.1", port)
        self.write(connect_packet(client_id))
        await self.connack
        packet_id, waiter = self.next_id()
        filters = [topic(self.bank_id, Channel.EVENTS_ACK), topic(self.bank_id, Channel.CMD)]
        self.write(subscribe_packet(packet_id, filters))
        await waiter

    async def publish(self, payloads: Sequence[bytes], to: bytes | None = None) -> list[float]:
        """Each payload at QoS 1 after the previous one's PUBACK, to the bank's events unless
        ``to`` says otherwise; when each was sent."""
        sent = []
        for payload in payloads:
            packet_id, waiter = self.next_id()
            sent.append(time.time())
            self.write(publish_packet(to or self.events_topic, packet_id, payload))
            await waiter
        return sent

    async def flood(self, payloads: Sequence[bytes]) -> list[float]:
        """Every payload at once, QoS 1, without waiting for a PUBACK between them (a bank gone
        wrong); when each was sent."""
        sent, waiters = [], []
        for payload in payloads:
            packet_id, waiter = self.next_id()
            sent.append(time.time())
            self.write(publish_packet(self.events_topic, packet_id, payload))
            waiters.append(waiter)
        await asyncio.gather(*waiters)
        return sent

    async def backlog(self, payloads: Sequence[bytes], first_seq: int, window: int) -> list[float]:
        """Every payload as the edge's link publishes a backlog (``controller.link``): each at
        QoS 1 after the previous one's PUBACK, and at most ``window`` past the cloud's last
        ``events/ack``, waiting for an ack when the window is full; when each was sent."""
        sent = []
        for seq, payload in enumerate(payloads, start=first_seq):
            while seq > self.acked_seq + window:
                self.ack_moved.clear()
                await self.ack_moved.wait()
            packet_id, waiter = self.next_id()
            sent.append(time.time())
            self.write(publish_packet(self.events_topic, packet_id, payload))
            await waiter
        return sent

    def beat(self, payload: bytes) -> None:
        """A heartbeat at QoS 0, as the edge sends it (the contract's QoS for heartbeats)."""
        self.write(publish_qos0_packet(self.heartbeat_topic, payload))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.write(DISCONNECT_PACKET)
            self.transport.close()
