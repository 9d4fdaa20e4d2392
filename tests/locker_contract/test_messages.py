"""Decoding the link's messages: what is accepted, and ``BadMessage`` for everything else."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from locker_contract.commands import (
    COMMAND_TYPES,
    CommandAdapter,
    CommandEnvelope,
    CourierPush,
    KeypadReenable,
    RemoteOpen,
)
from locker_contract.credentials import day_code, day_salt, new_salt, pin_verifier
from locker_contract.errors import BadMessage, ContractError
from locker_contract.events import SCHEMA_VERSION, SEQ_MAX, DoorClosed, Envelope, EventAdapter
from locker_contract.messages import BankStatus, CommandAck, EventsAck, Heartbeat, decode
from tests.locker_contract.samples import (
    COMMANDS,
    DAY,
    EVENT_TYPES,
    EVENTS,
    GOOD,
    MESSAGES,
    SALT,
    TIME,
    VERIFIER,
    command,
    envelope,
)

ACK = {"v": 1, "seq": 3, "cloud_time": TIME}


# --- decode -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "payload"), GOOD)
def test_decode_accepts_good_messages(name: str, payload: dict[str, Any]) -> None:
    model = MESSAGES[name]
    message = decode(model, json.dumps(payload))
    assert isinstance(message, model)
    assert decode(model, message.model_dump_json()) == message  # what we send, we read


@pytest.mark.parametrize("as_type", [bytes, bytearray, str])
def test_decode_takes_bytes_bytearray_and_str(as_type: type[Any]) -> None:
    text = json.dumps(ACK)
    payload = as_type(text.encode()) if as_type is not str else text
    assert decode(EventsAck, payload).seq == 3


def test_decode_keeps_time_zones() -> None:
    ack = decode(EventsAck, json.dumps(ACK))
    assert ack.cloud_time.utcoffset() is not None


@pytest.mark.parametrize(
    "payload", [b"", b"{", b"not json", b"null", b"[]", b'"ack"', b"\xff\xfe", b'{"v": 1,}']
)
def test_malformed_json_is_a_bad_message(payload: bytes) -> None:
    with pytest.raises(BadMessage, match="bad EventsAck"):
        decode(EventsAck, payload)


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (EventsAck, {**ACK, "v": 2}),
        (EventsAck, {**ACK, "v": "1"}),
        (BankStatus, {"v": 2, "state": "online"}),
        (CommandAck, {"v": 0, "command_id": "c", "outcome": "applied", "edge_time": TIME}),
        (CommandEnvelope, {**command("keypad.reenable"), "v": 2}),
    ],
)
def test_an_unknown_version_is_a_bad_message(model: Any, payload: dict[str, Any]) -> None:
    with pytest.raises(BadMessage, match=r"\bv: "):
        decode(model, json.dumps(payload))


def test_version_may_be_left_out_and_means_1() -> None:
    assert decode(EventsAck, json.dumps({"seq": 3, "cloud_time": TIME})).v == 1


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (EventsAck, {**ACK, "bank_id": "bank-1"}),
        (BankStatus, {"v": 1, "state": "online", "reason": "boot"}),
        (CommandEnvelope, {**command("keypad.reenable"), "priority": 1}),
        (CommandEnvelope, command("bank.maintenance", force=True)),
        (Envelope, envelope("door.closed", note="draughty")),
        (Envelope, {**envelope("door.closed"), "v": 1}),
    ],
)
def test_an_extra_field_is_a_bad_message(model: Any, payload: dict[str, Any]) -> None:
    with pytest.raises(BadMessage, match="extra_forbidden"):
        decode(model, json.dumps(payload))


def test_a_missing_field_is_a_bad_message() -> None:
    beat = {"v": 1, "edge_time": TIME, "last_seq": 1, "acked_seq": 1, "uptime_s": 1.0}
    with pytest.raises(BadMessage, match="boards_online"):
        decode(Heartbeat, json.dumps(beat))


def test_bad_message_is_a_contract_error() -> None:
    assert issubclass(BadMessage, ContractError)
    assert issubclass(BadMessage, ValueError)


# --- events -----------------------------------------------------------------------------------


def test_samples_cover_every_event_type() -> None:
    assert set(EVENTS) == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES))


def test_envelope_defaults_to_the_current_schema_version() -> None:
    payload = {k: v for k, v in envelope("door.closed").items() if k != "schema_version"}
    decoded = decode(Envelope, json.dumps(payload))
    assert decoded.schema_version == SCHEMA_VERSION
    assert decoded.event == DoorClosed(compartment="A07")


@pytest.mark.parametrize("type_", EVENT_TYPES)
def test_event_adapter_accepts_each_event_type(type_: str) -> None:
    event = EventAdapter.validate_python({"type": type_, **EVENTS[type_]})
    assert event.type == type_


# --- commands ---------------------------------------------------------------------------------


def test_samples_cover_every_command_type() -> None:
    assert set(COMMANDS) == set(COMMAND_TYPES)
    assert len(COMMAND_TYPES) == len(set(COMMAND_TYPES))  # each type named once


@pytest.mark.parametrize("type_", COMMAND_TYPES)
def test_command_adapter_accepts_each_command_type(type_: str) -> None:
    parsed = CommandAdapter.validate_json(json.dumps({"type": type_, **COMMANDS[type_]}))
    assert parsed.type == type_
    again = CommandAdapter.validate_json(CommandAdapter.dump_json(parsed))
    assert again == parsed


@pytest.mark.parametrize("body", [{"type": "door.explode"}, {"type": None}, {"type": 1}])
def test_command_adapter_refuses_an_unknown_type(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="union_tag_invalid"):
        CommandAdapter.validate_python(body)


@pytest.mark.parametrize("body", [{}, {"on": True}])
def test_command_adapter_refuses_a_command_without_its_type(body: dict[str, Any]) -> None:
    """The member models give ``type`` a default, but the union needs it to choose one."""
    with pytest.raises(ValidationError, match="union_tag_not_found"):
        CommandAdapter.validate_python(body)
    assert KeypadReenable.model_validate({}).type == "keypad.reenable"  # alone, it defaults


def test_command_envelope_carries_one_command() -> None:
    decoded = decode(CommandEnvelope, json.dumps(command("door.open")))
    assert isinstance(decoded.command, RemoteOpen)
    assert decoded.command.requested_by == "ops"
    assert decoded.ttl_s == 300.0


# --- courier credentials ----------------------------------------------------------------------


def _courier(**day: Any) -> dict[str, Any]:
    code = DAY | day
    return {"type": "courier.push", **COMMANDS["courier.push"], "codes": [code]}


def test_courier_push_takes_what_credentials_computes() -> None:
    salt = new_salt()
    push = CourierPush.model_validate(_courier(salt=salt, verifier=pin_verifier("48291537", salt)))
    assert push.codes[0].salt == salt


@pytest.mark.parametrize(
    "salt",
    [SALT[:-1], SALT + "0", SALT.upper(), "g" * 32, " " + SALT[1:], SALT[:-1] + "\n", ""],
)
def test_courier_push_salt_is_32_lowercase_hex_digits(salt: str) -> None:
    with pytest.raises(ValidationError, match="salt"):
        CourierPush.model_validate(_courier(salt=salt))


@pytest.mark.parametrize(
    "verifier",
    [VERIFIER[:-1], VERIFIER + "0", VERIFIER.upper(), "z" * 128, VERIFIER[:-1] + "\n"],
)
def test_courier_push_verifier_is_128_lowercase_hex_digits(verifier: str) -> None:
    with pytest.raises(ValidationError, match="verifier"):
        CourierPush.model_validate(_courier(verifier=verifier))


@pytest.mark.parametrize("count", [0, 15])
def test_courier_push_carries_one_to_fourteen_days(count: int) -> None:
    body = _courier()
    body["codes"] = body["codes"] * count
    with pytest.raises(ValidationError, match="codes"):
        CourierPush.model_validate(body)


@pytest.mark.parametrize("ends_at", ["2025-01-02T16:00:00Z", "2025-01-01T08:00:00Z"])
def test_a_days_code_lasts_from_one_midnight_to_the_next(ends_at: str) -> None:
    """(A model rule only: JSON Schema cannot compare two fields.)"""
    with pytest.raises(ValidationError, match="one midnight to the next"):
        CourierPush.model_validate(_courier(ends_at=ends_at))


def test_day_codes_are_eight_digits_and_differ_by_courier_bank_and_day() -> None:
    key, day = b"k" * 32, date(2025, 1, 1)
    code = day_code(key, "c-1", "bank-1", day)
    assert len(code) == 8
    assert code.isdigit()
    others = {day_code(key, "c-2", "bank-1", day), day_code(key, "c-1", "bank-2", day),
              day_code(key, "c-1", "bank-1", day + timedelta(days=1)),
              day_code(b"j" * 32, "c-1", "bank-1", day)}  # fmt: skip
    assert code not in others
    assert day_code(key, "c-1", "bank-1", day) == code  # derived, so the same every time
    assert day_salt(key, "c-1", "bank-1", day) != day_salt(key, "c-1", "bank-2", day)


# --- sequence numbers: the range the cloud stores -------------------------------------------


@pytest.mark.parametrize("seq", [SEQ_MAX + 1, 2**63])
def test_a_stream_position_past_what_the_cloud_stores_is_a_bad_message(seq: int) -> None:
    """A bank's buggy counter must not reach the database, where one row out of range would
    fail the write of every bank beside it (the presence write, an ingest batch)."""
    beat = {"v": 1, "edge_time": TIME, "last_seq": seq, "acked_seq": 0, "uptime_s": 1.0,
            "boards_online": 1, "boards_total": 1}  # fmt: skip
    with pytest.raises(BadMessage):
        decode(Heartbeat, json.dumps(beat))
    with pytest.raises(BadMessage):
        decode(Heartbeat, json.dumps(beat | {"last_seq": 0, "acked_seq": seq}))
    with pytest.raises(BadMessage):
        decode(EventsAck, json.dumps(ACK | {"seq": seq}))
    with pytest.raises(ValidationError):
        Envelope.model_validate(envelope("door.closed") | {"seq": seq})
    Envelope.model_validate(envelope("door.closed") | {"seq": SEQ_MAX})  # the last one stored
    assert decode(Heartbeat, json.dumps(beat | {"last_seq": SEQ_MAX})).last_seq == SEQ_MAX
