"""MQTT topic names: every message of a bank lives under ``banks/{bank_id}/``.

| topic | direction | QoS | retained | message |
|---|---|---|---|---|
| ``banks/{id}/events`` | edge → cloud | 1 | no | ``Envelope`` |
| ``banks/{id}/events/ack`` | cloud → edge | 0 | yes | ``EventsAck`` |
| ``banks/{id}/state`` | edge → cloud | 1 | yes | ``BankState`` |
| ``banks/{id}/status`` | edge → cloud | 1 | yes | ``BankStatus`` (the Last Will says offline) |
| ``banks/{id}/heartbeat`` | edge → cloud | 0 | no | ``Heartbeat`` |
| ``banks/{id}/cmd`` | cloud → edge | 1 | no | ``CommandEnvelope`` |
| ``banks/{id}/cmd/ack`` | edge → cloud | 1 | no | ``CommandAck`` |

The table is data in ``locker_contract.channels.CHANNELS``, from which ``schema`` also writes
the AsyncAPI document (``docs/contract/``); a test keeps this copy equal to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from locker_contract.errors import BadTopic
from locker_contract.events import BANK_ID_PATTERN
from locker_contract.text import sanitised

ROOT = "banks"
_BANK_ID = re.compile(BANK_ID_PATTERN)


class Channel(StrEnum):
    """The part of a topic after the bank id."""

    EVENTS = "events"
    EVENTS_ACK = "events/ack"
    STATE = "state"
    STATUS = "status"
    HEARTBEAT = "heartbeat"
    CMD = "cmd"
    CMD_ACK = "cmd/ack"


def topic(bank_id: str, channel: Channel) -> str:
    if not _BANK_ID.fullmatch(bank_id):
        raise BadTopic(f"bank id {sanitised(bank_id)!r} does not match {BANK_ID_PATTERN}")
    return f"{ROOT}/{bank_id}/{channel.value}"


def every_bank(channel: Channel) -> str:
    """The subscription filter for ``channel`` of every bank."""
    return f"{ROOT}/+/{channel.value}"


def shared(group: str, topic_filter: str) -> str:
    """An MQTT 5 shared subscription: each message goes to one member of ``group``."""
    return f"$share/{group}/{topic_filter}"


@dataclass(frozen=True)
class Address:
    bank_id: str
    channel: Channel


def parse(name: str) -> Address:
    """The bank and channel a topic name addresses; ``BadTopic`` for anything else."""
    root, _, rest = name.partition("/")
    bank_id, _, channel = rest.partition("/")
    if root != ROOT or not _BANK_ID.fullmatch(bank_id):
        raise BadTopic(f"not a bank topic: {sanitised(name)!r}")
    try:
        return Address(bank_id, Channel(channel))
    except ValueError:
        raise BadTopic(f"unknown channel in {sanitised(name)!r}") from None
