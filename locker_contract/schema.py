"""The contract as documents: one JSON Schema per message, and an AsyncAPI 3.0 description.

``channels.CHANNELS`` is the topics table as data (direction, QoS, retained, message): the
AsyncAPI document, the table in ``topics`` and the one in ``docs/contract/README.md`` all follow
it, and ``tests/locker_contract/test_schema.py`` keeps them equal. The schemas come from the
pydantic models (validation mode: what a receiver accepts). Output is deterministic (sorted keys,
2-space indent, trailing newline) so that it can be committed and compared::

    python -m locker_contract.schema docs/contract

writes ``docs/contract/asyncapi.json`` and ``docs/contract/schemas/<Message>.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from locker_contract.broker import SESSION_EXPIRY_S
from locker_contract.channels import CHANNELS, EXAMPLE_BANK, EXAMPLES, MESSAGES, ChannelSpec
from locker_contract.events import BANK_ID_PATTERN, SCHEMA_VERSION
from locker_contract.messages import LINK_VERSION, BankStatus
from locker_contract.topics import ROOT, Channel

__all__ = ["CHANNELS", "MESSAGES", "ChannelSpec", "asyncapi", "json_schema", "render"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
MQTT_BINDING_VERSION = "0.2.0"
ASYNCAPI_FILE = "asyncapi.json"
SCHEMAS_FOLDER = "schemas"
REGENERATE = "python -m locker_contract.schema docs/contract"


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
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(),
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": {spec.key: _channel(spec) for spec in CHANNELS},
        "operations": {_operation_id(spec): _operation(spec) for spec in CHANNELS},
        "components": {
            "schemas": _components(MESSAGES),
            "messages": {spec.message.__name__: _message(spec) for spec in CHANNELS},
            "parameters": {
                "bankId": {
                    "description": f"The bank's id, matching `{BANK_ID_PATTERN}`; the same as "
                    "the `bank_id` of the bank's event envelopes.",
                    "examples": [EXAMPLE_BANK],
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


def _info() -> dict[str, Any]:
    return {
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
    }


def _retained(spec: ChannelSpec) -> str:
    return "retained" if spec.retain else "not retained"


def _channel(spec: ChannelSpec) -> dict[str, Any]:
    name = spec.message.__name__
    return {
        "address": spec.address,
        "title": spec.channel.value,
        "summary": f"{spec.sender} → {spec.receiver}, QoS {spec.qos}, {_retained(spec)}.",
        "description": spec.description,
        "parameters": {"bankId": {"$ref": "#/components/parameters/bankId"}},
        "messages": {name: {"$ref": f"#/components/messages/{name}"}},
    }


def _operation_id(spec: ChannelSpec) -> str:
    return spec.action + spec.key[0].upper() + spec.key[1:]


def _operation(spec: ChannelSpec) -> dict[str, Any]:
    name = spec.message.__name__
    verb = "publishes" if spec.action == "send" else "receives"
    mqtt: dict[str, Any] = {
        "qos": spec.qos,
        "retain": spec.retain,
        "bindingVersion": MQTT_BINDING_VERSION,
    }
    operation: dict[str, Any] = {
        "action": spec.action,
        "channel": {"$ref": f"#/channels/{spec.key}"},
        "messages": [{"$ref": f"#/channels/{spec.key}/messages/{name}"}],
        "summary": f"The edge {verb} {name} on {spec.channel.value} "
        f"(QoS {spec.qos}, {_retained(spec)}).",
        "bindings": {"mqtt": mqtt},
    }
    if spec.channel is Channel.CMD:
        mqtt["messageExpiryInterval"] = {
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
    return operation


def _message(spec: ChannelSpec) -> dict[str, Any]:
    name = spec.message.__name__
    summary, example = EXAMPLES[name]
    examples = [
        {
            "name": summary.replace(" ", "-"),
            "summary": summary,
            "payload": example.model_dump(mode="json"),
        }
    ]
    if spec.channel is Channel.STATUS:
        will = {"name": "last-will", "summary": "the Last Will", "payload": json.loads(last_will())}
        examples.append(will)
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "description": _description(spec.message),
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{name}"},
        "examples": examples,
    }
    if name in {"CommandEnvelope", "CommandAck"}:
        message["correlationId"] = {"$ref": "#/components/correlationIds/commandId"}
    return message


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
