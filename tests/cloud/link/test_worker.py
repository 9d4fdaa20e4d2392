"""The ingest worker's reading: PUBLISHes are taken from the socket as paho reads it (decisions
0033 and 0034); events go to their bank's lane, the rest is gathered, and what cannot be read is
acknowledged at once and dropped, never left holding the broker's window. End to end, through
real brokers, in ``tests/test_ingest_workers.py`` and ``tests/test_link.py``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket

import aiomqtt
import pytest
from paho.mqtt.enums import MQTTErrorCode
from sqlalchemy import create_engine

from cloud.core.config import Settings
from cloud.link.readahead import ReadAhead
from cloud.link.worker import Inbox, IngestWorker
from locker_contract.topics import Channel, topic
from tests.cloud.link import packets
from tests.waiting import until


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> IngestWorker:
    """A worker that never connects: its clients are made, not opened (nor its database).
    aiomqtt's reader is not registered: ``deliver`` reads as it would."""
    monkeypatch.setattr(aiomqtt.Client, "_on_socket_open", lambda *_: None)
    settings = Settings(database_url="sqlite://", secret_key=secrets.token_hex(32))
    return IngestWorker(create_engine("sqlite://"), settings, "mqtt://127.0.0.1:1883")


def message(name: bytes, payload: bytes, mid: int) -> bytes:
    return packets.publish(name, payload, mid=mid)


def deliver(client: aiomqtt.Client, *messages: bytes, then: bytes = b"") -> list[int]:
    """Write messages (and ``then``) as the broker does and read them as aiomqtt's reader does:
    the ids acknowledged (paho's ``ack`` recorded)."""
    acked: list[int] = []
    paho = client._client

    def ack(mid: int, qos: int) -> MQTTErrorCode:
        acked.append(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    paho.ack = ack  # type: ignore[method-assign]
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        assert paho.on_socket_open is not None
        paho.on_socket_open(paho, None, ours)  # the worker's socket, as paho opens it
        theirs.sendall(b"".join(messages) + then)
        sock = paho._sock
        assert isinstance(sock, ReadAhead)
        while True:
            paho.loop_read()
            if not sock.pending():
                break
        paho._sock = None
    return acked


async def test_events_wait_in_their_lane_and_the_rest_is_gathered(
    worker: IngestWorker,
) -> None:
    client = worker._client()
    inbox = worker._inbox
    acked = deliver(
        client,
        message(topic("maple", Channel.EVENTS).encode(), b'{"seq": 1}', 1),
        message(topic("maple", Channel.HEARTBEAT).encode(), b"{}", 2),
        message(topic("birch", Channel.STATUS).encode(), b'{"state": "offline"}', 3),
    )
    assert acked == []  # nothing is acknowledged before it is stored
    held = [item for lane in inbox.lanes for item in lane.take_now(10, 10)]
    assert [(bank, channel, payload) for (bank, channel, payload, _), _ in held] == [
        ("maple", Channel.EVENTS, b'{"seq": 1}')
    ]
    assert [token for _, token in held] == [(1, 1)]
    assert list(inbox.gathered.beats) == ["maple"]
    assert inbox.gathered.statuses == {"birch": b'{"state": "offline"}'}
    assert inbox.gathered.tokens == [(2, 1), (3, 1)]


async def test_what_cannot_be_read_is_acknowledged_at_once_and_dropped(
    worker: IngestWorker, caplog: pytest.LogCaptureFixture
) -> None:
    client = worker._client()
    with caplog.at_level(logging.WARNING, logger="cloud.link.worker"):
        acked = deliver(
            client,
            message(b"banks/maple/\xff\xfe", b"{}", 7),  # not UTF-8
            message(b"banks/maple/elsewhere", b"{}", 8),  # no such channel
            message(b"banks/no such bank/events", b"{}", 9),
        )
    assert acked == [7, 8, 9]
    assert sum(lane.size for lane in worker._inbox.lanes) == 0
    assert not worker._inbox.gathered
    assert len([r for r in caplog.records if r.getMessage().startswith("ignored:")]) == 3


async def test_each_connection_reads_into_an_inbox_of_its_own(worker: IngestWorker) -> None:
    """What a lost connection held is delivered again by the broker on the next one: the next
    connection must not find it in its lanes as well."""
    first = worker._client()
    deliver(first, message(topic("maple", Channel.EVENTS).encode(), b"{}", 1))
    held: Inbox = worker._inbox
    worker._client()
    assert worker._inbox is not held
    assert sum(lane.size for lane in worker._inbox.lanes) == 0
    assert sum(lane.size for lane in held.lanes) == 1


async def test_a_message_that_bypassed_the_reading_is_said_and_acknowledged(
    worker: IngestWorker, caplog: pytest.LogCaptureFixture
) -> None:
    """Should aiomqtt queue a message after all, it must not hold one of the broker's in-flight
    slots for the whole session: logged (its topic sanitised) and acknowledged."""
    client = worker._client()
    acked = deliver(client)  # no message: installs the recording ``ack``
    stray = aiomqtt.Message(topic="banks/maple/\x1b[2Jevents", payload=b"{}", qos=1, retain=False,
                            mid=11, properties=None)  # fmt: skip
    client._queue.put_nowait(stray)
    receiving = asyncio.create_task(worker._receive(client))
    with caplog.at_level(logging.ERROR, logger="cloud.link.worker"):
        await until(lambda: acked == [11], what="the stray message acknowledged")
    receiving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await receiving
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(said) == 1
    assert "bypassed" in said[0]
    assert "\x1b" not in said[0]


async def test_over_mqtt_3_1_1_a_message_is_acknowledged_on_receipt(worker: IngestWorker) -> None:
    """amqtt, the embedded broker, drops a message whose PUBACK is late: acknowledged as read,
    and nothing is owed to the broker once stored."""
    old = IngestWorker(worker.engine, worker.settings, "mqtt311://127.0.0.1:1883")
    client = old._client()
    event = packets.publish(topic("maple", Channel.EVENTS).encode(), b"{}", mid=5, properties=None)
    assert deliver(client, event) == [5]
    held = [item for lane in old._inbox.lanes for item in lane.take_now(10, 10)]
    assert [token for _, token in held] == [(5, 0)]


async def test_other_packets_are_paho_s_and_a_qos_2_message_is_said_and_acknowledged(
    worker: IngestWorker, caplog: pytest.LogCaptureFixture
) -> None:
    """No broker sends QoS 2 to a QoS 1 subscription; should one, paho runs its exchange and
    the message, not the worker's, is logged and acknowledged, not kept."""
    client = worker._client()
    name = topic("maple", Channel.EVENTS).encode()
    two = packets.publish(name, b"{}", mid=9, qos=2)
    pubrel = bytes([0x62, 0x02, 0x00, 0x09])
    with caplog.at_level(logging.ERROR, logger="cloud.link.worker"):
        acked = deliver(client, message(name, b"{}", 8), two, pubrel, message(name, b"{}", 10))
    assert acked == [9]
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(said) == 1
    assert "bypassed" in said[0]
    held = [item for lane in worker._inbox.lanes for item in lane.take_now(10, 10)]
    assert [token for _, token in held] == [(8, 1), (10, 1)]


async def test_a_message_with_an_empty_topic_is_said_and_acknowledged(
    worker: IngestWorker, caplog: pytest.LogCaptureFixture
) -> None:
    """A topic alias the worker never allowed: paho hands it over, it is not kept."""
    client = worker._client()
    with caplog.at_level(logging.ERROR, logger="cloud.link.worker"):
        acked = deliver(client, packets.publish(b"", b"{}", mid=3))
    assert acked == [3]
    assert ["bypassed" in r.getMessage() for r in caplog.records] == [True]
    assert sum(lane.size for lane in worker._inbox.lanes) == 0
