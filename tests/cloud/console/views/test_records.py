"""The records page: every kind with who, when and where; filters; keyset pages; the CSV export
streamed by chunks, with no phone and no formula a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from cloud.console.views.records import Kind, RecordFilter, export_csv, records, safe_cell
from cloud.models import Role
from cloud.services import operations
from cloud.services.auth import Principal
from cloud.services.errors import Invalid
from tests.cloud.console.views.conftest import PHONES, World

NEWEST_FIRST = [
    (Kind.MAINTENANCE, None, None, "ann"),
    (Kind.REMOTE_OPEN, "A02", None, "ann"),
    (Kind.SERVICE, "A05", None, "bank"),
    (Kind.REFUSAL, "A03", "sf", ""),
    (Kind.PICKUP, "A01", "sf", "recipient"),
    (Kind.DEPOSIT, "A03", "sf", "sf-c1"),
    (Kind.DEPOSIT, "A02", "jd", ""),  # a courier the cloud does not know is nobody
    (Kind.DEPOSIT, "A01", "sf", "sf-c1"),
]


@pytest.fixture
def acted(world: World) -> World:
    """Commands asked from the cloud at alpha, and one at another operator's bank."""
    ann = Principal(key_id="ann", role=Role.OPERATOR, operator_id=world.operators["alpha"])
    operations.remote_open(world.engine, ann, "alpha", "A02", "stuck door")
    operations.set_maintenance(world.engine, ann, "alpha", on=True)
    bob = Principal(key_id="bob", role=Role.OPERATOR, operator_id=world.operators["gamma"])
    operations.remote_open(world.engine, bob, "gamma", "A01", "not yours")
    return world


def test_every_kind_with_who_when_and_where(acted: World) -> None:
    page = records(acted.engine, acted.reader("alpha"))
    assert [(r.kind, r.compartment, r.carrier_id, r.who) for r in page.records] == NEWEST_FIRST
    assert page.next is None
    assert {r.bank_id for r in page.records} == {"alpha"}
    assert [r.waybill for r in page.records if r.kind is Kind.DEPOSIT] == [
        "W3003",
        "W2002",
        "W1001",
    ]
    assert page.records[0].detail == "on=True"
    assert page.records[1].detail == "reason=stuck door"
    assert page.records[2].detail == "in_service=False reason=broken hinge"
    ats = [r.at for r in page.records]
    assert ats == sorted(ats, reverse=True)


def test_filters(acted: World) -> None:
    both = acted.reader("alpha", "beta")

    def kinds(f: RecordFilter) -> list[tuple[Kind, str | None]]:
        return [(r.kind, r.waybill) for r in records(acted.engine, both, f).records]

    assert kinds(RecordFilter(bank_id="beta")) == [(Kind.DEPOSIT, "W9999")]
    assert kinds(RecordFilter(bank_id="gamma")) == []  # another operator's
    assert kinds(RecordFilter(carrier_id="jd")) == [(Kind.DEPOSIT, "W2002")]
    assert kinds(RecordFilter(kinds=frozenset({Kind.PICKUP, Kind.REFUSAL}))) == [
        (Kind.REFUSAL, "W3003"),
        (Kind.PICKUP, "W1001"),
    ]
    everything = records(acted.engine, both).records
    pickup = next(r for r in everything if r.kind is Kind.PICKUP)
    window = RecordFilter(since=pickup.at, until=pickup.at + timedelta(microseconds=1))
    assert kinds(window) == [(Kind.PICKUP, "W1001")]
    assert kinds(RecordFilter(until=pickup.at)) == [
        (Kind.DEPOSIT, "W3003"),
        (Kind.DEPOSIT, "W2002"),
        (Kind.DEPOSIT, "W1001"),
    ]


def test_another_operator_sees_only_its_own(acted: World) -> None:
    gamma = records(acted.engine, acted.reader("gamma")).records
    assert [(r.kind, r.bank_id, r.who) for r in gamma] == [
        (Kind.REMOTE_OPEN, "gamma", "bob"),
        (Kind.DEPOSIT, "gamma", ""),
    ]


def test_keyset_pages_walk_every_record_once(acted: World) -> None:
    reader, seen, after = acted.reader("alpha", "beta"), list[str](), None
    for _ in range(10):
        page = records(acted.engine, reader, after=after, limit=3)
        seen.extend(r.key for r in page.records)
        if page.next is None:
            break
        after = page.next
    whole = [r.key for r in records(acted.engine, reader).records]
    assert seen == whole
    assert len(whole) == 9


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "x",
        "2026-12-01T00:00:00+00:00|",
        "2026-12-01T00:00:00|p:1",  # no zone
        "0001-01-01T00:00:00+01:00|p:1",  # before the first year in UTC
    ],
)
def test_a_bad_cursor_is_refused(world: World, cursor: str) -> None:
    with pytest.raises(Invalid):
        records(world.engine, world.reader("alpha"), after=cursor)


@pytest.mark.parametrize(
    "filters",
    [
        RecordFilter(since=datetime(2026, 12, 1)),
        RecordFilter(until=datetime.min.replace(tzinfo=timezone(timedelta(hours=1)))),
    ],
)
def test_a_bad_time_is_refused(world: World, filters: RecordFilter) -> None:
    with pytest.raises(Invalid):
        records(world.engine, world.reader("alpha"), filters)


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_csv_holds_every_record_and_no_phone(acted: World) -> None:
    pieces = list(export_csv(acted.engine, acted.reader("alpha"), chunk=3))
    assert len(pieces) == 1 + 3  # the header, then 8 records by 3
    rows = read_csv("".join(pieces))
    assert rows[0] == ["at", "kind", "bank", "compartment", "carrier", "who", "waybill", "detail"]
    body = rows[1:]
    assert [(r[1], r[3], r[4], r[5]) for r in body] == [
        (k.value, c or "", carrier or "", who) for k, c, carrier, who in NEWEST_FIRST
    ]
    text = "".join(pieces)
    for phone in PHONES.values():
        assert phone not in text
        # not even its last four digits, in any cell but the time: a timestamp's microseconds
        # (``13:49:25.480003``) hold "8000" by chance now and then
        assert not any(phone[-4:] in cell for row in rows for cell in row[1:])


def test_the_csv_never_runs_a_formula(bare: World) -> None:
    waybills = ["=1+2", "+SUM(A1)", "-3", "@cmd", "plain"]
    for n, waybill in enumerate(waybills, start=1):
        bare.deposit("alpha", waybill, f"A{n:02d}", "sf", "13800138000")
    rows = read_csv("".join(export_csv(bare.engine, bare.reader("alpha"))))
    assert sorted(r[6] for r in rows[1:]) == sorted(["'=1+2", "'+SUM(A1)", "'-3", "'@cmd", "plain"])


@pytest.mark.parametrize(
    ("cell", "shown"),
    [("=A1", "'=A1"), ("\tx", "'\tx"), ("\r=1", "'\r=1"), ("a=1", "a=1"), ("", "")],
)
def test_safe_cell(cell: str, shown: str) -> None:
    assert safe_cell(cell) == shown
