"""The messages of the link besides events: acks, status, heartbeat, state and command acks.

Every message carries ``v``, its schema version; a receiver refuses a version it does not know
(``decode``) instead of guessing. Times are ISO 8601 with a zone.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from locker_contract.cold import TemperatureClass
from locker_contract.errors import BadMessage
from locker_contract.events import Label, Seq
from locker_contract.text import LONG_TEXT_MAX, FiniteFloat, LongText, Text, sanitised

LINK_VERSION: Literal[1] = 1


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = LINK_VERSION


REFUSED_MAX = 100  # refusals one ack reports; more are in the cloud's quarantine list


class RefusedEvent(BaseModel):
    """An event the cloud could not apply: kept aside (quarantined) for an operator, counted as
    done for the stream. The edge publishes it no more and logs ``reason``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: Annotated[Seq, Field(ge=1)]
    reason: LongText


class EventsAck(Message):
    """Cloud to edge: every event up to ``seq`` is done, without a gap: applied, or refused and
    kept aside in the cloud (``refused`` lists those refused since the last ack). Retained, so
    that an edge learns it on reconnecting; the edge may delete its outbox up to here."""

    seq: Seq
    cloud_time: AwareDatetime
    refused: Annotated[list[RefusedEvent], Field(max_length=REFUSED_MAX)] = []

    def to_json(self) -> str:
        """The ack as published: without ``refused`` when there is none, as edges that predate
        the field expect it."""
        return self.model_dump_json(exclude=None if self.refused else {"refused"})


class BankStatus(Message):
    """Retained. ``online`` when the edge connects; ``offline`` is its Last Will, published by
    the broker when the connection dies, and by the edge itself on a clean stop."""

    state: Literal["online", "offline"]
    since: AwareDatetime | None = None


class Heartbeat(Message):
    """Edge to cloud, every few seconds: the edge's clock and how far its outbox has come."""

    edge_time: AwareDatetime
    last_seq: Seq
    acked_seq: Seq
    uptime_s: Annotated[FiniteFloat, Field(ge=0)]
    boards_online: Annotated[int, Field(ge=0)]
    boards_total: Annotated[int, Field(ge=0)]


class CompartmentState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    label: Label
    size: Literal["S", "M", "L", "XL"]
    in_service: bool
    door: Literal["open", "closed", "unknown"]
    occupied: bool
    reserved_for: Text | None = None
    temperature_class: TemperatureClass | None = None  # its zone's (None from older banks)


class BankState(Message):
    """Retained snapshot of every compartment, published when anything in it changes."""

    time: AwareDatetime
    maintenance: bool
    compartments: list[CompartmentState]


Outcome = Literal["applied", "expired", "rejected", "failed"]


class CommandAck(Message):
    """Edge to cloud: what became of one command. A repeated delivery is answered with the
    first outcome and ``repeat``; an expired command is never applied."""

    command_id: Annotated[Text, Field(min_length=1, max_length=64)]
    outcome: Outcome
    detail: LongText = ""
    repeat: bool = False
    edge_time: AwareDatetime


M = TypeVar("M", bound=BaseModel)


def decode(model: type[M], payload: bytes | bytearray | str) -> M:
    """Parse ``payload`` as ``model``; ``BadMessage`` says what is wrong with it."""
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        raise BadMessage(f"bad {model.__name__}: {problems(exc)}") from None


def problems(exc: ValidationError, most: int = 3) -> str:
    """What is wrong, bounded and printable, and quoting none of the input (which may be huge,
    unprintable, or a phone number): where, and the rule broken."""
    said = [_problem(error) for error in exc.errors(include_url=False, include_input=False)[:most]]
    more = exc.error_count() - len(said)
    text = "; ".join(said) + (f"; and {more} more" if more > 0 else "")
    return sanitised(text, LONG_TEXT_MAX - 100)  # room for a prefix and sanitised's suffix


def _problem(error: ErrorDetails) -> str:
    """One error; a field's name and the message may carry input (an unknown field, a union's
    tag), so each is quoted bounded."""
    where = ".".join(sanitised(str(part), 32) for part in error["loc"]) or "message"
    return f"{where}: {sanitised(error['msg'], 120)} [{error['type']}]"
