"""Sample payloads, as a sender would put them on the wire: one of every command, event and message,
and messages each wrong in one way.

The models must accept every ``GOOD`` sample and refuse every ``BAD`` one; so must the generated
JSON Schemas (``test_schema.py``).
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel

from locker_contract.commands import CommandEnvelope
from locker_contract.events import Envelope, Event
from locker_contract.messages import BankState, BankStatus, CommandAck, EventsAck, Heartbeat

Json = dict[str, Any]

TIME = "2025-01-01T08:00:00Z"
BANK = "berlin-mitte-01"
UUID_1 = "4f8b1c2e-6d0a-4e55-9a57-0c1d2e3f4a5b"
UUID_2 = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
SALT = "0123456789abcdef0123456789abcdef"
VERIFIER = "0123456789abcdef" * 8
DAY = {
    "day": "2025-01-01",
    "starts_at": "2024-12-31T16:00:00Z",  # one day's courier code
    "ends_at": "2025-01-01T16:00:00Z",
    "salt": SALT,
    "verifier": VERIFIER,
}  # at UTC+8

_MODELS = (Envelope, EventsAck, BankState, BankStatus, Heartbeat, CommandEnvelope, CommandAck)
MESSAGES: dict[str, type[BaseModel]] = {model.__name__: model for model in _MODELS}

# The fields of one command of each type, ``type`` left out.
COMMANDS: dict[str, Json] = {
    "reservation.push": {"reservation_id": "r-1", "carrier_id": "dhl", "compartment": "A07",
                         "kind": "soft"},
    "reservation.withdraw": {"reservation_id": "r-1"},
    "policy.push": {"carrier_id": "dhl", "guaranteed": 2, "ceiling": 5},
    "parcel.announce": {"waybill": "JD0001", "carrier_id": "dhl",
                        "recipient_phone": "+4915112345678", "consent": "recipient_app"},
    "courier.push": {"courier_id": "c-1", "carrier_id": "dhl", "name": "Ana",
                     "codes": [DAY]},
    "courier.revoke": {"courier_id": "c-1"},
    "carrier.withdraw": {"carrier_id": "dhl"},
    "compartment.service": {"compartment": "A07", "in_service": False, "reason": "broken hinge"},
    "bank.maintenance": {"on": True},
    "keypad.reenable": {},
    "door.open": {"compartment": "A07", "reason": "recipient locked out", "requested_by": "ops"},
    "storage.policy": {"policy": {"free_hours": 18, "keep_hours": 168, "fee_minor": 50,
                                  "period_hours": 12, "cap_minor": 300, "currency": "CNY"}},
    "group.extend": {"group_id": UUID_2, "hours": 24},
    "group.share": {"group_id": UUID_2, "share_id": "s-1", "salt": "ab" * 16,
                    "verifier": "cd" * 64},
    "group.unshare": {"share_id": "s-1"},
    "parcel.refuse": {"group_id": UUID_2, "carrier_id": "dhl", "waybill": "JD0001",
                      "reason": "not ordered"},
    "recipient.refusal": {"salt": "ab" * 16, "verifier": "cd" * 64, "refused": True},
}  # fmt: skip

# The fields of one event of each type, ``type`` left out.
EVENTS: dict[str, Json] = {
    "door.unlock_requested": {"compartment": "A07", "intent_id": UUID_2, "reason": "pickup",
                              "flow": "pickup"},
    "door.unlock_abandoned": {"compartment": "A07", "intent_id": UUID_2, "reason": "board offline"},
    "door.opened": {"compartment": "A07", "intent_id": None},
    "door.already_open": {"compartment": "A07", "intent_id": UUID_2},
    "door.jammed": {"compartment": "A07", "intent_id": UUID_2, "jam_count": 2},
    "door.outcome_unknown": {"compartment": "A07", "intent_id": UUID_2},
    "door.left_open": {"compartment": "A07", "open_for_s": 120.5},
    "door.forced_open": {"compartment": "A07"},
    "door.closed": {"compartment": "A07"},
    "compartment.service": {"compartment": "A07", "in_service": False, "reason": "hinge"},
    "board.health": {"bus": "rs485-0", "board": 1, "online": False},
    "parcel.deposited": {"parcel_id": UUID_2, "waybill": "JD0001", "carrier": "dhl",
                         "courier_id": "c-1", "compartment": "A07",
                         "recipient_phone": "+4915112345678", "group_id": UUID_1,
                         "sealed_code": None, "consent": "recipient_app",
                         "flagged_for_review": False},
    "parcel.picked_up": {"parcel_id": UUID_2, "waybill": "JD0001", "compartment": "A07"},
    "parcel.refused": {"parcel_id": UUID_2, "waybill": "JD0001", "reason": "damaged"},
    "parcel.returned": {"parcel_id": UUID_2, "waybill": "JD0001", "courier_id": "c-1"},
    "deposit.abandoned": {"waybill": "JD0001", "compartment": "A07", "reason": "does_not_fit"},
    "kiosk.lockout": {"scope": "pickup", "failures": 5, "lockout_s": 60.0, "disabled": False},
    "bank.maintenance": {"on": True},
    "storage.outage": {"outage_id": UUID_1, "compartment": None, "cause": "maintenance",
                       "started_at": TIME, "ended_at": None},
    "parcel.fee": {"parcel_id": UUID_2, "waybill": "JD0001", "amount_minor": 150,
                   "currency": "CNY", "state": "owed", "reference": ""},
    "zone.samples": {"zone": "fridge-1", "temperature_class": "chilled",
                     "samples": [{"at": TIME, "celsius": 4.5, "humidity": 61.0},
                                 {"at": TIME, "failure": "no_answer"}]},
    "zone.excursion_started": {"excursion_id": UUID_1, "zone": "fridge-1",
                               "temperature_class": "chilled", "out_since": TIME,
                               "detected_at": TIME, "celsius": 9.5},
    "zone.excursion_ended": {"excursion_id": UUID_1, "zone": "fridge-1",
                             "temperature_class": "chilled", "out_since": TIME, "back_at": TIME,
                             "min_celsius": 8.2, "max_celsius": 11.0},
    "zone.sensor": {"zone": "fridge-1", "temperature_class": "chilled", "ok": False,
                    "failure": "bad_reply", "since": TIME},
}  # fmt: skip

EVENT_TYPES = tuple(model.model_fields["type"].default for model in get_args(get_args(Event)[0]))


def command(type_: str, **fields: Any) -> Json:
    """A command envelope around one command of ``type_``."""
    body = {"type": type_, **COMMANDS.get(type_, {}), **fields}
    return {"v": 1, "command_id": "cmd-1", "sent_at": TIME, "ttl_s": 300.0, "command": body}


def envelope(type_: str, **fields: Any) -> Json:
    """An event envelope around one event of ``type_``."""
    body = {"type": type_, **EVENTS.get(type_, {}), **fields}
    return {"event_id": UUID_1, "bank_id": BANK, "seq": 1, "time": TIME, "schema_version": 1,
            "event": body}  # fmt: skip


COMPARTMENT = {"label": "A07", "size": "M", "in_service": True, "door": "closed", "occupied": True,
               "reserved_for": None}  # fmt: skip

# (message, payload)
GOOD: list[tuple[str, Json]] = [
    *(("CommandEnvelope", command(type_)) for type_ in COMMANDS),
    *(("Envelope", envelope(type_)) for type_ in EVENTS),
    ("Envelope", {k: v for k, v in envelope("door.closed").items() if k != "schema_version"}),
    ("EventsAck", {"v": 1, "seq": 0, "cloud_time": TIME}),
    ("EventsAck", {"seq": 42, "cloud_time": TIME}),  # v may be left out: it means 1
    ("EventsAck", {"v": 1, "seq": 42, "cloud_time": TIME,
                   "refused": [{"seq": 41, "reason": "event.waybill: not printable"}]}),
    ("BankState", {"v": 1, "time": TIME, "maintenance": False, "compartments": [COMPARTMENT]}),
    ("BankState", {"v": 1, "time": TIME, "maintenance": True, "compartments": []}),
    ("BankState", {"v": 1, "time": TIME, "maintenance": False,
                   "compartments": [{**COMPARTMENT, "temperature_class": "chilled"}]}),
    ("BankStatus", {"v": 1, "state": "online", "since": TIME}),
    ("BankStatus", {"v": 1, "state": "offline", "since": None}),  # the Last Will
    ("Heartbeat", {"v": 1, "edge_time": TIME, "last_seq": 42, "acked_seq": 40, "uptime_s": 12.5,
                   "boards_online": 1, "boards_total": 2}),
    ("CommandAck", {"v": 1, "command_id": "cmd-1", "outcome": "applied", "edge_time": TIME}),
    ("CommandAck", {"v": 1, "command_id": "cmd-1", "outcome": "expired", "detail": "too late",
                    "repeat": True, "edge_time": TIME}),
]  # fmt: skip

_ACK = {"v": 1, "seq": 1, "cloud_time": TIME}
_BEAT = {"v": 1, "edge_time": TIME, "last_seq": 1, "acked_seq": 1, "uptime_s": 1.0,
         "boards_online": 1, "boards_total": 1}  # fmt: skip

# (message, payload, what is wrong)
BAD: list[tuple[str, Json, str]] = [
    ("CommandEnvelope", command("door.explode"), "unknown command type"),
    ("CommandEnvelope", {**command("bank.maintenance"), "command": {"on": True}}, "no type"),
    ("CommandEnvelope", {**command("keypad.reenable"), "command": {}}, "empty command"),
    ("CommandEnvelope", {**command("keypad.reenable"), "v": 2}, "unknown version"),
    ("CommandEnvelope", {**command("keypad.reenable"), "priority": 1}, "extra envelope field"),
    ("CommandEnvelope", command("bank.maintenance", force=True), "extra command field"),
    ("CommandEnvelope", {**command("keypad.reenable"), "ttl_s": 0}, "no time to live"),
    ("CommandEnvelope", {**command("keypad.reenable"), "command_id": ""}, "empty command id"),
    ("CommandEnvelope", {**command("keypad.reenable"), "command_id": "x" * 65}, "long id"),
    ("CommandEnvelope", command("courier.push", codes=[DAY | {"salt": SALT.upper()}]),
     "salt not lowercase"),
    ("CommandEnvelope", command("courier.push", codes=[DAY | {"verifier": VERIFIER[:-1]}]),
     "verifier too short"),
    ("CommandEnvelope", command("courier.push", codes=[DAY | {"day": "yesterday"}]), "not a day"),
    ("CommandEnvelope", command("courier.push", codes=[DAY | {"ends_at": "2025-01-01T16:00:00"}]),
     "a day's end in no time zone"),
    ("CommandEnvelope", command("courier.push", codes=[]), "no day's code"),
    ("CommandEnvelope", command("courier.push", salt=SALT, verifier=VERIFIER), "a PIN verifier"),
    ("CommandEnvelope", command("door.open", reason="no"), "reason too short"),
    ("CommandEnvelope", command("door.open", compartment="a7"), "not a label"),
    ("CommandEnvelope", command("parcel.announce", consent="assumed"), "unknown consent"),
    ("CommandEnvelope", command("policy.push", ceiling=-1), "negative ceiling"),
    ("Envelope", envelope("door.teleported"), "unknown event type"),
    ("Envelope", {**envelope("door.closed"), "event": {"compartment": "A07"}}, "no type"),
    ("Envelope", {**envelope("door.closed"), "seq": 0}, "seq from 1"),
    ("Envelope", {**envelope("door.closed"), "bank_id": "Berlin_01"}, "bad bank id"),
    ("Envelope", {**envelope("door.closed"), "event_id": "not-a-uuid"}, "bad event id"),
    ("Envelope", {**envelope("door.closed"), "v": 1}, "the envelope has schema_version, not v"),
    ("Envelope", envelope("deposit.abandoned", reason="bored"), "unknown reason"),
    ("Envelope", envelope("zone.samples", samples=[]), "an empty batch"),
    ("Envelope", envelope("zone.samples", temperature_class="warm"), "unknown class"),
    ("Envelope", envelope("zone.samples", zone="Fridge 1"), "bad zone name"),
    ("Envelope", envelope("zone.samples", samples=[{"at": TIME, "humidity": 50.0}]),
     "neither a temperature nor a failure"),
    ("Envelope", envelope("zone.samples", samples=[{"at": TIME, "celsius": 4.0,
                                                    "failure": "no_answer"}]),
     "a temperature and a failure"),
    ("Envelope", envelope("zone.samples", samples=[{"at": TIME, "celsius": 4.0}] * 61),
     "a batch too long"),
    ("Envelope", envelope("zone.sensor", failure="tired"), "unknown failure"),
    ("CommandEnvelope", command("parcel.announce", temperature_class="tepid"), "unknown class"),
    ("EventsAck", {**_ACK, "v": 2}, "unknown version"),
    ("EventsAck", {**_ACK, "seq": -1}, "negative seq"),
    ("EventsAck", {**_ACK, "bank_id": BANK}, "extra field"),
    ("EventsAck", {"v": 1, "seq": 1}, "no cloud time"),
    ("BankState", {"v": 1, "time": TIME, "maintenance": False,
                   "compartments": [{**COMPARTMENT, "size": "XXL"}]}, "unknown size"),
    ("BankState", {"v": 1, "time": TIME, "maintenance": False,
                   "compartments": [{**COMPARTMENT, "temperature_class": "hot"}]},
     "unknown temperature class"),
    ("BankStatus", {"v": 1, "state": "asleep"}, "unknown state"),
    ("Heartbeat", {**_BEAT, "uptime_s": -1.0}, "negative uptime"),
    ("Heartbeat", {k: v for k, v in _BEAT.items() if k != "last_seq"}, "no last_seq"),
    ("CommandAck", {"v": 1, "command_id": "cmd-1", "outcome": "done", "edge_time": TIME},
     "unknown outcome"),
]  # fmt: skip
