"""The topics table as data: per channel its direction, QoS, whether it is retained, its message
and what it means, with one example message each. ``schema`` writes the AsyncAPI document from
it, and ``tests/locker_contract/test_schema.py`` keeps the tables in ``topics`` and in
``docs/contract/README.md`` equal to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from locker_contract.commands import CommandEnvelope, RemoteOpen
from locker_contract.events import DoorOpened, Envelope
from locker_contract.messages import (
    BankState,
    BankStatus,
    CommandAck,
    CompartmentState,
    EventsAck,
    Heartbeat,
)
from locker_contract.topics import ROOT, Channel

Party = Literal["edge", "cloud"]


@dataclass(frozen=True)
class ChannelSpec:
    """One row of the topics table."""

    channel: Channel
    sender: Party
    qos: Literal[0, 1, 2]
    retain: bool
    message: type[BaseModel]
    description: str
    note: str = ""  # after the message's name in the table

    @property
    def receiver(self) -> Party:
        return "cloud" if self.sender == "edge" else "edge"

    @property
    def action(self) -> Literal["send", "receive"]:
        """From the edge's point of view, as the AsyncAPI document is written."""
        return "send" if self.sender == "edge" else "receive"

    @property
    def key(self) -> str:
        """The channel's name in the AsyncAPI document: ``events/ack`` is ``eventsAck``."""
        first, *rest = self.channel.name.lower().split("_")
        return first + "".join(word.capitalize() for word in rest)

    @property
    def address(self) -> str:
        return f"{ROOT}/{{bankId}}/{self.channel.value}"


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        Channel.EVENTS,
        "edge",
        1,
        False,
        Envelope,
        "One event per message, from the edge's transactional outbox, in `seq` order and at "
        "least once: with no progress of `events/ack` for a while the edge publishes the "
        "unacknowledged tail again. The cloud stores each `event_id` once, applies a bank's "
        "events in `seq` order without a gap, and refuses an envelope whose `bank_id` is not "
        "the topic's.",
    ),
    ChannelSpec(
        Channel.EVENTS_ACK,
        "cloud",
        0,
        True,
        EventsAck,
        "The highest `seq` the cloud has done without a gap: the edge deletes its outbox up "
        "to there. Retained, so that an edge learns it on reconnecting; QoS 0, since each ack "
        "is the latest word and an edge that misses one sends its events again (decision "
        "0029). `cloud_time` also tells the edge the cloud's clock (used for command lifetimes "
        "over MQTT 3.1.1). An event the cloud cannot apply is quarantined there for an "
        "operator and counts as done; `refused` (left out when empty) tells the edge its `seq` "
        "and why, and the edge publishes it no more.",
    ),
    ChannelSpec(
        Channel.STATE,
        "edge",
        1,
        True,
        BankState,
        "A snapshot of every compartment, published whenever anything in it changes. An empty "
        "retained message clears the topic; receivers ignore it.",
    ),
    ChannelSpec(
        Channel.STATUS,
        "edge",
        1,
        True,
        BankStatus,
        "`online` when the edge connects. `offline` is the edge's Last Will (QoS 1, retained), "
        "published by the broker when the connection dies, and by the edge itself on a clean "
        "stop. An empty retained message clears the topic; receivers ignore it.",
        note=" (the Last Will says offline)",
    ),
    ChannelSpec(
        Channel.HEARTBEAT,
        "edge",
        0,
        False,
        Heartbeat,
        "Every few seconds: the edge's clock and how far its outbox has come. The cloud marks a "
        "bank offline when its heartbeats stop.",
    ),
    ChannelSpec(
        Channel.CMD,
        "cloud",
        1,
        False,
        CommandEnvelope,
        "One command with its `command_id` and time to live. Over MQTT 5 the cloud also sets "
        "the Message Expiry Interval to the seconds left (rounded up); the broker counts down "
        "while the message waits and the edge counts what is left from its receipt. Over MQTT "
        "3.1.1 the edge counts `ttl_s` from its receipt, less the age it can tell from `sent_at` "
        "and the cloud clock learnt from `events/ack`. The cloud sends a command again while "
        "the bank is online and silent; the edge applies each `command_id` at most once, never "
        "after its time, and answers every delivery on `cmd/ack`.",
    ),
    ChannelSpec(
        Channel.CMD_ACK,
        "edge",
        1,
        False,
        CommandAck,
        "What became of one command, for every delivery: a repeat is answered with the first "
        "outcome and `repeat: true`. A command that cannot be decoded but has a readable "
        "`command_id` is answered `rejected`.",
    ),
)

MESSAGES: tuple[type[BaseModel], ...] = tuple(spec.message for spec in CHANNELS)

# One example per message, in the AsyncAPI document; built through the models, so always valid.
T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
EXAMPLE_BANK = "berlin-mitte-01"
EXAMPLES: dict[str, tuple[str, BaseModel]] = {
    "Envelope": (
        "a door opened by an unlock",
        Envelope(
            event_id=UUID("4f8b1c2e-6d0a-4e55-9a57-0c1d2e3f4a5b"),
            bank_id=EXAMPLE_BANK,
            seq=42,
            time=T0,
            event=DoorOpened(
                compartment="A07", intent_id=UUID("9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d")
            ),
        ),
    ),
    "EventsAck": ("applied up to 42", EventsAck(seq=42, cloud_time=T0)),
    "BankState": (
        "one compartment",
        BankState(
            time=T0,
            maintenance=False,
            compartments=[
                CompartmentState(
                    label="A07", size="M", in_service=True, door="closed", occupied=True
                ),
            ],
        ),
    ),
    "BankStatus": ("online", BankStatus(state="online", since=T0)),
    "Heartbeat": (
        "caught up",
        Heartbeat(
            edge_time=T0,
            last_seq=42,
            acked_seq=42,
            uptime_s=3600.0,
            boards_online=2,
            boards_total=2,
        ),
    ),
    "CommandEnvelope": (
        "a remote open",
        CommandEnvelope(
            command_id="cmd-7f3a",
            sent_at=T0,
            ttl_s=300.0,
            command=RemoteOpen(
                compartment="A07", reason="recipient locked out", requested_by="ops@example.org"
            ),
        ),
    ),
    "CommandAck": ("applied", CommandAck(command_id="cmd-7f3a", outcome="applied", edge_time=T0)),
}
