"""Deliveries never reach private, loopback or link-local addresses unless an operator
allow-lists their networks; the address checked is the one connected to."""

from __future__ import annotations

import pytest

from cloud.webhooks.targets import Refused, networks, resolve
from tests.cloud.webhooks.conftest import World, drain
from tests.cloud.webhooks.receiver import Receiver


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://[::ffff:127.0.0.1]/hook",
        # found in review: IPv6 forms that lead to an IPv4 address, called global by Python 3.11
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",  # NAT64 to 169.254.169.254
        "http://[64:ff9b:1::a00:1]/hook",  # local-use NAT64 to 10.0.0.1
        "http://[2002:7f00:1::1]/hook",  # 6to4 of 127.0.0.1
        "http://[::7f00:1]/hook",  # IPv4-compatible 127.0.0.1
    ],
)
def test_private_loopback_and_link_local_targets_are_refused(url: str) -> None:
    with pytest.raises(Refused):
        resolve(url, [])


def test_an_ipv6_form_of_a_public_ipv4_address_is_public() -> None:
    assert resolve("http://[64:ff9b::808:808]/hook", []).ip == "64:ff9b::808:808"


def test_an_ipv6_literal_keeps_its_brackets_in_host() -> None:
    """Found in review: Host was ``2001:db8::1:8080``, which a receiver cannot parse."""
    allowed = networks(["2001:db8::/32"])
    assert resolve("http://[2001:db8::1]:8080/h", allowed).host_header == "[2001:db8::1]:8080"
    assert resolve("https://[2001:db8::1]/h", allowed).host_header == "[2001:db8::1]"


def test_an_allow_listed_network_is_reached_at_the_address_checked() -> None:
    target = resolve("http://127.0.0.1:8080/a?b=1", networks(["127.0.0.0/8"]))
    assert (target.ip, target.port, target.path) == ("127.0.0.1", 8080, "/a?b=1")
    assert target.pinned_url == "http://127.0.0.1:8080/a?b=1"
    assert target.host_header == "127.0.0.1:8080"
    public = resolve("https://93.184.216.34/hook", [])
    assert public.pinned_url == "https://93.184.216.34:443/hook"
    assert public.host_header == "93.184.216.34"


def test_a_loopback_receiver_gets_nothing_unless_allow_listed(
    world: World, receiver: Receiver
) -> None:
    endpoint = world.endpoint("sf", receiver)
    world.deposit("SF1", "A01")
    assert world.worker(allow=()).step() == 1
    assert receiver.got == []
    log = world.cloud.ok(
        "GET", f"/api/v1/webhooks/{endpoint['id']}/deliveries", world.cloud.keys["sf"]
    )
    assert log[0]["state"] == "pending"
    assert "refused" in log[0]["last_error"]
    assert "loopback" in log[0]["last_error"]
    drain(world.worker(allow=("127.0.0.1/32",)))
    assert receiver.types() == {"parcel.in_locker"}
