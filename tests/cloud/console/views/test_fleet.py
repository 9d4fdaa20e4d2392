"""The fleet page: banks by scope, their link, load and alarms; filters; the statements run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from cloud.console.views.fleet import CarrierLoad, FleetFilter, SizeLoad, fleet
from cloud.services import presence
from cloud.services.errors import Invalid
from locker_contract.messages import Heartbeat
from tests.cloud.console.views.conftest import World, person


def test_a_site_manager_sees_only_its_site_and_an_admin_all_its_operators(world: World) -> None:
    assert [b.bank_id for b in fleet(world.engine, world.reader("alpha")).banks] == ["alpha"]
    both = fleet(world.engine, world.reader("alpha", "beta"))
    assert [b.bank_id for b in both.banks] == ["alpha", "beta"]
    assert both.total == 2
    assert [b.bank_id for b in fleet(world.engine, world.reader("gamma")).banks] == ["gamma"]


def test_another_operators_site_given_by_mistake_shows_nothing(world: World) -> None:
    astray = person(world.operators["alpha"], frozenset({world.sites["gamma"]}))
    assert fleet(world.engine, astray).banks == ()
    assert fleet(world.engine, person(world.operators["alpha"], frozenset())).total == 0
    everything = frozenset(world.sites.values())
    assert [b.bank_id for b in fleet(world.engine, person("nobody", everything)).banks] == []


def test_load_by_size_and_carrier_and_open_alarms(world: World) -> None:
    (alpha,) = fleet(world.engine, world.reader("alpha")).banks
    assert alpha.load.sizes == (
        SizeLoad("S", total=2, in_locker=1, reserved=0, out_of_service=0),
        SizeLoad("M", total=2, in_locker=1, reserved=1, out_of_service=0),
        SizeLoad("L", total=1, in_locker=0, reserved=0, out_of_service=1),
    )
    assert alpha.load.carriers == (CarrierLoad("jd", 1, 0), CarrierLoad("sf", 1, 1))
    assert (alpha.load.in_locker, alpha.load.total) == (2, 5)
    assert alpha.open_alarms == 1  # the forced door
    assert alpha.site_name == "Site alpha"
    assert alpha.site_id == world.sites["alpha"]


def test_link_online_since_heartbeat_and_skew(world: World) -> None:
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    beat = Heartbeat(
        edge_time=at + timedelta(seconds=2.5), last_seq=0, acked_seq=0, uptime_s=10,
        boards_online=1, boards_total=1,
    )  # fmt: skip
    presence.record_heartbeat(world.engine, "beta", beat, at, skew_alarm_s=60)
    page = fleet(world.engine, world.reader("alpha", "beta"))
    beta = page.banks[1]
    assert (beta.online, beta.status_since, beta.last_heartbeat_at) == (True, at, at)
    assert beta.clock_skew_s == 2.5
    assert page.banks[0].online is False
    assert page.banks[0].last_heartbeat_at is None


def test_filters(world: World) -> None:
    reader = world.reader("alpha", "beta")
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    beat = Heartbeat(edge_time=at, last_seq=0, acked_seq=0, uptime_s=1, boards_online=1,
                     boards_total=1)  # fmt: skip
    presence.record_heartbeat(world.engine, "beta", beat, at, skew_alarm_s=60)

    def ids(f: FleetFilter) -> list[str]:
        return [b.bank_id for b in fleet(world.engine, reader, f).banks]

    assert ids(FleetFilter(site_id=world.sites["beta"])) == ["beta"]
    assert ids(FleetFilter(site_id=world.sites["gamma"])) == []  # not its site
    assert ids(FleetFilter(online=True)) == ["beta"]
    assert ids(FleetFilter(online=False)) == ["alpha"]
    assert ids(FleetFilter(with_alarms=True)) == ["alpha"]
    assert ids(FleetFilter(text="BET")) == ["beta"]
    assert ids(FleetFilter(text="site")) == ["alpha", "beta"]
    assert ids(FleetFilter(text="%")) == []  # a wildcard is a character, not a pattern


def test_pages_and_limits(world: World) -> None:
    reader = world.reader("alpha", "beta")
    second = fleet(world.engine, reader, limit=1, offset=1)
    assert [b.bank_id for b in second.banks] == ["beta"]
    assert second.total == 2
    assert fleet(world.engine, reader, limit=10_000).limit == 500
    with pytest.raises(Invalid):
        fleet(world.engine, reader, limit=0)


def test_the_statements_do_not_grow_with_the_banks(world: World) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(world.engine, "before_cursor_execute", count)
    try:
        fleet(world.engine, world.reader("alpha"))
        one = len(statements)
        statements.clear()
        fleet(world.engine, world.reader("alpha", "beta"))
    finally:
        event.remove(world.engine, "before_cursor_execute", count)
    assert len(statements) == one
