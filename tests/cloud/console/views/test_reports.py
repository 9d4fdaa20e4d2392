"""A site's daily and monthly report, its figures checked against the events made: counts,
mean dwell, door faults and uptime, over the site's own day."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import col, update

from cloud.console.views.reports import daily, monthly
from cloud.core.db import transaction
from cloud.models import ParcelStatus, Site
from cloud.services import presence
from cloud.services.errors import Invalid, NotFound
from locker_contract.events import (
    DoorForcedOpen,
    DoorJammed,
    ParcelPickedUp,
    ParcelRefused,
    ParcelReturned,
)
from locker_contract.messages import BankStatus
from tests.cloud.console.views.conftest import World, edge_id, stamp

DAY = date(2026, 12, 2)
D = datetime(2026, 12, 2, tzinfo=UTC)
H = timedelta(hours=1)
P = ParcelStatus


def picked(waybill: str, label: str) -> ParcelPickedUp:
    return ParcelPickedUp(parcel_id=edge_id(waybill), waybill=waybill, compartment=label)


@pytest.fixture
def day(bare: World) -> World:
    """At alpha on 2 December: W1 in 08:00-10:00, W2 in the evening before and out at 12:00,
    W3 in 09:00, refused 11:00, returned 15:00; W4 in at 23:59:59, W5 at midnight after. A
    forced door at 13:00 (a jam the next day); alpha offline 06:00-12:00."""
    w = bare
    for n, waybill in enumerate(("W1", "W2", "W3", "W4", "W5"), start=1):
        w.deposit("alpha", waybill, f"A{n:02d}", "sf", "13800138000")
    w.send("alpha", picked("W1", "A01"))
    w.send("alpha", picked("W2", "A02"))
    w.send("alpha", ParcelRefused(parcel_id=edge_id("W3"), waybill="W3", reason="expired"))
    w.send("alpha", ParcelReturned(parcel_id=edge_id("W3"), waybill="W3", courier_id="sf-c1"))
    times = {
        ("W1", P.IN_LOCKER): D + 8 * H,
        ("W1", P.PICKED_UP): D + 10 * H,
        ("W2", P.IN_LOCKER): D - 4 * H,
        ("W2", P.PICKED_UP): D + 12 * H,
        ("W3", P.IN_LOCKER): D + 9 * H,
        ("W3", P.RETURN_PENDING): D + 11 * H,
        ("W3", P.RETURNED): D + 15 * H,
        ("W4", P.IN_LOCKER): D + 24 * H - timedelta(seconds=1),
        ("W5", P.IN_LOCKER): D + 24 * H,
    }
    for (waybill, status), at in times.items():
        stamp(w, waybill, status, at)
    w.send("alpha", DoorForcedOpen(compartment="A05"), now=D + 13 * H)
    jam = DoorJammed(compartment="A01", intent_id=uuid.uuid4(), jam_count=1)
    w.send("alpha", jam, now=D + 25 * H)
    presence.record_status(w.engine, "alpha", BankStatus(state="online"), now=D - 48 * H)
    presence.record_status(w.engine, "alpha", BankStatus(state="offline"), now=D + 6 * H)
    presence.record_status(w.engine, "alpha", BankStatus(state="online"), now=D + 12 * H)
    return w


def test_a_day(day: World) -> None:
    report = daily(day.engine, day.reader("alpha"), day.sites["alpha"], DAY, now=D + 48 * H)
    assert (report.period.start, report.period.end) == (D, D + 24 * H)
    counts = (report.deposits, report.pickups, report.refusals, report.returns)
    assert counts == (3, 2, 1, 1)  # W1, W3, W4 in; W1, W2 out; W3 refused and returned
    assert report.mean_dwell == timedelta(hours=8)  # (2 + 16 + 6) / 3
    assert report.faults == {"door.forced_open": 1}
    assert report.door_faults == 1
    assert report.uptime == 0.75  # 6 hours of 24 offline


def test_a_day_in_progress_counts_uptime_up_to_now(day: World) -> None:
    report = daily(day.engine, day.reader("alpha"), day.sites["alpha"], DAY, now=D + 12 * H)
    assert report.uptime == 0.5
    before = daily(day.engine, day.reader("alpha"), day.sites["alpha"], DAY, now=D - H)
    assert before.uptime is None


def test_the_sites_own_day(day: World) -> None:
    with transaction(day.engine) as s:
        query = update(Site).where(col(Site.id) == day.sites["alpha"])
        s.execute(query.values(timezone="Asia/Shanghai"))
    report = daily(day.engine, day.reader("alpha"), day.sites["alpha"], DAY, now=D + 48 * H)
    assert report.period.start == D - 8 * H
    assert (report.deposits, report.pickups, report.refusals, report.returns) == (3, 2, 1, 1)
    assert report.faults == {"door.forced_open": 1}
    assert report.uptime == 0.75


def test_a_month(day: World) -> None:
    now = datetime(2026, 12, 4, tzinfo=UTC)
    report = monthly(day.engine, day.reader("alpha"), day.sites["alpha"], DAY, now=now)
    assert report.period.label == "2026-12"
    assert (report.period.start, report.period.end) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert (report.deposits, report.pickups, report.refusals, report.returns) == (5, 2, 1, 1)
    assert report.mean_dwell == timedelta(hours=8)
    assert report.faults == {"door.forced_open": 1, "door.jammed": 1}
    assert report.uptime == round(1 - 6 / 72, 6)  # three days elapsed of the month


def test_a_site_without_events_and_another_operators_site(day: World) -> None:
    beta = daily(day.engine, day.reader("beta"), day.sites["beta"], DAY, now=D + 48 * H)
    assert (beta.deposits, beta.mean_dwell, beta.door_faults, beta.uptime) == (0, None, 0, 1.0)
    with pytest.raises(NotFound):
        daily(day.engine, day.reader("gamma"), day.sites["alpha"], DAY, now=D)
    with pytest.raises(NotFound):
        monthly(day.engine, day.reader("beta"), day.sites["alpha"], DAY, now=D)


def test_a_day_or_month_out_of_range_is_refused(day: World) -> None:
    reader, site = day.reader("alpha"), day.sites["alpha"]
    with pytest.raises(Invalid):
        daily(day.engine, reader, site, date.max, now=D)
    with pytest.raises(Invalid):
        monthly(day.engine, reader, site, date(9999, 12, 1), now=D)
    with transaction(day.engine) as s:
        s.execute(update(Site).where(col(Site.id) == site).values(timezone="Asia/Shanghai"))
    with pytest.raises(Invalid):
        daily(day.engine, reader, site, date.min, now=D)  # its local midnight is before year 1
    with transaction(day.engine) as s:
        s.execute(update(Site).where(col(Site.id) == site).values(timezone="No/Such_Zone"))
    assert daily(day.engine, reader, site, DAY, now=D + 48 * H).period.start == D  # UTC
