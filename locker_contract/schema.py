"""The contract as documents: one JSON Schema per message, and an AsyncAPI 3.0 description.

``CHANNELS`` is the topics table as data (direction, QoS, retained, message): the AsyncAPI
document, the table in ``topics`` and the one in ``docs/contract/README.md`` all follow it, and
``tests/locker_contract/test_schema.py`` keeps them equal. The schemas come from the pydantic
models (validation mode: what a receiver accepts). Output is deterministic (sorted keys, 2-space
indent, trailing newline) so that it can be committed and compared::

    python -m locker_contract.schema docs/contract

writes ``docs/contract/asyncapi.json`` and ``docs/contract/schemas/<Message>.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel

from locker_contract.broker import SESSION_EXPIRY_S
from locker_contract.commands import CommandEnvelope, RemoteOpen
from locker_contract.events import BANK_ID_PATTERN, SCHEMA_VERSION, DoorOpened, Envelope
from locker_contract.messages import (
    LINK_VERSION,
    BankState,
    BankStatus,
    CommandAck,
    CompartmentState,
    EventsAck,
    Heartbeat,
)
from locker_contract.topics import ROOT, Channel

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
MQTT_BINDING_VERSION = "0.2.0"
ASYNCAPI_FILE = "asyncapi.json"
SCHEMAS_FOLDER = "schemas"
REGENERATE = "python -m locker_contract.schema docs/contract"

Party = Literal["edge", "cloud"]


@dataclass(frozen=True)
class ChannelSpec:
    """One row of the topics table."""

    channel: Channel
    sender: Party
    qos: Literal[0, 1, 2]
    retain: bool
    message: type[BaseModel]
    description: str
    note: str = ""  # after the message's name in the table

    @property
    def receiver(self) -> Party:
        return "cloud" if self.sender == "edge" else "edge"

    @property
    def action(self) -> Literal["send", "receive"]:
        """From the edge's point of view, as the AsyncAPI document is written."""
        return "send" if self.sender == "edge" else "receive"

    @property
    def key(self) -> str:
        """The channel's name in the AsyncAPI document: ``events/ack`` is ``eventsAck``."""
        first, *rest = self.channel.name.lower().split("_")
        return first + "".join(word.capitalize() for word in rest)

    @property
    def address(self) -> str:
        return f"{ROOT}/{{bankId}}/{self.channel.value}"


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        Channel.EVENTS,
        "edge",
        1,
        False,
        Envelope,
        "One event per message, from the edge's transactional outbox, in `seq` order and at "
        "least once: with no progress of `events/ack` for a while the edge publishes the "
        "unacknowledged tail again. The cloud stores each `event_id` once, applies a bank's "
        "events in `seq` order without a gap, and refuses an envelope whose `bank_id` is not "
        "the topic's.",
    ),
    ChannelSpec(
        Channel.EVENTS_ACK,
        "cloud",
        1,
        True,
        EventsAck,
        "The highest `seq` the cloud has done without a gap: the edge deletes its outbox up "
        "to there. Retained, so that an edge learns it on reconnecting. `cloud_time` also tells "
        "the edge the cloud's clock (used for command lifetimes over MQTT 3.1.1). An event the "
        "cloud cannot apply is quarantined there for an operator and counts as done; `refused` "
        "(left out when empty) tells the edge its `seq` and why, and the edge publishes it no "
        "more.",
    ),
    ChannelSpec(
        Channel.STATE,
        "edge",
        1,
        True,
        BankState,
        "A snapshot of every compartment, published whenever anything in it changes. An empty "
        "retained message clears the topic; receivers ignore it.",
    ),
    ChannelSpec(
        Channel.STATUS,
        "edge",
        1,
        True,
        BankStatus,
        "`online` when the edge connects. `offline` is the edge's Last Will (QoS 1, retained), "
        "published by the broker when the connection dies, and by the edge itself on a clean "
        "stop. An empty retained message clears the topic; receivers ignore it.",
        note=" (the Last Will says offline)",
    ),
    ChannelSpec(
        Channel.HEARTBEAT,
        "edge",
        0,
        False,
        Heartbeat,
        "Every few seconds: the edge's clock and how far its outbox has come. The cloud marks a "
        "bank offline when its heartbeats stop.",
    ),
    ChannelSpec(
        Channel.CMD,
        "cloud",
        1,
        False,
        CommandEnvelope,
        "One command with its `command_id` and time to live. Over MQTT 5 the cloud also sets "
        "the Message Expiry Interval to the seconds left (rounded up); the broker counts down "
        "while the message waits and the edge counts what is left from its receipt. Over MQTT "
        "3.1.1 the edge counts `ttl_s` from its receipt, less the age it can tell from `sent_at` "
        "and the cloud clock learnt from `events/ack`. The cloud sends a command again while "
        "the bank is online and silent; the edge applies each `command_id` at most once, never "
        "after its time, and answers every delivery on `cmd/ack`.",
    ),
    ChannelSpec(
        Channel.CMD_ACK,
        "edge",
        1,
        False,
        CommandAck,
        "What became of one command, for every delivery: a repeat is answered with the first "
        "outcome and `repeat: true`. A command that cannot be decoded but has a readable "
        "`command_id` is answered `rejected`.",
    ),
)

MESSAGES: tuple[type[BaseModel], ...] = tuple(spec.message for spec in CHANNELS)

# One example per message, in the AsyncAPI document; built through the models, so always valid.
_T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
_EXAMPLE_BANK = "berlin-mitte-01"
_EXAMPLES: dict[str, tuple[str, BaseModel]] = {
    "Envelope": (
        "a door opened by an unlock",
        Envelope(
            event_id=UUID("4f8b1c2e-6d0a-4e55-9a57-0c1d2e3f4a5b"),
            bank_id=_EXAMPLE_BANK,
            seq=42,
            time=_T0,
            event=DoorOpened(
                compartment="A07", intent_id=UUID("9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d")
            ),
        ),
    ),
    "EventsAck": ("applied up to 42", EventsAck(seq=42, cloud_time=_T0)),
    "BankState": (
        "one compartment",
        BankState(
            time=_T0,
            maintenance=False,
            compartments=[
                CompartmentState(
                    label="A07", size="M", in_service=True, door="closed", occupied=True
                ),
            ],
        ),
    ),
    "BankStatus": ("online", BankStatus(state="online", since=_T0)),
    "Heartbeat": (
        "caught up",
        Heartbeat(
            edge_time=_T0,
            last_seq=42,
            acked_seq=42,
            uptime_s=3600.0,
            boards_online=2,
            boards_total=2,
        ),
    ),
    "CommandEnvelope": (
        "a remote open",
        CommandEnvelope(
            command_id="cmd-7f3a",
            sent_at=_T0,
            ttl_s=300.0,
            command=RemoteOpen(
                compartment="A07", reason="recipient locked out", requested_by="ops@example.org"
            ),
        ),
    ),
    "CommandAck": ("applied", CommandAck(command_id="cmd-7f3a", outcome="applied", edge_time=_T0)),
}


def last_will() -> str:
    """The payload the edge registers as its Last Will on ``status``."""
    return BankStatus(state="offline").model_dump_json()


# --- JSON Schema ------------------------------------------------------------------------------


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The standalone JSON Schema (2020-12) of one message, discriminated unions included.

    A union's tag (``type``) is marked required in each of its members: pydantic gives it a
    default, but a discriminated union refuses a member without it.
    """
    schema = copy.deepcopy(model.model_json_schema(mode="validation"))
    defs = schema.get("$defs", {})
    for node in list(_objects(schema)):
        discriminator = node.get("discriminator")
        if not isinstance(discriminator, dict):
            continue
        tag = discriminator["propertyName"]
        for ref in discriminator["mapping"].values():
            member = defs[ref.removeprefix("#/$defs/")]
            required = member.setdefault("required", [])
            if tag not in required:
                required.insert(0, tag)
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``node``, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from _objects(item)


def _components(models: Sequence[type[BaseModel]]) -> dict[str, Any]:
    """The messages' schemas for ``components/schemas``: each message's ``$defs`` hoisted beside
    it, ``$ref``s rewritten, and discriminators in the AsyncAPI form (the property's name)."""
    components: dict[str, Any] = {}

    def put(name: str, schema: dict[str, Any]) -> None:
        if components.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are both named {name!r}")

    for model in models:
        schema = json_schema(model)
        del schema["$schema"]
        defs = schema.pop("$defs", {})
        for node in _objects([schema, defs]):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
            if isinstance(node.get("discriminator"), dict):
                node["discriminator"] = node["discriminator"]["propertyName"]
        for name, definition in defs.items():
            put(name, definition)
        put(model.__name__, schema)
    return components


# --- AsyncAPI ---------------------------------------------------------------------------------


def _description(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or model.__name__).split())


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the link, written from the edge's point of view."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in CHANNELS:
        name = spec.message.__name__
        retained = "retained" if spec.retain else "not retained"
        channels[spec.key] = {
            "address": spec.address,
            "title": spec.channel.value,
            "summary": f"{spec.sender} → {spec.receiver}, QoS {spec.qos}, {retained}.",
            "description": spec.description,
            "parameters": {"bankId": {"$ref": "#/components/parameters/bankId"}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operation: dict[str, Any] = {
            "action": spec.action,
            "channel": {"$ref": f"#/channels/{spec.key}"},
            "messages": [{"$ref": f"#/channels/{spec.key}/messages/{name}"}],
            "summary": f"The edge {'publishes' if spec.action == 'send' else 'receives'} "
            f"{name} on {spec.channel.value} (QoS {spec.qos}, {retained}).",
            "bindings": {
                "mqtt": {
                    "qos": spec.qos,
                    "retain": spec.retain,
                    "bindingVersion": MQTT_BINDING_VERSION,
                },
            },
        }
        if spec.channel is Channel.CMD:
            operation["bindings"]["mqtt"]["messageExpiryInterval"] = {
                "type": "integer",
                "minimum": 1,
                "description": "MQTT 5 only: the command's seconds left, rounded up; the broker "
                "decrements it while the message waits.",
            }
            ack = next(s for s in CHANNELS if s.channel is Channel.CMD_ACK)
            operation["reply"] = {
                "channel": {"$ref": f"#/channels/{ack.key}"},
                "messages": [{"$ref": f"#/channels/{ack.key}/messages/{ack.message.__name__}"}],
            }
        operations[spec.action + spec.key[0].upper() + spec.key[1:]] = operation
        summary, example = _EXAMPLES[name]
        examples = [
            {
                "name": summary.replace(" ", "-"),
                "summary": summary,
                "payload": example.model_dump(mode="json"),
            }
        ]
        if spec.channel is Channel.STATUS:
            examples.append(
                {
                    "name": "last-will",
                    "summary": "the Last Will",
                    "payload": json.loads(last_will()),
                }
            )
        messages[name] = {
            "name": name,
            "title": name,
            "description": _description(spec.message),
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "examples": examples,
        }
        if name in {"CommandEnvelope", "CommandAck"}:
            messages[name]["correlationId"] = {"$ref": "#/components/correlationIds/commandId"}

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "smartlocker bank link",
            "version": str(LINK_VERSION),
            "description": (
                "What one locker bank's edge daemon and the cloud exchange over MQTT, every topic "
                f"under `{ROOT}/{{bankId}}/`. Written from the **edge's** point of view: `send` "
                "is what the edge publishes, `receive` what it subscribes to; the cloud does the "
                "opposite. Payloads are JSON. Every message but the event envelope carries `v`, "
                f"the link version ({LINK_VERSION}); the event envelope carries `schema_version` "
                f"({SCHEMA_VERSION}). A receiver refuses a version it does not know and any "
                "field it does not know. Times are ISO 8601 with a zone. Events are applied "
                "exactly once (outbox, at-least-once delivery, de-duplication by `event_id`, "
                "`events/ack`); commands at most once per `command_id`, never after their time "
                "to live. Generated by `" + REGENERATE + "`; do not edit."
            ),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": _components(MESSAGES),
            "messages": messages,
            "parameters": {
                "bankId": {
                    "description": f"The bank's id, matching `{BANK_ID_PATTERN}`; the same as "
                    "the `bank_id` of the bank's event envelopes.",
                    "examples": [_EXAMPLE_BANK],
                    "x-pattern": BANK_ID_PATTERN,
                },
            },
            "correlationIds": {
                "commandId": {
                    "description": "A command's acknowledgement carries the command's id.",
                    "location": "$message.payload#/command_id",
                },
            },
        },
    }


def _servers() -> dict[str, Any]:
    """The broker, as the edge reaches it over MQTT 5 or 3.1.1, with the edge's Last Will."""
    status = next(spec for spec in CHANNELS if spec.channel is Channel.STATUS)
    will = {
        "topic": status.address,
        "qos": status.qos,
        "retain": status.retain,
        "message": last_will(),
    }
    mqtt5 = (
        "The broker URL `mqtt://host:port` (Mosquitto): the edge connects with a stable client "
        f"id (default `edge-{{bankId}}`), clean start off and a session expiry of "
        f"{SESSION_EXPIRY_S} s, so that commands published while a bank is offline wait for "
        "it. Commands carry the Message Expiry Interval; the cloud's ingest workers share "
        "`events`, `heartbeat` and `cmd/ack` through shared subscriptions."
    )
    mqtt311 = (
        "The broker URL `mqtt311://host:port`, for brokers with nothing newer (amqtt, the "
        "embedded default): `clean_session=False`, no message expiry (commands count their "
        "time to live from receipt and the cloud clock) and no shared subscriptions."
    )
    servers = {}
    for key, scheme, version, session, text in (
        ("mqtt5", "mqtt", "5.0", {"sessionExpiryInterval": SESSION_EXPIRY_S}, mqtt5),
        ("mqtt311", "mqtt311", "3.1.1", {}, mqtt311),
    ):
        binding = {"cleanSession": False, "lastWill": will, "bindingVersion": MQTT_BINDING_VERSION}
        servers[key] = {
            "host": "{host}:{port}",
            "protocol": "mqtt",
            "protocolVersion": version,
            "title": f"{scheme}://host:port",
            "description": text,
            "variables": {
                "host": {"default": "localhost", "description": "The broker's host name."},
                "port": {"default": "1883", "description": "The broker's port."},
            },
            "bindings": {"mqtt": binding | session},
        }
    return servers


# --- the topics table -------------------------------------------------------------------------


def topics_table(code: str = "`") -> str:
    """The topics table in Markdown; ``code`` quotes names (``"``"`` in a reST docstring)."""
    rows = [
        "| topic | direction | QoS | retained | message |",
        "|---|---|---|---|---|",
    ]
    for spec in CHANNELS:
        topic = f"{code}{ROOT}/{{id}}/{spec.channel.value}{code}"
        message = f"{code}{spec.message.__name__}{code}{spec.note}"
        retained = "yes" if spec.retain else "no"
        rows.append(
            f"| {topic} | {spec.sender} → {spec.receiver} | {spec.qos} | {retained} | {message} |"
        )
    return "\n".join(rows) + "\n"


# --- files ------------------------------------------------------------------------------------


def dumps(document: Any) -> str:
    """The one JSON layout of every generated file."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """Every generated file, by its path relative to the docs folder (POSIX separators)."""
    files = {ASYNCAPI_FILE: dumps(asyncapi())}
    for model in MESSAGES:
        files[f"{SCHEMAS_FOLDER}/{model.__name__}.json"] = dumps(json_schema(model))
    return files


def write_docs(folder: Path) -> list[Path]:
    """Write the AsyncAPI document and the message schemas into ``folder``; the paths written.

    A ``.json`` file in ``folder/schemas`` that no message produces any more is removed.
    """
    files = render()
    written = []
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    for stale in sorted((folder / SCHEMAS_FOLDER).glob("*.json")):
        if f"{SCHEMAS_FOLDER}/{stale.name}" not in files:
            stale.unlink()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m locker_contract.schema",
        description="Write the contract's JSON Schemas and AsyncAPI document.",
    )
    parser.add_argument("folder", type=Path, nargs="?", default=Path("docs/contract"))
    args = parser.parse_args(argv)
    for path in write_docs(args.folder):
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
