"""What no message of the contract may carry: control characters, lone surrogates, NUL, text
beyond its bound, NaN or infinity. Each free-text field and each number of every sample message
is spoiled in turn, and every spoilt message is refused."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from locker_contract.errors import BadMessage
from locker_contract.events import Envelope
from locker_contract.messages import EventsAck, RefusedEvent, decode, problems
from locker_contract.text import LOG_QUOTE_MAX, LONG_TEXT_MAX, check_text, sanitised
from tests.locker_contract.samples import BANK, GOOD, MESSAGES, TIME, UUID_1

Path = tuple[str | int, ...]
SPOILERS = {
    "NUL": "\x00",
    "escape": "\x1b[2J",
    "newline": "\n",
    "C1 control": "\x85",
    "DEL": "\x7f",
    "lone surrogate": "\ud800",
}
NOT_FINITE = [math.nan, math.inf, -math.inf]


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def spoilt(payload: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    copied = copy.deepcopy(payload)
    where: Any = copied
    for part in path[:-1]:
        where = where[part]
    where[path[-1]] = value
    return copied


def _cases(kind: type) -> list[Any]:
    cases = []
    for name, payload in GOOD:
        for path, value in leaves(payload):
            if isinstance(value, kind) and not isinstance(value, bool) and path[-1] != "type":
                cases.append(pytest.param(name, payload, path, value, id=f"{name}:{path}"))
    return cases


def refused(name: str, payload: dict[str, Any]) -> bool:
    try:
        MESSAGES[name].model_validate(payload)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize(("name", "payload", "path", "value"), _cases(str))
@pytest.mark.parametrize("spoiler", SPOILERS.values(), ids=SPOILERS.keys())
def test_no_text_field_takes_control_characters_or_surrogates(
    name: str, payload: dict[str, Any], path: Path, value: str, spoiler: str
) -> None:
    assert refused(name, spoilt(payload, path, value[:1] + spoiler + value[1:]))


@pytest.mark.parametrize(("name", "payload", "path", "value"), _cases(str))
def test_no_text_field_takes_more_than_its_bound(
    name: str, payload: dict[str, Any], path: Path, value: str
) -> None:
    assert refused(name, spoilt(payload, path, value + "x" * LONG_TEXT_MAX))


@pytest.mark.parametrize(("name", "payload", "path", "value"), _cases(float))
@pytest.mark.parametrize("number", NOT_FINITE, ids=str)
def test_no_number_is_nan_or_infinite(
    name: str, payload: dict[str, Any], path: Path, value: float, number: float
) -> None:
    bad = spoilt(payload, path, number)
    assert refused(name, bad)
    with pytest.raises(BadMessage):  # as an old edge's JSON writer puts it on the wire
        decode(MESSAGES[name], json.dumps(bad, allow_nan=True))


def test_the_sweep_reaches_the_fields_that_once_stalled_a_bank() -> None:
    paths = {(name, path) for name, payload in GOOD for path, _ in leaves(payload)}
    assert ("Envelope", ("event", "waybill")) in paths
    assert ("Envelope", ("event", "open_for_s")) in paths
    assert ("Heartbeat", ("uptime_s",)) in paths


def test_tab_and_every_printable_character_are_text() -> None:
    sample = "Ana\tMüller 王 ✓ 📦 \u00a0"
    assert check_text(sample) == sample


def test_a_refused_message_quotes_none_of_its_input() -> None:
    body = {"seq": 1, "cloud_time": "2025-01-01T08:00:00Z", "refused": [{"seq": 1, "reason": ""}]}
    body["refused"][0]["reason"] = "\x00" + "secret 13800138000 " * 100_000  # type: ignore[index]
    with pytest.raises(BadMessage) as caught:
        decode(EventsAck, json.dumps(body))
    said = str(caught.value)
    assert "13800138000" not in said
    assert len(said) < 700
    assert "\x00" not in said


def test_problems_are_bounded_and_count_what_they_leave_out() -> None:
    class Many(BaseModel):
        a: int
        b: int
        c: int
        d: int
        e: int

    with pytest.raises(ValidationError) as caught:
        Many.model_validate({})
    said = problems(caught.value)
    assert said.startswith("a: Field required [missing]; b: Field required [missing]; c: ")
    assert said.endswith("and 2 more")


def test_sanitised_is_a_bounded_printable_prefix() -> None:
    quoted = sanitised("\x00" + "x" * 5_000_000)
    assert quoted.startswith("\N{REPLACEMENT CHARACTER}x")
    assert quoted.endswith("... (5000001 characters)")
    assert len(quoted) < LOG_QUOTE_MAX + 40
    assert sanitised(b"\xff\x00") == "b'\\xff\\x00'"


def test_an_ack_without_refusals_is_written_as_before() -> None:
    ack = EventsAck.model_validate({"seq": 3, "cloud_time": "2025-01-01T08:00:00Z"})
    assert "refused" not in json.loads(ack.to_json())
    told = EventsAck(seq=3, cloud_time=ack.cloud_time, refused=[RefusedEvent(seq=2, reason="x")])
    assert json.loads(told.to_json())["refused"] == [{"seq": 2, "reason": "x"}]
    assert decode(EventsAck, told.to_json()) == told


def test_problems_quote_an_unknown_field_or_a_tag_bounded() -> None:
    huge = "\x00" + "k" * 100_000
    body = {"seq": 1, "cloud_time": "2025-01-01T08:00:00Z", huge: 1}
    with pytest.raises(BadMessage) as caught:
        decode(EventsAck, json.dumps(body))
    assert "extra_forbidden" in str(caught.value)
    assert len(str(caught.value)) < 200
    event = {"event_id": UUID_1, "bank_id": BANK, "seq": 1, "time": TIME, "event": {"type": huge}}
    with pytest.raises(BadMessage) as tagged:
        decode(Envelope, json.dumps(event))
    assert "union_tag_invalid" in str(tagged.value)
    assert "\x00" not in str(tagged.value)
    assert len(str(tagged.value)) < 300
