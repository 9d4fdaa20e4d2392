"""The parcels page: dwell buckets at their edges by the caller's clock, a masked search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.console.views.parcels import Bucket, buckets, search, waiting
from cloud.models import ParcelStatus
from cloud.services.errors import Invalid
from locker_contract.events import ParcelPickedUp
from tests.cloud.console.views.conftest import World, edge_id, stamp

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
DAY, SECOND = timedelta(days=1), timedelta(seconds=1)
WAITED = {  # waybill -> how long before NOW it was deposited
    "W0001": DAY - SECOND,
    "W0002": DAY,
    "W0003": 3 * DAY - SECOND,
    "W0004": 3 * DAY,
    "W0005": 7 * DAY,
}


def deposited_at(world: World, waybill: str, at: datetime) -> None:
    stamp(world, waybill, ParcelStatus.IN_LOCKER, at)


@pytest.fixture
def dwelling(bare: World) -> World:
    for n, (waybill, waited) in enumerate(WAITED.items(), start=1):
        bare.deposit("alpha", waybill, f"A{n:02d}", "sf", f"1380000{n:04d}")
        deposited_at(bare, waybill, NOW - waited)
    bare.deposit("beta", "W0006", "A01", "jd", "13900000006")
    deposited_at(bare, "W0006", NOW - 7 * DAY + SECOND)
    bare.deposit("beta", "W0007", "A02", "jd", "13900000007")
    deposited_at(bare, "W0007", NOW - 30 * DAY)
    picked = ParcelPickedUp(parcel_id=edge_id("W0007"), waybill="W0007", compartment="A02")
    bare.send("beta", picked)  # gone: in no bucket
    return bare


def test_buckets_hold_their_lower_edge_and_not_their_upper(dwelling: World) -> None:
    alpha = buckets(dwelling.engine, dwelling.reader("alpha"), NOW)
    assert alpha == {
        Bucket.UNDER_1: 1,
        Bucket.FROM_1_TO_3: 2,
        Bucket.FROM_3_TO_7: 1,
        Bucket.OVER_7: 1,
    }
    both = buckets(dwelling.engine, dwelling.reader("alpha", "beta"), NOW)
    assert both[Bucket.FROM_3_TO_7] == 2  # beta's, a second short of 7 days
    assert both[Bucket.OVER_7] == 1
    only_beta = buckets(
        dwelling.engine, dwelling.reader("alpha", "beta"), NOW, site_id=dwelling.sites["beta"]
    )
    assert sum(only_beta.values()) == 1
    assert sum(buckets(dwelling.engine, dwelling.reader("gamma"), NOW).values()) == 0


def test_the_clock_moves_a_parcel_across_an_edge(dwelling: World) -> None:
    later = buckets(dwelling.engine, dwelling.reader("alpha"), NOW + SECOND)
    assert later[Bucket.UNDER_1] == 0
    assert later[Bucket.FROM_1_TO_3] == 2  # W0001 came in, W0003 went on to 3-7
    assert later[Bucket.FROM_3_TO_7] == 2
    assert later[Bucket.OVER_7] == 1


def test_waiting_lists_the_longest_first_by_bucket(dwelling: World) -> None:
    reader = dwelling.reader("alpha")
    page = waiting(dwelling.engine, reader, NOW)
    assert [p.waybill for p in page.parcels] == ["W0005", "W0004", "W0003", "W0002", "W0001"]
    assert [p.bucket for p in page.parcels] == [
        Bucket.OVER_7,
        Bucket.FROM_3_TO_7,
        Bucket.FROM_1_TO_3,
        Bucket.FROM_1_TO_3,
        Bucket.UNDER_1,
    ]
    assert page.parcels[0].dwell == 7 * DAY
    assert page.parcels[0].compartment == "A05"
    one_to_three = waiting(dwelling.engine, reader, NOW, bucket=Bucket.FROM_1_TO_3, limit=1)
    assert one_to_three.total == 2
    assert [p.waybill for p in one_to_three.parcels] == ["W0003"]
    assert all(p.phone.startswith("*********") for p in page.parcels)


def test_search_by_the_last_digits_shows_the_phone_masked(world: World) -> None:
    found = search(world.engine, world.reader("alpha"), "1234", NOW)
    assert [p.waybill for p in found] == ["W2002"]
    assert found[0].phone == "*********34"
    assert "13900001234" not in repr(found)
    assert [p.waybill for p in search(world.engine, world.reader("alpha"), "W3003", NOW)] == [
        "W3003"
    ]
    assert [p.waybill for p in search(world.engine, world.reader("alpha"), "2002", NOW)] == [
        "W2002"
    ]  # a waybill's last digits
    picked = search(world.engine, world.reader("alpha"), "1001", NOW)
    assert [(p.waybill, p.status) for p in picked] == [("W1001", "picked_up")]


def test_a_phone_is_found_by_its_last_four_digits_only(world: World) -> None:
    """A longer suffix would tell, one query per digit, the number the page masks (R2)."""
    reader = world.reader("alpha")
    assert [p.waybill for p in search(world.engine, reader, "1234", NOW)] == ["W2002"]
    assert search(world.engine, reader, "01234", NOW) == ()
    assert search(world.engine, reader, "13900001234", NOW) == ()


def test_search_sees_only_the_readers_sites(world: World) -> None:
    assert search(world.engine, world.reader("alpha"), "9999", NOW) == ()  # beta's, gamma's
    both = search(world.engine, world.reader("alpha", "beta"), "9999", NOW)
    assert [p.waybill for p in both] == ["W9999"]
    assert [p.waybill for p in search(world.engine, world.reader("gamma"), "9999", NOW)] == [
        "W7777"
    ]


@pytest.mark.parametrize("digits", ["", "123", "%%%%", "12_4", "１２３４", "12 34"])
def test_a_search_too_short_or_not_digits_is_refused(world: World, digits: str) -> None:
    with pytest.raises(Invalid):
        search(world.engine, world.reader("alpha"), digits, NOW)
