"""The committed contract documents are what the models generate, and they hold together.

``docs/contract/`` must equal what ``locker_contract.schema`` renders now; the AsyncAPI document
must resolve every ``$ref`` inside itself and describe every channel as ``CHANNELS`` says; and the
generated schemas must accept and refuse what the models accept and refuse (with
``jsonschema_rs``, which schemathesis brings along; skipped without it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from locker_contract import schema, topics
from locker_contract.errors import BadMessage
from locker_contract.messages import BankStatus, decode
from locker_contract.topics import Channel
from tests.locker_contract.samples import BAD, COMMANDS, EVENTS, GOOD, MESSAGES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "contract"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: Any, ref: str) -> Any:
    """The node a local ``$ref`` points to (RFC 6901); ``KeyError`` when there is none."""
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node = document
    for token in ref.removeprefix("#/").split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DOCS / schema.ASYNCAPI_FILE).read_text(encoding="utf-8"))
    return loaded


# --- the committed files ----------------------------------------------------------------------


def test_committed_files_are_what_the_models_generate() -> None:
    fresh = schema.render()
    stale = [
        name
        for name, text in fresh.items()
        if not (DOCS / name).is_file() or (DOCS / name).read_text(encoding="utf-8") != text
    ]
    extra = [
        f"{schema.SCHEMAS_FOLDER}/{path.name}"
        for path in sorted((DOCS / schema.SCHEMAS_FOLDER).glob("*.json"))
        if f"{schema.SCHEMAS_FOLDER}/{path.name}" not in fresh
    ]
    regenerate = f"regenerate with `{schema.REGENERATE}` and commit the result"
    assert not stale, f"docs/contract is out of date ({', '.join(stale)} differ): {regenerate}"
    assert not extra, f"docs/contract has files no model makes ({', '.join(extra)}): {regenerate}"


def test_output_is_deterministic_and_laid_out_one_way() -> None:
    first, second = schema.render(), schema.render()
    assert first == second
    for name, text in first.items():
        assert text == schema.dumps(json.loads(text)), name
        assert text.endswith("}\n")
        assert '\n  "' in text  # two-space indent


def test_write_docs_writes_every_file_and_removes_stale_schemas(tmp_path: Path) -> None:
    stale = tmp_path / schema.SCHEMAS_FOLDER / "Retired.json"
    stale.parent.mkdir()
    stale.write_text("{}\n", encoding="utf-8")
    written = schema.write_docs(tmp_path)
    assert sorted(written) == sorted(tmp_path / name for name in schema.render())
    assert not stale.exists()
    for path in written:
        assert (
            path.read_text(encoding="utf-8")
            == schema.render()[path.relative_to(tmp_path).as_posix()]
        )


def test_main_writes_into_the_folder_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert schema.main([str(tmp_path / "contract")]) == 0
    assert (tmp_path / "contract" / schema.ASYNCAPI_FILE).is_file()
    assert (tmp_path / "contract" / "schemas" / "CommandEnvelope.json").is_file()
    assert "asyncapi.json" in capsys.readouterr().out


# --- one source for the topics table ----------------------------------------------------------


def test_channel_specs_cover_every_channel_once() -> None:
    assert [spec.channel for spec in schema.CHANNELS] == list(Channel)


def test_topics_table_in_the_docstring_and_readme_is_the_data() -> None:
    assert schema.topics_table("``") in (topics.__doc__ or ""), "update the table in topics.py"
    readme = (DOCS / "README.md").read_text(encoding="utf-8")
    assert schema.topics_table() in readme, "update the table in docs/contract/README.md"


# --- the AsyncAPI document --------------------------------------------------------------------


def test_asyncapi_document_is_self_contained(document: dict[str, Any]) -> None:
    refs = set(_refs(document))
    assert refs
    for ref in sorted(refs):
        try:
            _resolve(document, ref)
        except (KeyError, IndexError):
            pytest.fail(f"{ref} does not resolve inside asyncapi.json")
    assert "$defs" not in json.dumps(document)


def test_asyncapi_has_every_channel_with_its_operation(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {f"banks/{{bankId}}/{channel.value}" for channel in Channel}
    for spec in schema.CHANNELS:
        channel = document["channels"][spec.key]
        assert channel["address"] == spec.address
        assert _resolve(document, channel["parameters"]["bankId"]["$ref"])["x-pattern"] == (
            r"^[a-z0-9][a-z0-9-]{0,62}$"
        )
        (operation,) = [
            op for op in document["operations"].values()
            if op["channel"]["$ref"] == f"#/channels/{spec.key}"
        ]  # fmt: skip
        assert operation["action"] == ("send" if spec.sender == "edge" else "receive")
        mqtt = operation["bindings"]["mqtt"]
        assert (mqtt["qos"], mqtt["retain"]) == (spec.qos, spec.retain)
        (message_ref,) = operation["messages"]
        message = _resolve(document, _resolve(document, message_ref["$ref"])["$ref"])
        assert message["payload"] == {"$ref": f"#/components/schemas/{spec.message.__name__}"}
    assert "**edge's** point of view" in document["info"]["description"]


def test_asyncapi_table_facts() -> None:
    facts = {spec.channel: (spec.sender, spec.qos, spec.retain) for spec in schema.CHANNELS}
    assert facts == {
        Channel.EVENTS: ("edge", 1, False),
        Channel.EVENTS_ACK: ("cloud", 0, True),
        Channel.STATE: ("edge", 1, True),
        Channel.STATUS: ("edge", 1, True),
        Channel.HEARTBEAT: ("edge", 0, False),
        Channel.CMD: ("cloud", 1, False),
        Channel.CMD_ACK: ("edge", 1, False),
    }


def test_last_will_is_offline_on_status_retained(document: dict[str, Any]) -> None:
    for server in document["servers"].values():
        will = server["bindings"]["mqtt"]["lastWill"]
        assert will["topic"] == "banks/{bankId}/status"
        assert (will["qos"], will["retain"]) == (1, True)
        assert decode(BankStatus, will["message"]).state == "offline"


def test_discriminators_are_asyncapi_strings(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    assert components["Envelope"]["properties"]["event"]["discriminator"] == "type"
    assert components["CommandEnvelope"]["properties"]["command"]["discriminator"] == "type"


def test_standalone_schemas_keep_the_discriminated_unions() -> None:
    unions = (("Envelope", "event", len(EVENTS)), ("CommandEnvelope", "command", len(COMMANDS)))
    for name, prop, members in unions:
        standalone = json.loads(schema.render()[f"schemas/{name}.json"])
        union = standalone["properties"][prop]
        assert union["discriminator"]["propertyName"] == "type"
        assert len(union["oneOf"]) == len(union["discriminator"]["mapping"]) == members
        for ref in union["discriminator"]["mapping"].values():
            assert "type" in _resolve(standalone, ref)["required"]
        for ref in _refs(standalone):
            _resolve(standalone, ref)


# --- the schemas judge as the models do -------------------------------------------------------

Validate = Callable[[str, Any], bool]


@pytest.fixture(scope="module")
def validators(document: dict[str, Any]) -> list[Validate]:
    """Is a payload valid for a message, by its standalone schema and by the AsyncAPI one."""
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    standalone = {
        name: jsonschema_rs.validator_for(
            json.loads((DOCS / "schemas" / f"{name}.json").read_text(encoding="utf-8")),
            validate_formats=True,
        )
        for name in MESSAGES
    }
    components = document["components"]
    in_asyncapi = {
        name: jsonschema_rs.validator_for(
            {"$ref": f"#/components/schemas/{name}", "components": components},
            validate_formats=True,
        )
        for name in MESSAGES
    }

    def by_file(name: str, payload: Any) -> bool:
        return bool(standalone[name].is_valid(payload))

    def by_asyncapi(name: str, payload: Any) -> bool:
        return bool(in_asyncapi[name].is_valid(payload))

    return [by_file, by_asyncapi]


@pytest.mark.parametrize(("name", "payload"), GOOD)
def test_schemas_accept_what_the_models_accept(
    validators: list[Validate], name: str, payload: dict[str, Any]
) -> None:
    decode(MESSAGES[name], json.dumps(payload))
    for valid in validators:
        assert valid(name, payload), f"{valid.__name__} refuses a good {name}: {payload}"


@pytest.mark.parametrize(("name", "payload", "why"), BAD)
def test_schemas_refuse_what_the_models_refuse(
    validators: list[Validate], name: str, payload: dict[str, Any], why: str
) -> None:
    with pytest.raises(BadMessage):
        decode(MESSAGES[name], json.dumps(payload))
    for valid in validators:
        assert not valid(name, payload), f"{valid.__name__} accepts a {name} with {why}"


def test_asyncapi_examples_are_valid(validators: list[Validate], document: dict[str, Any]) -> None:
    for name, message in document["components"]["messages"].items():
        assert message["examples"]
        for example in message["examples"]:
            decode(MESSAGES[name], json.dumps(example["payload"]))
            for valid in validators:
                assert valid(name, example["payload"]), f"{name} example {example['name']}"
