"""What goes between the benchmark's processes, and the events the banks publish."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from benchmarks.ingest.config import LABELS
from locker_contract.events import BoardHealthChanged, DoorClosed, Envelope, Event
from locker_contract.messages import Heartbeat


@dataclass(frozen=True, slots=True)
class Connected:
    banks: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Publish:
    first_seq: int
    count: int  # events per bank
    banks: int | None = None  # the first this many of the process's banks; None: all of them
    interval_s: float = 0.0  # from one bank's turn to the next's; 0: all at once


@dataclass(frozen=True, slots=True)
class Published:
    events: int
    started: float  # time.time() of the first publish
    finished: float  # time.time() of the last PUBACK
    sent: dict[str, list[float]]  # bank -> time.time() each of its events was published


@dataclass(frozen=True, slots=True)
class AwaitAcks:
    seq: int
    timeout_s: float
    banks: int | None = None  # as in Publish


@dataclass(frozen=True, slots=True)
class Acked:
    banks: int  # banks whose events/ack reached the seq asked for


@dataclass(frozen=True, slots=True)
class Beat:
    """Every bank heartbeats every ``period_s`` (evenly spread over it); 0 stops them."""

    period_s: float


@dataclass(frozen=True, slots=True)
class Beating:
    beats: int  # heartbeats published since the last Beat order


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class Ready:
    client_id: str = ""  # a worker's MQTT client id


@dataclass(frozen=True, slots=True)
class Received:
    messages: int
    first: float
    last: float


@dataclass(frozen=True, slots=True)
class WorkerReport:
    events: int
    duplicates: int
    rejected: int


def event_for(seq: int) -> Event:
    """Two event types the cloud records and then looks up one alarm for, alternating."""
    if seq % 2:
        return DoorClosed(compartment=LABELS[seq % len(LABELS)])
    return BoardHealthChanged(bus="rs485-0", board=seq % 8 + 1, online=True)


def payloads(bank: str, first_seq: int, count: int) -> list[bytes]:
    """The bank's next events as the edge publishes them: ``Envelope.model_dump_json()``."""
    return [
        Envelope(
            event_id=uuid.uuid4(),
            bank_id=bank,
            seq=seq,
            time=datetime.now(UTC),
            event=event_for(seq),
        )
        .model_dump_json()
        .encode()
        for seq in range(first_seq, first_seq + count)
    ]


def heartbeat(last_seq: int) -> bytes:
    """A bank's heartbeat as the edge sends it, its clock now."""
    return (
        Heartbeat(
            edge_time=datetime.now(UTC),
            last_seq=last_seq,
            acked_seq=last_seq,
            uptime_s=3600.0,
            boards_online=1,
            boards_total=1,
        )
        .model_dump_json()
        .encode()
    )
