"""A chilled parcel's trace through ingest: samples in batches (sent twice, kept once), an
excursion raising and clearing its alarm, the pickup's record of whether the chain held, the
carrier's tracking and webhooks payload, the CSV and chart, and scoping by carrier."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from sqlmodel import Session, select

from cloud.clock import FixedClock
from cloud.coldchain.ingest import EXCURSION, SENSOR
from cloud.coldchain.tables import ColdSample, ParcelChain
from cloud.models import Alarm, Parcel
from cloud.webhooks.tables import WebhookEvent
from locker_contract.cold import TemperatureClass
from locker_contract.events import (
    FailedReading,
    Reading,
    ZoneExcursionEnded,
    ZoneExcursionStarted,
    ZoneSample,
    ZoneSamples,
    ZoneSensorHealth,
)
from tests.cloud.coldchain.conftest import (
    BANK,
    FRIDGE,
    Bank,
    deposited,
    minutes,
    picked_up,
)
from tests.cloud.conftest import Cloud

CHILLED = TemperatureClass.CHILLED
EXCURSION_ID = uuid.uuid4()


def announce(cloud: Cloud, waybill: str, carrier: str = "sf") -> None:
    body = {"waybill": waybill, "bank_id": BANK, "recipient_phone": "13800138000",
            "consent": "recipient_app", "temperature_class": "chilled"}  # fmt: skip
    cloud.ok("POST", "/api/v1/parcels", cloud.keys[carrier], json=body)


def celsius_at(minute: int) -> float | None:
    """4 C, the sensor silent at minutes 5 and 6, 9.5 C from 15 to 26 (the compressor)."""
    if minute in (5, 6):
        return None
    return 9.5 if 15 <= minute <= 26 else 4.0


def sample(minute: int) -> ZoneSample:
    value = celsius_at(minute)
    if value is None:
        return FailedReading(at=minutes(minute), failure="no_answer")
    return Reading(at=minutes(minute), celsius=value, humidity=60.0)


def samples(first: int, last: int) -> ZoneSamples:
    batch = [sample(m) for m in range(first, last + 1)]
    return ZoneSamples(zone=FRIDGE, temperature_class=CHILLED, samples=batch)


def started() -> ZoneExcursionStarted:
    return ZoneExcursionStarted(
        excursion_id=EXCURSION_ID, zone=FRIDGE, temperature_class=CHILLED,
        out_since=minutes(15), detected_at=minutes(25.5), celsius=9.5,
    )  # fmt: skip


def ended() -> ZoneExcursionEnded:
    return ZoneExcursionEnded(excursion_id=EXCURSION_ID, zone=FRIDGE, temperature_class=CHILLED,
                              out_since=minutes(15), back_at=minutes(27), min_celsius=9.5,
                              max_celsius=9.5)  # fmt: skip


def open_alarms(cloud: Cloud) -> list[tuple[str, str]]:
    with Session(cloud.engine) as s:
        query = select(Alarm).where(Alarm.kind == EXCURSION)
        return [
            (a.compartment, "open" if a.cleared_at is None else "cleared") for a in s.exec(query)
        ]


@pytest.fixture
def stay(cold: Cloud, clock: FixedClock) -> Cloud:
    """SF-C1 in C01 from minute 0 to 40 through the excursion; SF-C2 in C02 from 30 to 40."""
    bank = Bank(cold.engine)
    announce(cold, "SF-C1")
    announce(cold, "SF-C2")
    bank.send(minutes(0), deposited("SF-C1", "C01", minutes(0)))
    bank.send(minutes(20), samples(0, 19))
    bank.send(minutes(20), samples(0, 19))  # a batch sent twice: its samples kept once
    assert open_alarms(cold) == []
    bank.send(minutes(25.5), started())
    assert open_alarms(cold) == [(FRIDGE, "open")]
    bank.send(minutes(27), ended())
    assert open_alarms(cold) == [(FRIDGE, "cleared")]
    bank.send(minutes(30), deposited("SF-C2", "C02", minutes(30)))
    bank.send(minutes(40), samples(20, 40), picked_up("SF-C1", "C01"), picked_up("SF-C2", "C02"))
    clock.advance(3600)
    return cold


def test_the_pickup_records_whether_the_chain_held(stay: Cloud) -> None:
    with Session(stay.engine) as s:
        chains = {p.waybill: c for c, p in s.exec(select(ParcelChain, Parcel).join(Parcel))}
        kept = len(s.exec(select(ColdSample)).all())
    assert kept == 41
    broken, held = chains["SF-C1"], chains["SF-C2"]
    assert (broken.held, broken.excursions, broken.zone) == (False, 1, FRIDGE)
    assert (held.held, held.excursions) == (True, 0)
    assert broken.picked_up_at == minutes(40)


def test_the_trace_from_deposit_to_pickup(stay: Cloud) -> None:
    trace = stay.ok("GET", "/api/v1/parcels/SF-C1/trace", stay.keys["sf"])
    assert (trace["temperature_class"], trace["chain_held"]) == ("chilled", False)
    assert (trace["min_celsius"], trace["max_celsius"]) == (4.0, 9.5)
    assert trace["out_of_range_s"] == 12 * 60  # minutes 15 to 27, sample by sample
    assert trace["unknown_s"] == 2 * 60  # the two failed readings
    assert trace["gaps"] == [{"start": "2026-12-01T08:05:00Z", "end": "2026-12-01T08:07:00Z"}]
    assert trace["failed_samples"] == 2
    assert trace["samples"] == 39
    assert len(trace["excursions"]) == 1
    other = stay.ok("GET", "/api/v1/parcels/SF-C2/trace", stay.keys["sf"])
    assert (other["chain_held"], other["out_of_range_s"], other["excursions"]) == (True, 0.0, [])


def test_tracking_and_the_webhook_say_whether_the_chain_held(stay: Cloud) -> None:
    history = stay.ok("GET", "/api/v1/tracking/SF-C1", stay.keys["sf"])
    pickup = [e for e in history if e["type"] == "parcel.picked_up"]
    assert [e["cold_chain_held"] for e in pickup] == [False]
    history = stay.ok("GET", "/api/v1/tracking/SF-C2", stay.keys["sf"])
    assert [e["cold_chain_held"] for e in history if e["type"] == "parcel.picked_up"] == [True]
    with Session(stay.engine) as s:
        query = select(WebhookEvent).where(WebhookEvent.waybill == "SF-C1",
                                           WebhookEvent.type == "parcel.picked_up")  # fmt: skip
        told = s.exec(query).one().data["cold_chain"]
    assert told == {"temperature_class": "chilled", "zone": FRIDGE, "held": False, "excursions": 1}


def test_the_csv_holds_every_sample_of_the_stay(stay: Cloud) -> None:
    answer = stay.call("GET", "/api/v1/parcels/SF-C1/trace.csv", stay.keys["sf"])
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 41  # minutes 0 to 40
    assert rows[0]["time_utc"] == "2026-12-01T08:00:00Z"
    assert rows[0]["celsius"] == "4.00"
    assert rows[5]["failure"] == "no_answer"
    assert rows[5]["in_range"] == ""
    assert rows[15]["in_range"] == "no"
    chart = stay.call("GET", "/api/v1/parcels/SF-C1/trace.svg", stay.keys["sf"])
    assert chart.status_code == 200
    assert chart.text.startswith("<svg")
    assert "<polyline" in chart.text


def test_a_carrier_sees_only_its_own_parcels_traces(stay: Cloud) -> None:
    for path in ("trace", "trace.csv", "trace.svg"):
        answer = stay.call("GET", f"/api/v1/parcels/SF-C1/{path}", stay.keys["jd"])
        assert answer.status_code == 404, path
        assert "9.5" not in answer.text


def test_an_ambient_parcel_has_no_trace(cold: Cloud) -> None:
    body = {"waybill": "SF-A1", "bank_id": BANK, "recipient_phone": "13800138000",
            "consent": "recipient_app"}  # fmt: skip
    cold.ok("POST", "/api/v1/parcels", cold.keys["sf"], json=body)
    Bank(cold.engine).send(minutes(0), deposited("SF-A1", "A01", minutes(0)))
    assert cold.call("GET", "/api/v1/parcels/SF-A1/trace", cold.keys["sf"]).status_code == 404


def test_a_walk_up_into_the_fridge_takes_its_class(cold: Cloud, clock: FixedClock) -> None:
    bank = Bank(cold.engine)
    bank.send(minutes(0), deposited("WALK-1", "C02", minutes(0)))
    bank.send(minutes(3), samples(0, 3))
    clock.advance(180)
    trace = cold.ok("GET", "/api/v1/parcels/WALK-1/trace", cold.keys["sf"])
    assert (trace["temperature_class"], trace["picked_up_at"], trace["chain_held"]) == (
        "chilled", None, None)  # fmt: skip
    assert trace["in_range_s"] == 180.0


def test_a_failing_sensor_raises_its_alarm_until_it_answers(cold: Cloud) -> None:
    bank = Bank(cold.engine)
    failing = ZoneSensorHealth(zone=FRIDGE, temperature_class=CHILLED, ok=False,
                               failure="no_answer", since=minutes(3))  # fmt: skip
    bank.send(minutes(3), failing)
    with Session(cold.engine) as s:
        open_now = s.exec(select(Alarm).where(Alarm.kind == SENSOR)).one()
    assert (open_now.compartment, open_now.cleared_at) == (FRIDGE, None)
    back = ZoneSensorHealth(zone=FRIDGE, temperature_class=CHILLED, ok=True, since=minutes(9))
    bank.send(minutes(9), back)
    with Session(cold.engine) as s:
        assert s.exec(select(Alarm).where(Alarm.kind == SENSOR)).one().cleared_at == minutes(9)


def test_a_chilled_parcel_put_in_an_ambient_compartment_breaks_its_chain(cold: Cloud) -> None:
    announce(cold, "SF-WARM")
    bank = Bank(cold.engine)
    bank.send(minutes(0), deposited("SF-WARM", "A01", minutes(0)))  # an older bank's walk-up
    bank.send(minutes(5), picked_up("SF-WARM", "A01"))
    trace = cold.ok("GET", "/api/v1/parcels/SF-WARM/trace", cold.keys["sf"])
    assert (trace["temperature_class"], trace["zone"], trace["chain_held"]) == (
        "ambient", "", False)  # fmt: skip
