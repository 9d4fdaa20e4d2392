"""Reaching the broker: its URL, the reconnect backoff, and the PIN verifier both ends compute."""

from __future__ import annotations

import random
import re
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locker_contract.broker import BrokerUrl, client, full_jitter
from locker_contract.credentials import SALT_BYTES, new_salt, pin_verifier
from locker_contract.errors import ContractError

# --- BrokerUrl --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "level"),
    [
        ("mqtt://broker.example:8883", "broker.example", 8883, 5),
        ("mqtt://broker.example", "broker.example", 1883, 5),
        ("mqtt://127.0.0.1:1884", "127.0.0.1", 1884, 5),
        ("mqtt311://broker.example:1884", "broker.example", 1884, 4),
        ("mqtt311://localhost", "localhost", 1883, 4),
    ],
)
def test_parse(url: str, host: str, port: int, level: int) -> None:
    broker = BrokerUrl.parse(url)
    assert (broker.host, broker.port, broker.protocol_level) == (host, port, level)


def test_mqtt_is_mqtt5_and_mqtt311_is_3_1_1() -> None:
    assert BrokerUrl.parse("mqtt://b").mqtt5
    assert not BrokerUrl.parse("mqtt311://b").mqtt5


async def test_mqtts_is_mqtt5_over_tls_on_8883() -> None:
    broker = BrokerUrl.parse("mqtts://broker.example")
    assert (broker.port, broker.tls, broker.mqtt5) == (8883, True, True)
    assert not BrokerUrl.parse("mqtt://broker.example").tls
    assert client(broker, "edge-x")._client._ssl


@pytest.mark.parametrize(
    "url", ["mqtt://b:1883", "mqtt311://b:1883", "mqtt://b.example:8883", "mqtts://b:8883"]
)
def test_str_round_trips(url: str) -> None:
    assert str(BrokerUrl.parse(url)) == url
    assert BrokerUrl.parse(str(BrokerUrl.parse(url))) == BrokerUrl.parse(url)


def test_default_port_is_written_out() -> None:
    assert str(BrokerUrl.parse("mqtt://b")) == "mqtt://b:1883"


@pytest.mark.parametrize(
    "url", ["mqtt://user:secret@b:1883", "mqtt://user@b", "mqtt311://:secret@b:1883"]
)
def test_credentials_in_the_url_are_refused(url: str) -> None:
    with pytest.raises(ContractError, match="credentials in a file"):
        BrokerUrl.parse(url)


@pytest.mark.parametrize(
    "url",
    ["tcp://b:1883", "ws://b:9001", "http://b", "b:1883", "b", "", "mqtt://",
     "mqtt://:1883", "mqtt5://b"],
)  # fmt: skip
def test_other_schemes_and_no_host_are_refused(url: str) -> None:
    with pytest.raises(ContractError, match="expected mqtt://"):
        BrokerUrl.parse(url)


# --- full_jitter ------------------------------------------------------------------------------


@given(
    attempt=st.integers(min_value=0, max_value=200),
    base_s=st.floats(min_value=0.001, max_value=10.0),
    cap_s=st.floats(min_value=0.0, max_value=600.0),
    rng=st.randoms(use_true_random=False),
)
def test_full_jitter_stays_between_zero_and_the_ceiling(
    attempt: int, base_s: float, cap_s: float, rng: random.Random
) -> None:
    ceiling = min(cap_s, base_s * 2 ** min(attempt, 32))
    assert 0 <= full_jitter(attempt, base_s, cap_s, rng) <= ceiling


@given(attempt=st.integers(min_value=0, max_value=10_000))
def test_full_jitter_without_a_generator_is_in_range(attempt: int) -> None:
    assert 0 <= full_jitter(attempt, 0.5, 30.0) <= min(30.0, 0.5 * 2 ** min(attempt, 32))


def test_full_jitter_grows_then_is_capped() -> None:
    rng = random.Random(7)
    highest = [max(full_jitter(n, 1.0, 20.0, rng) for _ in range(300)) for n in range(8)]
    assert highest[0] <= 1.0
    assert highest[2] <= 4.0
    assert highest[3] > 4.0  # the interval doubled
    assert all(value <= 20.0 for value in highest)
    assert highest[7] > 19.0  # capped, and the cap is reached


def test_full_jitter_is_spread_over_the_whole_interval() -> None:
    rng = random.Random(20240601)
    waits = [full_jitter(6, 0.5, 30.0, rng) for _ in range(2000)]  # ceiling: 30 s
    assert len(set(waits)) > 1900  # not always the ceiling, nor any one value
    assert min(waits) < 1.5
    assert max(waits) > 28.5
    assert 13.5 < statistics.fmean(waits) < 16.5  # uniform: the mean is half the ceiling
    assert sum(wait < 15.0 for wait in waits) > 800  # half of them in the lower half


# --- credentials ------------------------------------------------------------------------------

HEX128 = re.compile(r"[0-9a-f]{128}")


def test_pin_verifier_is_128_lowercase_hex_digits_and_deterministic() -> None:
    salt = "00112233445566778899aabbccddeeff"
    verifier = pin_verifier("482915", salt)
    assert HEX128.fullmatch(verifier)
    assert pin_verifier("482915", salt) == verifier


def test_pin_verifier_depends_on_the_salt_and_the_pin() -> None:
    salt, other = new_salt(), new_salt()
    assert salt != other
    assert pin_verifier("482915", salt) != pin_verifier("482915", other)
    assert pin_verifier("482915", salt) != pin_verifier("482916", salt)


def test_new_salt_is_32_lowercase_hex_digits() -> None:
    salt = new_salt()
    assert re.fullmatch(r"[0-9a-f]{32}", salt)
    assert len(bytes.fromhex(salt)) == SALT_BYTES
