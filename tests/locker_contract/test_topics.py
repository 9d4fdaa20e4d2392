"""Topic names: built and parsed back for every channel; anything else is a ``BadTopic``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locker_contract.errors import BadTopic, ContractError
from locker_contract.topics import Address, Channel, every_bank, parse, shared, topic

BANK_IDS = st.from_regex(r"[a-z0-9][a-z0-9-]{0,62}", fullmatch=True)


@pytest.mark.parametrize("channel", list(Channel))
def test_topic_and_parse_round_trip_for_every_channel(channel: Channel) -> None:
    name = topic("berlin-mitte-01", channel)
    assert name == f"banks/berlin-mitte-01/{channel.value}"
    assert parse(name) == Address("berlin-mitte-01", channel)


@given(bank_id=BANK_IDS, channel=st.sampled_from(Channel))
def test_round_trip_for_any_bank_id(bank_id: str, channel: Channel) -> None:
    assert parse(topic(bank_id, channel)) == Address(bank_id, channel)


@pytest.mark.parametrize("bank_id", ["a", "0", "a" * 63, "bank-", "9-lives"])
def test_bank_ids_at_the_edges_of_the_pattern(bank_id: str) -> None:
    assert parse(topic(bank_id, Channel.EVENTS)).bank_id == bank_id


@pytest.mark.parametrize(
    "bank_id",
    ["", "-bank", "Bank", "BANK", "a" * 64, "bank_01", "bank.01", "bank/01", "+", "#", "bänk",
     " bank", "bank "],
)  # fmt: skip
def test_bad_bank_ids_raise_bad_topic(bank_id: str) -> None:
    with pytest.raises(BadTopic):
        topic(bank_id, Channel.EVENTS)


def test_a_trailing_newline_is_not_a_bank_id() -> None:
    with pytest.raises(BadTopic):
        topic("bank\n", Channel.EVENTS)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "banks",
        "banks/",
        "banks/bank-1",
        "banks/bank-1/",
        "banks/bank-1/unknown",
        "banks/bank-1/events/extra",
        "banks/bank-1/cmd/ack/",
        "banks/bank-1//events",
        "/banks/bank-1/events",
        "bank/bank-1/events",
        "BANKS/bank-1/events",
        "banks/Bank-1/events",
        "banks/+/events",
        "banks/#",
        "$share/ingest/banks/bank-1/events",
    ],
)
def test_anything_else_raises_bad_topic(name: str) -> None:
    with pytest.raises(BadTopic):
        parse(name)


def test_bad_topic_is_a_contract_error_and_a_value_error() -> None:
    with pytest.raises(ContractError, match="not a bank topic"):
        parse("elsewhere/bank-1/events")
    with pytest.raises(ValueError, match="unknown channel"):
        parse("banks/bank-1/nope")


@pytest.mark.parametrize("channel", list(Channel))
def test_every_bank_filter(channel: Channel) -> None:
    assert every_bank(channel) == f"banks/+/{channel.value}"


def test_shared_subscription_form() -> None:
    assert shared("ingest", every_bank(Channel.EVENTS)) == "$share/ingest/banks/+/events"
    assert shared("workers", "banks/+/cmd/ack") == "$share/workers/banks/+/cmd/ack"


def test_a_bad_topic_is_quoted_bounded_and_printable() -> None:
    with pytest.raises(BadTopic) as caught:
        parse("banks/" + "\x00" * 100_000 + "/events")
    said = str(caught.value)
    assert "\x00" not in said
    assert len(said) < 200
