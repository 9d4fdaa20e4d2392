"""The fleet's tables. Invariants the services rely on are constraints here, not just code.

- One active reservation per compartment, and one parcel in the locker per compartment (partial
  unique indexes, on PostgreSQL and SQLite alike).
- A carrier's idempotency key names one reservation (unique per carrier).
- The audit log is append-only (the migration installs triggers that refuse UPDATE and DELETE).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

import pydantic
from pydantic import BaseModel
from sqlalchemy import Column, Index, Integer, UniqueConstraint, text
from sqlalchemy.orm import registry
from sqlalchemy.types import JSON
from sqlmodel import Field, SQLModel

from cloud.clock import utcnow
from cloud.lifecycles import (
    ALARM,
    AlarmState,
    CommandState,
    ParcelStatus,
    QuarantineState,
    ReservationState,
    ShareState,
    StateType,
)
from cloud.messaging.states import MessageKind, MessageState
from locker_contract import vocabulary
from locker_contract.cold import ZONE_PATTERN, TemperatureClass

__all__ = [  # the lifecycles' states, where the tables that hold them are
    "AlarmState",
    "CommandState",
    "ParcelStatus",
    "QuarantineState",
    "ReservationState",
    "ShareState",
    "utcnow",  # stamps rows by default (cloud.clock)
]


class CloudModel(SQLModel, registry=registry()):
    """The cloud's tables live in their own metadata: the edge's store is another database and
    shares table names (``compartment``, ``parcel``) with it."""


METADATA = CloudModel.metadata


AMBIENT_DEFAULT = {"server_default": "ambient"}  # the class of rows made before issue 17


def new_id() -> str:
    return str(uuid.uuid4())


Consent = vocabulary.Consent  # defined once, for the cloud and the edge alike
Size = vocabulary.Size


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    MANAGER = "manager"
    CARRIER = "carrier"
    COURIER = "courier"


# --- shapes the API and the services share (the template's XCreate/XPublic) -----------------

# the contract's label, without its OpenAPI example (schemathesis cannot combine the cloud's
# fuzzing strategies with schema examples)
Label = Annotated[str, pydantic.Field(pattern=r"^[A-Z][0-9]{2}$")]
Slug = Annotated[str, pydantic.Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
ZoneName = Annotated[str, pydantic.Field(pattern=ZONE_PATTERN)]  # the contract's, no example


class CompartmentCreate(BaseModel):
    label: Label
    size: Size
    low: bool = False
    # its zone's class (issue 17): a chilled or frozen compartment names its zone, ambient none
    temperature_class: TemperatureClass = TemperatureClass.AMBIENT
    zone: ZoneName | None = None

    @pydantic.model_validator(mode="after")
    def _zone_with_class(self) -> CompartmentCreate:
        if (self.zone is None) != (self.temperature_class is TemperatureClass.AMBIENT):
            raise ValueError("a chilled or frozen compartment names its zone; ambient names none")
        return self


class ReservationCreate(BaseModel):
    bank_id: Slug
    size: Size
    kind: Literal["soft", "hard"] = "soft"  # soft: held for ttl_s; hard: until deposit or cancel
    temperature_class: TemperatureClass = TemperatureClass.AMBIENT  # only a compartment of it
    ttl_s: Annotated[
        float | None,
        pydantic.Field(gt=0, le=7 * 24 * 3600, description="soft only; default: the server's"),
    ] = None


class BankHealthPublic(BaseModel):
    """A bank's health as its site's manager sees it (``sites.site_health``)."""

    bank_id: str
    name: str
    online: bool
    last_heartbeat_at: datetime | None
    clock_skew_s: float | None
    compartments: int
    out_of_service: list[str]
    open_alarms: list[str]


class BankPublic(BaseModel):
    """A shared bank as a carrier sees it: free compartments by size, and its standing."""

    bank_id: str
    name: str
    site: str
    lat: float
    lon: float
    free: dict[str, int]  # ambient compartments, by size
    # chilled and frozen compartments free, by class and size (issue 17): the classes it has
    free_cold: dict[str, dict[str, int]] = pydantic.Field(default_factory=dict)
    you_hold: int
    your_guarantee: int
    your_ceiling: int | None


class CourierCodePublic(BaseModel):
    """The code that opens one bank's kiosk for one courier on one day, and nowhere else."""

    courier_id: str
    bank_id: str
    day: date
    code: str


class KeyState(StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"  # rotated with an overlap: still accepted until expires_at
    REVOKED = "revoked"


class KeyPublic(BaseModel):
    """An API key, never its secret: ``state`` is active, expiring (rotated with an overlap:
    accepted until ``expires_at``) or revoked."""

    id: str
    role: Role
    label: str
    state: KeyState
    carrier_id: str | None
    operator_id: str | None
    site_id: str | None
    courier_id: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    replaces: str | None


# --- tables ----------------------------------------------------------------------------------


class Operator(CloudModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    name: str


class Site(CloudModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    operator_id: str = Field(foreign_key="operator.id", index=True)
    name: str
    address: str = ""
    lat: float
    lon: float
    # an IANA name: couriers' codes change at this zone's midnight (decision 0010)
    timezone: str = Field(default="UTC", sa_column_kwargs={"server_default": "UTC"})


class Bank(CloudModel, table=True):
    id: str = Field(primary_key=True)  # the edge's bank id, e.g. maple-court-3
    site_id: str = Field(foreign_key="site.id", index=True)
    name: str = ""
    # what the link knows of it: its Last Will and heartbeats, its clock, its retained state
    online: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    status_since: datetime | None = None
    last_heartbeat_at: datetime | None = None
    clock_skew_s: float | None = None  # its clock minus ours, at the last heartbeat
    state: dict[str, object] | None = Field(default=None, sa_column=Column(JSON))
    # its stream as its heartbeats tell it: the newest seq, and since when it is ahead of ours
    edge_last_seq: int | None = None
    edge_ahead_since: datetime | None = None


class Compartment(CloudModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    bank_id: str = Field(foreign_key="bank.id", index=True)
    label: str
    size: str
    size_rank: int
    low: bool = False
    in_service: bool = True
    temperature_class: str = Field(default="ambient", sa_column_kwargs=AMBIENT_DEFAULT)
    zone: str | None = None  # the chilled or frozen cabinet it is in (``cloud.coldchain``)

    __table_args__ = (UniqueConstraint("bank_id", "label"),)


class Carrier(CloudModel, table=True):
    id: str = Field(primary_key=True)  # e.g. sf-express
    name: str


class Courier(CloudModel, table=True):
    """A carrier's courier. No PIN and no verifier: the courier's kiosk codes are derived per
    bank and per day from a key in the settings (decision 0010)."""

    id: str = Field(primary_key=True)
    carrier_id: str = Field(foreign_key="carrier.id", index=True)
    name: str = ""
    active: bool = True


class ApiKey(CloudModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    key_hash: str = Field(unique=True)
    role: str
    label: str = ""
    carrier_id: str | None = Field(default=None, foreign_key="carrier.id")
    operator_id: str | None = Field(default=None, foreign_key="operator.id")
    site_id: str | None = Field(default=None, foreign_key="site.id")
    courier_id: str | None = Field(default=None, foreign_key="courier.id")
    revoked: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    # the key's lifecycle (cloud/services/keys.py): revoked at once, or at the end of a
    # rotation's overlap; ``replaces`` names the key a rotation made this one for
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    replaces: str | None = None


class SharingPolicy(CloudModel, table=True):
    """A carrier's guaranteed share and ceiling at a bank (compartments held at once), offered
    by the bank's operator and in force once the carrier accepts it. ``codes_through`` is the
    last day whose courier codes were sent to the bank, ``refresh_at`` when the next day's are
    due."""

    bank_id: str = Field(foreign_key="bank.id", primary_key=True)
    carrier_id: str = Field(foreign_key="carrier.id", primary_key=True)
    guaranteed: int = Field(ge=0)
    ceiling: int = Field(ge=0)
    state: ShareState = Field(
        default=ShareState.OFFERED,
        sa_type=StateType(ShareState),
        sa_column_kwargs={"server_default": "offered"},
    )
    codes_through: date | None = None
    refresh_at: datetime | None = None  # the end of the local day those codes were sent on


class Reservation(CloudModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    carrier_id: str = Field(foreign_key="carrier.id", index=True)
    bank_id: str = Field(foreign_key="bank.id", index=True)
    compartment_id: str = Field(foreign_key="compartment.id")
    size: str
    kind: str  # soft: held until expires_at; hard: until deposit or cancel
    state: ReservationState = Field(
        default=ReservationState.ACTIVE, sa_type=StateType(ReservationState)
    )
    expires_at: datetime | None = None
    idempotency_key: str | None = None
    request_hash: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    temperature_class: str = Field(default="ambient", sa_column_kwargs=AMBIENT_DEFAULT)

    __table_args__ = (
        Index(
            "one_active_reservation_per_compartment",
            "compartment_id",
            unique=True,
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
        UniqueConstraint(
            "carrier_id", "idempotency_key", name="one_reservation_per_idempotency_key"
        ),
    )


class Parcel(CloudModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    carrier_id: str = Field(foreign_key="carrier.id", index=True)
    waybill: str
    bank_id: str = Field(foreign_key="bank.id", index=True)
    recipient_phone: str
    consent: str
    status: ParcelStatus = Field(default=ParcelStatus.ANNOUNCED, sa_type=StateType(ParcelStatus))
    compartment_id: str | None = Field(default=None, foreign_key="compartment.id")
    courier_id: str | None = Field(default=None, foreign_key="courier.id")
    created_at: datetime = Field(default_factory=utcnow)
    group_id: str | None = Field(default=None, index=True)  # the bank's pickup group, once in
    edge_id: str | None = Field(default=None, index=True)  # the bank's id of it, once in
    temperature_class: str = Field(default="ambient", sa_column_kwargs=AMBIENT_DEFAULT)

    __table_args__ = (
        UniqueConstraint("carrier_id", "waybill"),
        Index(
            "one_parcel_in_locker_per_compartment",
            "compartment_id",
            unique=True,
            postgresql_where=text("status IN ('in_locker', 'return_pending')"),
            sqlite_where=text("status IN ('in_locker', 'return_pending')"),
        ),
    )


class ParcelEvent(CloudModel, table=True):
    """A parcel's status history."""

    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    parcel_id: str = Field(foreign_key="parcel.id", index=True)
    status: ParcelStatus = Field(sa_type=StateType(ParcelStatus))
    at: datetime = Field(default_factory=utcnow)
    source: str = ""


class Command(CloudModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    bank_id: str = Field(foreign_key="bank.id", index=True)
    type: str
    payload: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)
    ttl_s: float = 3600.0
    expires_at: datetime | None = Field(default=None, index=True)
    state: CommandState = Field(
        default=CommandState.PENDING, sa_type=StateType(CommandState), index=True
    )
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    last_sent_at: datetime | None = None


class CommandAck(CloudModel, table=True):
    command_id: str = Field(foreign_key="command.id", primary_key=True)
    outcome: str
    detail: str = ""
    at: datetime = Field(default_factory=utcnow)


class Alarm(CloudModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    bank_id: str = Field(foreign_key="bank.id", index=True)
    kind: str
    compartment: str = ""
    raised_at: datetime = Field(default_factory=utcnow)
    cleared_at: datetime | None = None
    # its lifecycle in the console (cloud.console.alarms): who acknowledged it and why, who
    # closed it by hand (None: cleared by its cause's end), and when it was escalated (once)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_note: str = Field(default="", sa_column_kwargs={"server_default": ""})
    cleared_by: str | None = None
    cleared_note: str = Field(default="", sa_column_kwargs={"server_default": ""})
    escalated_at: datetime | None = None

    # one open alarm per bank, kind and place, however many ingest workers raise it at once
    __table_args__ = (
        Index(
            "one_open_alarm",
            "bank_id",
            "kind",
            "compartment",
            unique=True,
            postgresql_where=text("cleared_at IS NULL"),
            sqlite_where=text("cleared_at IS NULL"),
        ),
    )

    @property
    def state(self) -> AlarmState:
        if self.cleared_at is not None:
            return AlarmState.CLEARED
        return AlarmState.RAISED if self.acknowledged_at is None else AlarmState.ACKNOWLEDGED

    def clear(self, at: datetime) -> None:
        """Cleared once: ``IllegalTransition`` for an alarm already cleared."""
        ALARM.step(self.state, AlarmState.CLEARED)
        self.cleared_at = at


class AuditEntry(CloudModel, table=True):
    """Append-only: who did what to what, and when."""

    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    at: datetime = Field(default_factory=utcnow)
    actor: str
    role: str
    action: str
    target: str
    detail: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON))


class Notification(CloudModel, table=True):
    """A message for a recipient: the notifier's outbox row (``cloud.messaging``), written in
    the transaction of its cause. ``sealed_code`` is the code as the bank sealed it for the
    notifier's key (decision 0011), the one copy in the cloud: purged once sent, or once the
    parcel leaves the locker. ``text`` is the plain summary whose ``{code}`` the notifier fills;
    the message itself is rendered from ``cloud/messaging/templates`` (decision 0016)."""

    id: str = Field(default_factory=new_id, primary_key=True)  # the key a repeat is known by
    event_id: str = Field(unique=True)  # its cause: one message per deposit event, reminder...
    bank_id: str = Field(foreign_key="bank.id", index=True)
    carrier_id: str
    waybill: str
    recipient_phone: str
    text: str
    sealed_code: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = Field(default=None, index=True)
    kind: MessageKind = Field(default=MessageKind.DEPOSIT, sa_type=StateType(MessageKind))
    group_id: str | None = Field(default=None, index=True)
    language: str = "zh"
    email: str | None = None
    deposited_at: datetime | None = None  # the group's deposit: its deadline counts from here
    state: MessageState = Field(default=MessageState.QUEUED, sa_type=StateType(MessageState))
    due_at: datetime | None = Field(default=None, index=True)  # not before (quiet hours, tries)
    attempts: int = 0
    lease_until: datetime | None = None  # a sending claim's end
    delivered_at: datetime | None = None
    provider_ref: str | None = None  # the gateway's id for it
    last_error: str = ""


class BankCursor(CloudModel, table=True):
    """How far a bank's event stream has been applied (or quarantined) without a gap."""

    bank_id: str = Field(foreign_key="bank.id", primary_key=True)
    applied_seq: int = 0
    advanced_at: datetime | None = None


class InboundEvent(CloudModel, table=True):
    """Every event received from a bank, once: applied in ``seq`` order, parked until then."""

    event_id: str = Field(primary_key=True)
    bank_id: str = Field(foreign_key="bank.id")
    seq: int
    type: str
    body: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON))
    received_at: datetime = Field(default_factory=utcnow)
    happened_at: datetime | None = None  # the envelope's time: when the bank says it happened
    applied: bool = False

    __table_args__ = (UniqueConstraint("bank_id", "seq", name="one_event_per_bank_seq"),)


class QuarantinedEvent(CloudModel, table=True):
    """An event of a bank the cloud could not apply (decision 0009), kept aside for an operator.

    ``raw`` is the envelope as received, as ASCII JSON text (NUL and surrogates escaped), at most
    ``RAW_MAX`` characters; ``parcel_id`` holds the later events of the same parcel behind it.
    """

    event_id: str = Field(foreign_key="inboundevent.event_id", primary_key=True)
    bank_id: str = Field(foreign_key="bank.id", index=True)
    seq: int
    type: str
    parcel_id: str | None = Field(default=None, index=True)
    raw: str
    reason: str
    state: QuarantineState = Field(default=QuarantineState.HELD, sa_type=StateType(QuarantineState))
    quarantined_at: datetime = Field(default_factory=utcnow)
    settled_at: datetime | None = None
    settled_by: str | None = None
