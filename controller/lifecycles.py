"""Every lifecycle of the edge, each one enum-typed transition table (decision 0015).

As in h11's ``_state.py``, a table maps a state to the events it accepts and the state each one
leads to; what an event *does* besides moving the state (recording a parcel, emitting an event)
lives with the flows, never here. An event a state has no row for raises ``IllegalTransition``:
the callers check what they must before asking (a door already open is not opened again), so an
illegal transition is a bug or a request that does not fit, answered 409.

    deposit   OPENING --opened--> OPEN --closed with item--> RECORDED
              OPENING --jammed--> OPENING (next compartment) | ABANDONED (none left)
              OPEN --does not fit--> RESIZING --closed--> OPENING (next size up)
              OPEN --cancel--> CANCELLING --closed--> ABANDONED
              OPEN --closed, no item--> ABANDONED (nothing put in)
    parcel    IN_LOCKER --taken--> PICKED_UP
              IN_LOCKER --refused | expired--> RETURN_PENDING --collected--> RETURNED
    pickup    (idle) --opened for pickup | return--> PICKUP | RETURN --closed--> (idle)
              (the parcel's door standing open for one of them: ``Parcel.opened_for``)
    intent    PENDING --opened | already open | jammed | no answer | not sent--> ...
              UNKNOWN --opened | already open | interrupted--> ...
    door      UNKNOWN | CLOSED --opened--> OPEN;  UNKNOWN | OPEN --shut--> CLOSED
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from controller.errors import IllegalTransition

S = TypeVar("S")
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class Lifecycle(Generic[S, E]):
    """One table: ``table[state][event]`` is the next state. Every state has its row (a final
    state an empty one, as in h11); an event missing from it is an illegal transition."""

    name: str
    initial: S
    states: tuple[S, ...]
    events: tuple[E, ...]
    table: Mapping[S, Mapping[E, S]]

    def next(self, state: S, event: E) -> S:
        """The state ``event`` leads to from ``state``; ``IllegalTransition`` if none."""
        row = self.table.get(state, {})
        if event not in row:
            raise IllegalTransition(self.name, state, event)
        return row[event]

    def allows(self, state: S, event: E) -> bool:
        return event in self.table.get(state, {})


# --- deposit: a courier's deposit in progress (``Deposit.state``) ----------------------------


class DepositState(StrEnum):
    OPENING = "opening"
    OPEN = "open"
    RESIZING = "resizing"
    CANCELLING = "cancelling"
    RECORDED = "recorded"
    ABANDONED = "abandoned"


class DepositEvent(StrEnum):
    OPENED = "opened"
    JAMMED = "jammed"
    NOT_SENT = "not_sent"
    INTERRUPTED = "interrupted"
    CLOSED_WITH_ITEM = "closed_with_item"
    CLOSED_EMPTY = "closed_empty"
    DOES_NOT_FIT = "does_not_fit"
    CANCEL = "cancel"


_D, _DE = DepositState, DepositEvent
DEPOSIT = Lifecycle(
    "deposit",
    _D.OPENING,
    tuple(DepositState),
    tuple(DepositEvent),
    {
        _D.OPENING: {
            _DE.OPENED: _D.OPEN,
            _DE.JAMMED: _D.OPENING,  # the next fitting compartment (or ABANDONED: none left)
            _DE.NOT_SENT: _D.ABANDONED,
            _DE.INTERRUPTED: _D.ABANDONED,
            _DE.CANCEL: _D.ABANDONED,
        },
        _D.OPEN: {
            _DE.CLOSED_WITH_ITEM: _D.RECORDED,
            _DE.CLOSED_EMPTY: _D.ABANDONED,
            _DE.DOES_NOT_FIT: _D.RESIZING,
            _DE.CANCEL: _D.CANCELLING,
        },
        _D.RESIZING: {_DE.CLOSED_WITH_ITEM: _D.OPENING, _DE.CLOSED_EMPTY: _D.OPENING},
        _D.CANCELLING: {_DE.CLOSED_WITH_ITEM: _D.ABANDONED, _DE.CLOSED_EMPTY: _D.ABANDONED},
        _D.RECORDED: {},
        _D.ABANDONED: {},
    },
)
ACTIVE_DEPOSIT_STATES = (_D.OPENING, _D.OPEN, _D.RESIZING, _D.CANCELLING)


# --- parcel: from its recording to its recipient or back to its courier (``Parcel.state``) ---


class ParcelState(StrEnum):
    IN_LOCKER = "in_locker"  # waiting for its recipient
    RETURN_PENDING = "return_pending"  # refused, or past its storage period: for its courier
    PICKED_UP = "picked_up"
    RETURNED = "returned"


class ParcelEvent(StrEnum):
    TAKEN = "take"  # its door shut, empty, after a pickup opened it
    REFUSED = "refuse"
    EXPIRED = "expire"
    COLLECTED = "collect"  # its door shut, empty, after its courier's return opened it


_P, _PE = ParcelState, ParcelEvent
PARCEL = Lifecycle(
    "parcel",
    _P.IN_LOCKER,
    tuple(ParcelState),
    tuple(ParcelEvent),
    {
        _P.IN_LOCKER: {
            _PE.TAKEN: _P.PICKED_UP,
            _PE.REFUSED: _P.RETURN_PENDING,
            _PE.EXPIRED: _P.RETURN_PENDING,
        },
        _P.RETURN_PENDING: {_PE.COLLECTED: _P.RETURNED},
        _P.PICKED_UP: {},
        _P.RETURNED: {},
    },
)
ACTIVE_PARCEL_STATES = (_P.IN_LOCKER, _P.RETURN_PENDING)


# --- pickup: a parcel's door standing open to take it out (``Parcel.opened_for``) ------------


class UnlockFlow(StrEnum):
    """Why a door is unlocked (``Intent.flow``)."""

    DEPOSIT = "deposit"
    PICKUP = "pickup"
    RETURN = "return"
    REMOTE = "remote"  # a cloud command
    ADMIN = "admin"  # commissioning


class OpenedFor(StrEnum):
    PICKUP = "pickup"
    RETURN = "return"


class PickupEvent(StrEnum):
    OPENED_FOR_PICKUP = "open_for_pickup"
    OPENED_FOR_RETURN = "open_for_return"
    CLOSED = "close"


_PK = PickupEvent
PICKUP: Lifecycle[OpenedFor | None, PickupEvent] = Lifecycle(
    "parcel's door",
    None,
    (None, *OpenedFor),
    tuple(PickupEvent),
    {
        None: {_PK.OPENED_FOR_PICKUP: OpenedFor.PICKUP, _PK.OPENED_FOR_RETURN: OpenedFor.RETURN},
        OpenedFor.PICKUP: {_PK.CLOSED: None},
        OpenedFor.RETURN: {_PK.CLOSED: None},
    },
)


# --- unlock intent: an unlock committed before its frame is sent (``Intent.state``) ----------


class IntentState(StrEnum):
    PENDING = "pending"
    OPENED = "opened"
    ALREADY_OPEN = "already_open"
    JAMMED = "jammed"
    UNKNOWN = "unknown"  # sent, not read back: the poller will tell
    NOT_SENT = "not_sent"  # certainly not sent, or a restart found the door shut


class IntentEvent(StrEnum):
    OPENED = "open"
    ALREADY_OPEN = "find_already_open"
    JAMMED = "jam"
    NO_ANSWER = "lose_the_answer_of"
    NOT_SENT = "fail_to_send"
    INTERRUPTED = "interrupt"  # a restart found it unanswered and the door shut


_I, _IE = IntentState, IntentEvent
INTENT = Lifecycle(
    "unlock intent",
    _I.PENDING,
    tuple(IntentState),
    tuple(IntentEvent),
    {
        _I.PENDING: {
            _IE.OPENED: _I.OPENED,
            _IE.ALREADY_OPEN: _I.ALREADY_OPEN,
            _IE.JAMMED: _I.JAMMED,
            _IE.NO_ANSWER: _I.UNKNOWN,
            _IE.NOT_SENT: _I.NOT_SENT,
            _IE.INTERRUPTED: _I.NOT_SENT,
        },
        _I.UNKNOWN: {
            _IE.OPENED: _I.OPENED,
            _IE.ALREADY_OPEN: _I.ALREADY_OPEN,
            _IE.INTERRUPTED: _I.NOT_SENT,
        },
        _I.OPENED: {},
        _I.ALREADY_OPEN: {},
        _I.JAMMED: {},
        _I.NOT_SENT: {},
    },
)
UNANSWERED = (_I.PENDING, _I.UNKNOWN)  # intents a door opening can still be attributed to


# --- door: what the bank believes of a compartment's door (``Compartment.door``) -------------


class DoorState(StrEnum):
    UNKNOWN = "unknown"  # not read since the compartment was added
    OPEN = "open"
    CLOSED = "closed"


class DoorEvent(StrEnum):
    OPENED = "open"
    SHUT = "shut"


DOOR = Lifecycle(
    "door",
    DoorState.UNKNOWN,
    tuple(DoorState),
    tuple(DoorEvent),
    {
        DoorState.UNKNOWN: {DoorEvent.OPENED: DoorState.OPEN, DoorEvent.SHUT: DoorState.CLOSED},
        DoorState.CLOSED: {DoorEvent.OPENED: DoorState.OPEN},
        DoorState.OPEN: {DoorEvent.SHUT: DoorState.CLOSED},
    },
)

LIFECYCLES = (DEPOSIT, PARCEL, PICKUP, INTENT, DOOR)
