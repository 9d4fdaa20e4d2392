"""Every lifecycle of the cloud, one enum and one transition table each (decision 0015).

A row's state moves only through ``Lifecycle.step``, which refuses a move its table does not
list with ``IllegalTransition`` (a ``Conflict``: 409). The states are stored as their values, the
same strings as ever (``StateType``): no schema change, and rows read back as enum members.

The tables say what the services do, no more: where the edge is the authority on a physical
fact (a parcel deposited, picked up, returned), the cloud follows it from any state that is not
an end, and a parcel that left may be deposited again under its waybill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import AutoString

from cloud.services.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)


class ReservationState(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FULFILLED = "fulfilled"
    UNFULFILLABLE = "unfulfillable"  # the bank filled the compartment offline; no other fits


class CommandState(StrEnum):
    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    EXPIRED = "expired"


class ParcelStatus(StrEnum):
    ANNOUNCED = "announced"
    IN_LOCKER = "in_locker"
    PICKED_UP = "picked_up"
    RETURN_PENDING = "return_pending"
    RETURNED = "returned"


class AlarmState(StrEnum):
    """An alarm's state is read from its stamps (``cleared_at``, ``acknowledged_at``): raised,
    perhaps acknowledged by a person, then cleared once (``cloud.console.alarms``)."""

    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class ShareState(StrEnum):
    OFFERED = "offered"  # the operator's offer: nothing of the carrier reaches the bank yet
    ACCEPTED = "accepted"  # by the carrier, with its own key
    DECLINED = "declined"  # an offer the carrier refused
    WITHDRAWN = "withdrawn"  # accepted once, then withdrawn by the carrier


class QuarantineState(StrEnum):
    HELD = "held"  # set aside: the stream went on past it
    RELEASED = "released"  # applied after all, by an operator
    DROPPED = "dropped"  # given up by an operator; its raw copy is erased


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    """A named transition table: ``moves[current]`` is where ``current`` may go."""

    name: str
    moves: Mapping[S, frozenset[S]]

    def allows(self, current: S, target: S) -> bool:
        return target in self.moves.get(current, frozenset())

    def step(self, current: S, target: S) -> S:
        """``target``, if the table lets ``current`` move there; else ``IllegalTransition``."""
        if not self.allows(current, target):
            raise IllegalTransition(
                f"a {self.name} cannot go from {current} to {target}",
                lifecycle=self.name,
                current=str(current),
                target=str(target),
            )
        return target


R, C, P, A, Sh, Q = (
    ReservationState,
    CommandState,
    ParcelStatus,
    AlarmState,
    ShareState,
    QuarantineState,
)
_PRESENT = frozenset({P.IN_LOCKER, P.PICKED_UP, P.RETURN_PENDING, P.RETURNED})

RESERVATION: Lifecycle[ReservationState] = Lifecycle(
    "reservation",
    {R.ACTIVE: frozenset({R.CANCELLED, R.EXPIRED, R.FULFILLED, R.UNFULFILLABLE})},
)
COMMAND: Lifecycle[CommandState] = Lifecycle(
    "command",
    {
        C.PENDING: frozenset({C.ACKNOWLEDGED, C.EXPIRED}),
        C.EXPIRED: frozenset({C.ACKNOWLEDGED}),  # a late answer: the bank had it in time
    },
)
PARCEL: Lifecycle[ParcelStatus] = Lifecycle(
    "parcel",
    {
        P.ANNOUNCED: _PRESENT,  # a deposit the cloud could not place still leaves the locker
        P.IN_LOCKER: _PRESENT,  # deposited again: the edge moved it
        P.RETURN_PENDING: _PRESENT,
        P.PICKED_UP: frozenset({P.IN_LOCKER}),  # its waybill deposited again
        P.RETURNED: frozenset({P.IN_LOCKER}),
    },
)
ALARM: Lifecycle[AlarmState] = Lifecycle(
    "alarm",
    {A.RAISED: frozenset({A.ACKNOWLEDGED, A.CLEARED}), A.ACKNOWLEDGED: frozenset({A.CLEARED})},
)
SHARE: Lifecycle[ShareState] = Lifecycle(
    "share",
    {
        Sh.OFFERED: frozenset({Sh.OFFERED, Sh.ACCEPTED, Sh.DECLINED}),  # offered again: new terms
        Sh.ACCEPTED: frozenset({Sh.WITHDRAWN}),
        Sh.DECLINED: frozenset({Sh.OFFERED, Sh.ACCEPTED}),
        Sh.WITHDRAWN: frozenset({Sh.OFFERED, Sh.ACCEPTED}),
    },
)
QUARANTINE: Lifecycle[QuarantineState] = Lifecycle(
    "quarantined event", {Q.HELD: frozenset({Q.RELEASED, Q.DROPPED})}
)
LIFECYCLES: tuple[Lifecycle[Any], ...] = (RESERVATION, COMMAND, PARCEL, ALARM, SHARE, QUARANTINE)


class StateType(TypeDecorator[StrEnum]):
    """A lifecycle's state in the database: its value, as text (what the column always held);
    read back as the enum's member."""

    impl = AutoString
    cache_ok = True

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        # a member is its value; a plain string (a query's filter) is compared as it is
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)
