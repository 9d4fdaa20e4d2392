"""Commands from the cloud to one bank: one model per type, in an envelope with an id and a TTL.

The time to live is counted from receipt, never by comparing clocks: over MQTT 5 the broker
sends it as the Message Expiry Interval, decremented while the message waited; the edge counts
what is left from the moment it receives the message. The edge applies each command id at most
once and answers every delivery on ``cmd/ack``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from locker_contract.cold import TemperatureClass
from locker_contract.events import Label
from locker_contract.messages import Message
from locker_contract.storage import StoragePolicy
from locker_contract.text import FiniteFloat, Text
from locker_contract.vocabulary import Consent

Carrier = Annotated[Text, Field(min_length=1, max_length=64)]
Identifier = Annotated[Text, Field(min_length=1, max_length=64)]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReservationPush(_Command):
    """Hold ``compartment`` for ``carrier_id``: walk-up deposits of other carriers skip it."""

    type: Literal["reservation.push"] = "reservation.push"
    reservation_id: Identifier
    carrier_id: Carrier
    compartment: Label
    kind: Literal["soft", "hard"] = "hard"


class ReservationWithdraw(_Command):
    type: Literal["reservation.withdraw"] = "reservation.withdraw"
    reservation_id: Identifier


class PolicyPush(_Command):
    """A carrier's guaranteed share and ceiling at this bank (compartments held at once)."""

    type: Literal["policy.push"] = "policy.push"
    carrier_id: Carrier
    guaranteed: Annotated[int, Field(ge=0)]
    ceiling: Annotated[int, Field(ge=0)]


class ParcelAnnounce(_Command):
    """A waybill announced by its carrier, with the recipient's consent on record."""

    type: Literal["parcel.announce"] = "parcel.announce"
    waybill: Annotated[Text, Field(min_length=1, max_length=64)]
    carrier_id: Carrier
    recipient_phone: Annotated[Text, Field(min_length=3, max_length=32)]
    consent: Consent
    # a chilled or frozen parcel goes only into a compartment of its class (None: ambient)
    temperature_class: TemperatureClass | None = None


class CourierDayCode(BaseModel):
    """The verifier of a courier's code for one day at this bank (``locker_contract.credentials``):
    the code itself never travels, and it opens no other bank and no other day. ``day`` is the
    site's local date; the bank compares its clock with ``starts_at`` and ``ends_at``, that
    day's local midnights, and needs to know no time zone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: date
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    salt: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    verifier: Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]

    @model_validator(mode="after")
    def _a_day_long(self) -> CourierDayCode:
        hours = (self.ends_at - self.starts_at).total_seconds() / 3600
        if not 22 <= hours <= 26:  # 23 or 25 on a day the clocks change (and Lord Howe's 23.5)
            raise ValueError("a day's code must last from one midnight to the next")
        return self


class CourierPush(_Command):
    """A courier's kiosk credential at this bank: the verifiers of its per-bank, per-day codes
    for the days ahead (the bank works offline), never a code. The edge keys each verifier once
    more under the bank key before storing it; a push replaces the courier's earlier days."""

    type: Literal["courier.push"] = "courier.push"
    courier_id: Identifier
    carrier_id: Carrier
    name: Annotated[Text, Field(max_length=120)] = ""
    codes: Annotated[list[CourierDayCode], Field(min_length=1, max_length=14)]


class CourierRevoke(_Command):
    type: Literal["courier.revoke"] = "courier.revoke"
    courier_id: Identifier


class CarrierWithdraw(_Command):
    """The carrier withdrew (or declined) its share of this bank: its couriers' credentials, its
    policy, its reservations and its announcements here go."""

    type: Literal["carrier.withdraw"] = "carrier.withdraw"
    carrier_id: Carrier


class CompartmentServiceSet(_Command):
    type: Literal["compartment.service"] = "compartment.service"
    compartment: Label
    in_service: bool
    reason: Annotated[Text, Field(min_length=1, max_length=200)]


class MaintenanceSet(_Command):
    type: Literal["bank.maintenance"] = "bank.maintenance"
    on: bool


class KeypadReenable(_Command):
    type: Literal["keypad.reenable"] = "keypad.reenable"


class RemoteOpen(_Command):
    """Open one door from afar. The reason and who asked are audited in the cloud and, with
    the unlock, in the bank's own event stream."""

    type: Literal["door.open"] = "door.open"
    compartment: Label
    reason: Annotated[Text, Field(min_length=3, max_length=200)]
    requested_by: Annotated[Text, Field(min_length=1, max_length=120)]


class StoragePolicyPush(_Command):
    """The site's storage policy (``locker_contract.storage``): the bank counts free hours,
    fees and deadlines with it, offline too. A push replaces the one before for the parcels
    deposited from then on; each parcel keeps the policy it was deposited under (the terms its
    recipient was told), and its deposit event says which."""

    type: Literal["storage.policy"] = "storage.policy"
    policy: StoragePolicy


# --- the recipient's page (decision 0018) ------------------------------------------------------

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Hex128 = Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]


class GroupExtend(_Command):
    """The recipient extended their pickup group's storage, once: ``hours`` more before its
    parcels become returns."""

    type: Literal["group.extend"] = "group.extend"
    group_id: Identifier
    hours: Annotated[FiniteFloat, Field(gt=0, le=168)]


class GroupShare(_Command):
    """A second code for the pickup group, for someone who picks up for the recipient: its
    verifier (``credentials.pin_verifier`` under ``salt``, the bank's share salt), never the
    code. The bank keys it once more under its own key before storing it."""

    type: Literal["group.share"] = "group.share"
    group_id: Identifier
    share_id: Identifier
    salt: Hex32
    verifier: Hex128


class GroupUnshare(_Command):
    """That second code stops opening anything."""

    type: Literal["group.unshare"] = "group.unshare"
    share_id: Identifier


class ParcelRefuse(_Command):
    """The recipient refused a parcel from their page, without going to the locker: it
    becomes a return for its carrier, as if refused at the door."""

    type: Literal["parcel.refuse"] = "parcel.refuse"
    group_id: Identifier
    carrier_id: Carrier
    waybill: Annotated[Text, Field(min_length=1, max_length=64)]
    reason: Annotated[Text, Field(min_length=1, max_length=200)]


class RecipientRefusal(_Command):
    """A recipient who said no to locker delivery (``refused``), or took it back: the bank
    refuses deposits for their phone. The phone travels as its verifier
    (``credentials.pin_verifier`` of the normalised number under ``salt``), never in plain."""

    type: Literal["recipient.refusal"] = "recipient.refusal"
    salt: Hex32
    verifier: Hex128
    refused: bool


Command = Annotated[
    ReservationPush
    | ReservationWithdraw
    | PolicyPush
    | ParcelAnnounce
    | CourierPush
    | CourierRevoke
    | CarrierWithdraw
    | CompartmentServiceSet
    | MaintenanceSet
    | KeypadReenable
    | RemoteOpen
    | StoragePolicyPush
    | GroupExtend
    | GroupShare
    | GroupUnshare
    | ParcelRefuse
    | RecipientRefusal,
    Field(discriminator="type"),
]
CommandAdapter: TypeAdapter[Command] = TypeAdapter(Command)
COMMAND_TYPES = tuple(
    model.model_fields["type"].default
    for model in (
        ReservationPush,
        ReservationWithdraw,
        PolicyPush,
        ParcelAnnounce,
        CourierPush,
        CourierRevoke,
        CarrierWithdraw,
        CompartmentServiceSet,
        MaintenanceSet,
        KeypadReenable,
        RemoteOpen,
        StoragePolicyPush,
        GroupExtend,
        GroupShare,
        GroupUnshare,
        ParcelRefuse,
        RecipientRefusal,
    )
)


class CommandEnvelope(Message):
    """One command as it travels. ``ttl_s`` is what was left when the cloud sent it. The edge
    counts down from its receipt both the broker's remaining expiry interval (MQTT 5) and
    ``ttl_s`` less the age of ``sent_at`` on the cloud's clock as learnt from its acks, and
    keeps the smaller of those it knows."""

    command_id: Identifier
    sent_at: AwareDatetime
    ttl_s: Annotated[FiniteFloat, Field(gt=0)]
    command: Command
