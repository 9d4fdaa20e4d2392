"""Edge events: what happened at a bank, one model per type, in a versioned envelope.

The edge writes each event in the same local transaction as the state change it reports
(transactional outbox) and publishes it at least once; the cloud de-duplicates by ``event_id``
and applies a bank's events in ``seq`` order.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from locker_contract.cold import SAMPLES_PER_BATCH_MAX, SampleFailure, TemperatureClass, ZoneName
from locker_contract.sealing import SEALED_MAX, SEALED_MIN, SEALED_PATTERN
from locker_contract.storage import StoragePolicy
from locker_contract.text import FiniteFloat, Text

SCHEMA_VERSION: Literal[1] = 1
BANK_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"

Label = Annotated[str, Field(pattern=r"^[A-Z][0-9]{2}$", examples=["A07"])]
SEQ_MAX = 2**31 - 1  # a bank's stream position, stored by the cloud as a 32-bit INTEGER
Seq = Annotated[int, Field(ge=0, le=SEQ_MAX)]  # past the bound: a message refused, not a store


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnlockRequested(_Event):
    """Committed before the unlock frame is sent: the door may move from here on."""

    type: Literal["door.unlock_requested"] = "door.unlock_requested"
    compartment: Label
    intent_id: UUID
    reason: Text
    flow: Text


class UnlockAbandoned(_Event):
    """The unlock frame was certainly not sent (board offline, port gone), or a restart found
    the intent unanswered with the door shut."""

    type: Literal["door.unlock_abandoned"] = "door.unlock_abandoned"
    compartment: Label
    intent_id: UUID
    reason: Text


class DoorOpened(_Event):
    type: Literal["door.opened"] = "door.opened"
    compartment: Label
    intent_id: UUID | None = None


class DoorAlreadyOpen(_Event):
    type: Literal["door.already_open"] = "door.already_open"
    compartment: Label
    intent_id: UUID


class DoorJammed(_Event):
    type: Literal["door.jammed"] = "door.jammed"
    compartment: Label
    intent_id: UUID
    jam_count: int


class DoorOutcomeUnknown(_Event):
    type: Literal["door.outcome_unknown"] = "door.outcome_unknown"
    compartment: Label
    intent_id: UUID


class DoorLeftOpen(_Event):
    type: Literal["door.left_open"] = "door.left_open"
    compartment: Label
    open_for_s: FiniteFloat


class DoorForcedOpen(_Event):
    type: Literal["door.forced_open"] = "door.forced_open"
    compartment: Label


class DoorClosed(_Event):
    type: Literal["door.closed"] = "door.closed"
    compartment: Label


class CompartmentService(_Event):
    type: Literal["compartment.service"] = "compartment.service"
    compartment: Label
    in_service: bool
    reason: Text


class BoardHealthChanged(_Event):
    type: Literal["board.health"] = "board.health"
    bus: Text
    board: int
    online: bool


_SEALED_EXAMPLE = "fKiiqs3gY1wPdr1blKG1Mn3/Y0cE4Ri3LaWGDkVCXlD2g5jrf8JYsoi/amhA7oVu3mUkwPa8Oqg="
SealedCode = Annotated[
    str,
    Field(
        min_length=SEALED_MIN,
        max_length=SEALED_MAX,
        pattern=SEALED_PATTERN,
        examples=[_SEALED_EXAMPLE],
    ),
]


class ParcelDeposited(_Event):
    """The only place a pickup code leaves the edge, sealed for the cloud's notifier.

    ``sealed_code`` (see ``locker_contract.sealing``) is None when the parcel joined the
    recipient's active pickup group (the code they hold opens it too), and when the bank has no
    notifier key (the courier was shown the code to hand on; decision 0011).
    """

    type: Literal["parcel.deposited"] = "parcel.deposited"
    parcel_id: UUID
    waybill: Text
    carrier: Text
    courier_id: Text
    compartment: Label
    recipient_phone: Text
    group_id: UUID
    sealed_code: SealedCode | None
    consent: Text
    flagged_for_review: bool
    # when the door shut on it, and the storage policy it is kept under (None from older banks)
    deposited_at: AwareDatetime | None = None
    storage: StoragePolicy | None = None
    # the compartment's temperature class (``locker_contract.cold``; None from older banks)
    temperature_class: TemperatureClass | None = None


class ParcelPickedUp(_Event):
    type: Literal["parcel.picked_up"] = "parcel.picked_up"
    parcel_id: UUID
    waybill: Text
    compartment: Label


class ParcelRefused(_Event):
    type: Literal["parcel.refused"] = "parcel.refused"
    parcel_id: UUID
    waybill: Text
    reason: Text


class ParcelReturned(_Event):
    type: Literal["parcel.returned"] = "parcel.returned"
    parcel_id: UUID
    waybill: Text
    courier_id: Text


class DepositAbandoned(_Event):
    type: Literal["deposit.abandoned"] = "deposit.abandoned"
    waybill: Text
    compartment: Label
    reason: Literal["cancelled", "nothing_put_in", "does_not_fit", "door_failed", "timeout"]


class KioskLockout(_Event):
    type: Literal["kiosk.lockout"] = "kiosk.lockout"
    scope: Text
    failures: int
    lockout_s: FiniteFloat
    disabled: bool


class StorageOutageChanged(_Event):
    """An outage that stops parcels' storage clocks (``locker_contract.storage``) began, or
    ended (``ended_at``): the bank in maintenance (no compartment), or a door that failed to
    open for its parcel. The cloud counts deadlines from these, as the bank does."""

    type: Literal["storage.outage"] = "storage.outage"
    outage_id: UUID
    compartment: Label | None = None
    cause: Literal["maintenance", "door_failed"]
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None


class ParcelFeeSettled(_Event):
    """What a parcel owed for storage when it left: paid through the provider, or recorded as
    owed (the provider down or declining: the parcel is released anyway; decision 0017)."""

    type: Literal["parcel.fee"] = "parcel.fee"
    parcel_id: UUID
    waybill: Text
    amount_minor: Annotated[int, Field(ge=0)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    state: Literal["paid", "owed"]
    reference: Annotated[Text, Field(max_length=120)] = ""


class Reading(BaseModel):
    """A good sample of a zone's sensor: its temperature, and humidity if the sensor has it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    celsius: FiniteFloat
    humidity: Annotated[FiniteFloat, Field(ge=0, le=100)] | None = None


class FailedReading(BaseModel):
    """A sample the sensor failed, and why: recorded, never skipped, so the trace shows the
    gap."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    failure: SampleFailure


ZoneSample = Reading | FailedReading


class ZoneSamples(_Event):
    """A batch of a zone's samples, oldest first (``locker_contract.cold``: at most
    ``SAMPLES_PER_BATCH_MAX``). Sent through the outbox like every event, so the samples taken
    offline reach the cloud on reconnect."""

    type: Literal["zone.samples"] = "zone.samples"
    zone: ZoneName
    temperature_class: TemperatureClass
    samples: Annotated[list[ZoneSample], Field(min_length=1, max_length=SAMPLES_PER_BATCH_MAX)]


class ZoneExcursionStarted(_Event):
    """A zone stayed out of its class's range longer than the class's duration: from
    ``out_since`` (its first good sample out of range) to at least ``detected_at``."""

    type: Literal["zone.excursion_started"] = "zone.excursion_started"
    excursion_id: UUID
    zone: ZoneName
    temperature_class: TemperatureClass
    out_since: AwareDatetime
    detected_at: AwareDatetime
    celsius: FiniteFloat  # the sample that made it one


class ZoneExcursionEnded(_Event):
    """The zone is back in range (its first good sample within it, at ``back_at``); the
    extremes are those of the good samples from ``out_since`` on."""

    type: Literal["zone.excursion_ended"] = "zone.excursion_ended"
    excursion_id: UUID
    zone: ZoneName
    temperature_class: TemperatureClass
    out_since: AwareDatetime
    back_at: AwareDatetime
    min_celsius: FiniteFloat
    max_celsius: FiniteFloat


class ZoneSensorHealth(_Event):
    """A watched zone's sensor stopped answering sensibly (``ok`` false, with the failure of its
    first bad sample), or answers again."""

    type: Literal["zone.sensor"] = "zone.sensor"
    zone: ZoneName
    temperature_class: TemperatureClass
    ok: bool
    failure: SampleFailure | None = None
    since: AwareDatetime


class MaintenanceChanged(_Event):
    type: Literal["bank.maintenance"] = "bank.maintenance"
    on: bool


Event = Annotated[
    UnlockRequested
    | UnlockAbandoned
    | DoorOpened
    | DoorAlreadyOpen
    | DoorJammed
    | DoorOutcomeUnknown
    | DoorLeftOpen
    | DoorForcedOpen
    | DoorClosed
    | CompartmentService
    | BoardHealthChanged
    | ParcelDeposited
    | ParcelPickedUp
    | ParcelRefused
    | ParcelReturned
    | DepositAbandoned
    | KioskLockout
    | MaintenanceChanged
    | StorageOutageChanged
    | ParcelFeeSettled
    | ZoneSamples
    | ZoneExcursionStarted
    | ZoneExcursionEnded
    | ZoneSensorHealth,
    Field(discriminator="type"),
]
EventAdapter: TypeAdapter[Event] = TypeAdapter(Event)


class Envelope(BaseModel):
    """One event as it travels: identity, order, time and schema version around the event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    bank_id: Annotated[str, Field(pattern=BANK_ID_PATTERN)]
    seq: Annotated[Seq, Field(ge=1)]
    time: AwareDatetime
    schema_version: Literal[1] = SCHEMA_VERSION
    event: Event
