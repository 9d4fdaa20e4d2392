"""Request and response bodies (``XCreate`` in, ``XPublic`` out)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, Field

from cloud import models
from cloud.models import Consent, Slug
from cloud.services.keys import MAX_OVERLAP_S
from locker_contract.cold import TemperatureClass
from locker_contract.text import FiniteFloat, Text

# one definition, where the services take them too (cloud/models.py)
BankPublic = models.BankPublic
BankHealthPublic = models.BankHealthPublic
CompartmentCreate = models.CompartmentCreate
CourierCodePublic = models.CourierCodePublic
KeyPublic = models.KeyPublic
ReservationCreate = models.ReservationCreate


class ReservationPublic(BaseModel):
    id: str
    bank_id: str
    compartment_id: str
    size: str
    kind: str
    state: str
    expires_at: datetime | None
    created_at: datetime
    compartment: str | None = None  # its label, e.g. A07
    temperature_class: str = "ambient"  # issue 17


class ParcelCreate(BaseModel):
    waybill: Annotated[Text, Field(min_length=1, max_length=64)]
    bank_id: Slug
    recipient_phone: Annotated[Text, Field(min_length=7, max_length=32)]
    consent: Annotated[Consent, Field(description="How the recipient agreed to locker delivery")]
    # issue 17: a chilled or frozen parcel goes only into a compartment of its class
    temperature_class: TemperatureClass = TemperatureClass.AMBIENT


class ParcelPublic(BaseModel):
    id: str
    waybill: str
    bank_id: str
    status: str
    consent: str
    created_at: datetime
    compartment: str | None = None  # its label once deposited, e.g. A07
    temperature_class: str = "ambient"  # issue 17


class ParcelEventPublic(BaseModel):
    status: str
    at: datetime
    source: str


class ParcelHistory(ParcelPublic):
    history: list[ParcelEventPublic]


class CourierCreate(BaseModel):
    id: Annotated[Text, Field(min_length=1, max_length=64)]
    name: Annotated[Text, Field(max_length=120)] = ""
    # no PIN: a courier's kiosk codes are derived per bank and per day (GET .../courier-codes)


class CourierPublic(BaseModel):
    id: str
    name: str
    active: bool


class CourierCreated(CourierPublic):
    api_key: str


class CourierSelf(CourierPublic):
    carrier_id: str
    parcels: list[ParcelPublic]


class OperatorCreate(BaseModel):
    name: Annotated[Text, Field(min_length=1, max_length=120)]


class Created(BaseModel):
    """What was made; with a key, ``key_id`` names the key (to list, rotate or revoke it)."""

    id: str
    api_key: str | None = None
    key_id: str | None = None


ZONES = frozenset(available_timezones()) | {"UTC"}


def _known_zone(name: str) -> str:
    if name not in ZONES:
        raise ValueError("not an IANA time zone name, e.g. Asia/Shanghai or Europe/Berlin")
    return name


TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_known_zone)]


class SiteCreate(BaseModel):
    name: Annotated[Text, Field(min_length=1, max_length=120)]
    address: Annotated[Text, Field(max_length=300)] = ""
    lat: Annotated[FiniteFloat, Field(ge=-90, le=90)]
    lon: Annotated[FiniteFloat, Field(ge=-180, le=180)]
    operator_id: Text | None = None
    timezone: TimeZone = "UTC"  # couriers' codes change at its midnight


class BankCreate(BaseModel):
    id: Slug
    site_id: Text
    name: Annotated[Text, Field(max_length=120)] = ""
    compartments: Annotated[list[CompartmentCreate], Field(min_length=1, max_length=500)]


class CarrierCreate(BaseModel):
    id: Slug
    name: Annotated[Text, Field(min_length=1, max_length=120)]


class PolicySet(BaseModel):
    guaranteed: Annotated[int, Field(ge=0, le=10_000)]
    ceiling: Annotated[int, Field(ge=0, le=10_000)]


class SharePublic(BaseModel):
    """A share of a bank offered to a carrier: nothing of the carrier reaches the bank before
    it is ``accepted``."""

    bank_id: str
    guaranteed: int
    ceiling: int
    state: Literal["offered", "accepted", "declined", "withdrawn"]


class ManagerKeyCreate(BaseModel):
    label: Annotated[Text, Field(max_length=120)] = ""


KeyId = Annotated[str, Field(pattern=r"^[0-9a-f-]{36}$", description="a key's id")]


class KeyRotate(BaseModel):
    overlap_s: Annotated[
        FiniteFloat,
        Field(ge=0, le=MAX_OVERLAP_S, description="how long the old key stays valid; 0: at once"),
    ] = 0.0


class KeyCreated(models.KeyPublic):
    api_key: Annotated[str, Field(description="the new key, shown this once")]


class RemoteOpen(BaseModel):
    reason: Annotated[Text, Field(min_length=3, max_length=200)]


class MaintenanceSet(BaseModel):
    on: bool


class ServiceSet(BaseModel):
    in_service: bool
    reason: Annotated[Text, Field(min_length=1, max_length=200)]


class CommandPublic(BaseModel):
    """A command to a bank and, once the bank answered, its outcome (applied, expired,
    rejected, failed). ``state`` is pending until then, or expired without an answer."""

    id: str
    bank_id: str
    type: str
    state: str
    created_at: datetime
    expires_at: datetime | None
    attempts: int
    outcome: str | None = None
    detail: str = ""


class QuarantinedPublic(BaseModel):
    """An event of a bank the cloud could not apply, set aside so that the rest went on
    (decision 0009): ``held`` until an operator releases or drops it. ``preview`` is the raw
    event with the phone and codes masked."""

    event_id: str
    bank_id: str
    seq: int
    type: str
    reason: str
    state: str
    quarantined_at: datetime
    settled_at: datetime | None
    settled_by: str | None
    preview: str


class QuarantineRelease(BaseModel):
    event: dict[str, Any] | None = Field(
        default=None,
        description="The event corrected (as in the contract's Envelope.event), for an event "
        "the contract refused; its id, seq, bank and time stay as the bank sent them.",
    )


class SiteHealth(BaseModel):
    site_id: str
    name: str
    banks: list[BankHealthPublic]


class Problem(BaseModel):
    """An error: ``detail`` says what went wrong; some errors add fields (``nearest``,
    ``ceiling``, ``retry_after_s``, ``choices``)."""

    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Unprocessable(BaseModel):
    """422: the request's shape is wrong (a list of issues, from validation) or its content is
    (a sentence, from the services)."""

    detail: str | list[ValidationIssue]
