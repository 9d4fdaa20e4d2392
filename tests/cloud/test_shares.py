"""Shares need the carrier's acceptance, and couriers' codes are per bank and per day, derived and
never stored (decision 0010): on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, col, select

from cloud.models import METADATA, AuditEntry, Command
from cloud.services import carriers, commands, courier_codes
from controller.commands import CommandRunner
from controller.errors import BadCredentials
from controller.flows import Flows
from tests.cloud.conftest import Cloud, bearer, fleet
from tests.linkbench import EdgeSide

BANKS = {"east-1": {"M": 4}, "west-1": {"M": 4}}


@pytest.fixture
def ops(cloud: Cloud) -> Cloud:
    fleet(cloud, BANKS)
    made = cloud.ok(
        "POST", "/api/v1/couriers", cloud.keys["sf"], json={"id": "sf-1", "name": "Wang"}
    )
    cloud.keys["sf-1"] = bearer(made["api_key"])
    return cloud


def about(cloud: Cloud, carrier: str, bank_id: str | None = None) -> list[Command]:
    """The commands naming ``carrier`` or one of its couriers (at ``bank_id``)."""
    with Session(cloud.engine) as s:
        found = list(s.exec(select(Command).order_by(col(Command.created_at))))
    return [
        c for c in found
        if (bank_id is None or c.bank_id == bank_id)
        and (c.payload.get("carrier_id") == carrier
             or str(c.payload.get("courier_id", "")).startswith(f"{carrier}-"))
    ]  # fmt: skip


def offer(cloud: Cloud, bank_id: str, carrier: str = "sf") -> None:
    cloud.ok("PUT", f"/api/v1/banks/{bank_id}/policies/{carrier}", cloud.keys["operator"],
             json={"guaranteed": 1, "ceiling": 3})  # fmt: skip


def codes_at(cloud: Cloud, key: str, bank_id: str, day: str | None = None) -> dict[str, str]:
    query = {"day": day} if day else {}
    found = cloud.ok("GET", f"/api/v1/banks/{bank_id}/courier-codes", cloud.keys[key],
                     params=query)  # fmt: skip
    return {c["courier_id"]: c["code"] for c in found}


# --- acceptance -----------------------------------------------------------------------------


def test_an_offer_the_carrier_has_not_accepted_pushes_nothing_of_it(ops: Cloud) -> None:
    offer(ops, "east-1")
    offer(ops, "east-1")  # made again: still an offer
    ops.ok("POST", "/api/v1/couriers", ops.keys["sf"], json={"id": "sf-2"})
    assert carriers.refresh_codes(ops.engine) == 0
    parcel = {"waybill": "SF1", "bank_id": "east-1", "recipient_phone": "13800138000",
              "consent": "recipient_app"}  # fmt: skip
    refused = ops.call("POST", "/api/v1/parcels", ops.keys["sf"], json=parcel)
    assert refused.status_code == 409
    assert "accept it first" in refused.json()["detail"]
    assert about(ops, "sf") == []
    [share] = ops.ok("GET", "/api/v1/shares", ops.keys["sf"])
    assert share == {"bank_id": "east-1", "guaranteed": 1, "ceiling": 3, "state": "offered"}
    assert ops.call("GET", "/api/v1/banks/east-1/courier-codes", ops.keys["sf"]).status_code == 404


def test_acceptance_sends_the_policy_and_the_couriers_days_to_that_bank_only(ops: Cloud) -> None:
    offer(ops, "east-1")
    offer(ops, "west-1")
    assert ops.call("POST", "/api/v1/shares/east-1/accept", ops.keys["jd"]).status_code == 404
    assert ops.ok("POST", "/api/v1/shares/east-1/accept", ops.keys["sf"])["state"] == "accepted"
    ops.ok("POST", "/api/v1/shares/east-1/accept", ops.keys["sf"])  # again: nothing more
    sent = about(ops, "sf")
    assert [(c.bank_id, c.type) for c in sent] == [("east-1", "policy.push"),
                                                  ("east-1", "courier.push")]  # fmt: skip
    window = [d.isoformat() for d in courier_codes.window(datetime.now(UTC))]
    assert sent[1].payload == {"courier_id": "sf-1", "carrier_id": "sf", "name": "Wang",
                               "days": window, "timezone": "UTC"}  # fmt: skip
    ops.ok("POST", "/api/v1/couriers", ops.keys["sf"], json={"id": "sf-2"})
    assert [c.payload["courier_id"] for c in about(ops, "sf")[2:]] == ["sf-2"]
    ops.ok("DELETE", "/api/v1/couriers/sf-2", ops.keys["sf"])
    assert [c.bank_id for c in about(ops, "sf") if c.type == "courier.revoke"] == ["east-1"]


def test_withdrawing_takes_the_carrier_back_and_declining_sends_nothing(ops: Cloud) -> None:
    offer(ops, "east-1")
    offer(ops, "west-1")
    assert ops.ok("POST", "/api/v1/shares/west-1/withdraw", ops.keys["sf"])["state"] == "declined"
    ops.ok("POST", "/api/v1/shares/east-1/accept", ops.keys["sf"])
    assert ops.ok("POST", "/api/v1/shares/east-1/withdraw", ops.keys["sf"])["state"] == "withdrawn"
    assert [(c.bank_id, c.type) for c in about(ops, "sf")][-1] == ("east-1", "carrier.withdraw")
    assert about(ops, "sf", "west-1") == []
    assert ops.call("GET", "/api/v1/banks/east-1/courier-codes", ops.keys["sf"]).status_code == 404
    assert carriers.refresh_codes(ops.engine) == 0
    offer(ops, "east-1")  # the operator offers again: an offer until accepted again
    [east, west] = ops.ok("GET", "/api/v1/shares", ops.keys["sf"])
    assert (east["state"], west["state"]) == ("offered", "declined")


def test_withdrawing_ends_the_carriers_reservations_at_that_bank(ops: Cloud) -> None:
    """The bank drops the carrier's holds on ``carrier.withdraw``; the cloud's reservations
    there end with them (audited), and the carrier's others stay."""
    for bank in ("east-1", "west-1"):
        offer(ops, bank)
        ops.ok("POST", f"/api/v1/shares/{bank}/accept", ops.keys["sf"])
    for bank in ("east-1", "west-1", "east-1"):
        ops.ok("POST", "/api/v1/reservations", ops.keys["sf"], json={"bank_id": bank, "size": "M"})
    theirs = ops.ok("POST", "/api/v1/reservations", ops.keys["jd"],
                    json={"bank_id": "east-1", "size": "M"})  # fmt: skip
    ops.ok("POST", "/api/v1/shares/east-1/withdraw", ops.keys["sf"])
    states = {(r["bank_id"], r["state"]) for r in ops.ok("GET", "/api/v1/reservations",
                                                       ops.keys["sf"])}  # fmt: skip
    assert states == {("east-1", "cancelled"), ("west-1", "active")}
    assert ops.ok("GET", f"/api/v1/reservations/{theirs['id']}", ops.keys["jd"])["state"] == (
        "active"
    )
    with Session(ops.engine) as s:
        ended = list(s.exec(select(AuditEntry).where(AuditEntry.action == "end_reservation")))
    east = {r["id"] for r in ops.ok("GET", "/api/v1/reservations", ops.keys["sf"])
            if r["bank_id"] == "east-1"}  # fmt: skip
    assert len(east) == 2
    assert {e.target for e in ended} == east
    assert {e.detail["why"] for e in ended} == {"share withdrawn"}
    again = ops.call("POST", "/api/v1/reservations", ops.keys["sf"],
                     json={"bank_id": "east-1", "size": "M"})  # fmt: skip
    assert again.status_code == 409
    assert again.json()["detail"] == "your share of east-1 is withdrawn; accept it first"


def test_codes_are_refreshed_once_a_day_for_the_days_ahead(ops: Cloud) -> None:
    offer(ops, "east-1")
    ops.ok("POST", "/api/v1/shares/east-1/accept", ops.keys["sf"])
    engine = ops.engine
    assert carriers.refresh_codes(engine) == 0  # sent with the acceptance
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert carriers.refresh_codes(engine, tomorrow) == 1
    assert carriers.refresh_codes(engine, tomorrow) == 0
    last = about(ops, "sf")[-1]
    assert last.payload["days"] == [d.isoformat() for d in courier_codes.window(tomorrow)]


# --- the codes ------------------------------------------------------------------------------


def test_carriers_and_couriers_fetch_their_own_codes_only(ops: Cloud) -> None:
    for carrier in ("sf", "jd"):
        offer(ops, "east-1", carrier)
        ops.ok("POST", "/api/v1/shares/east-1/accept", ops.keys[carrier])
    ops.ok("POST", "/api/v1/couriers", ops.keys["jd"], json={"id": "jd-1"})
    assert set(codes_at(ops, "sf", "east-1")) == {"sf-1"}
    assert set(codes_at(ops, "jd", "east-1")) == {"jd-1"}
    assert codes_at(ops, "sf-1", "east-1") == codes_at(ops, "sf", "east-1")
    assert re.fullmatch(r"[0-9]{8}", codes_at(ops, "sf-1", "east-1")["sf-1"])
    assert ops.call("GET", "/api/v1/banks/west-1/courier-codes", ops.keys["sf"]).status_code == 404
    too_late = (datetime.now(UTC) + timedelta(days=courier_codes.DAYS_AHEAD)).date().isoformat()
    far = ops.call("GET", "/api/v1/banks/east-1/courier-codes", ops.keys["sf"],
                   params={"day": too_late})  # fmt: skip
    assert far.status_code == 422
    assert (
        ops.call("GET", "/api/v1/banks/east-1/courier-codes", ops.keys["operator"]).status_code
        == 403
    )


def test_the_cloud_database_holds_nothing_to_test_a_code_against(ops: Cloud) -> None:
    offer(ops, "east-1")
    ops.ok("POST", "/api/v1/shares/east-1/accept", ops.keys["sf"])
    engine = ops.engine
    deliveries = commands.due(engine, 30.0, secret_key=ops.settings.secret_key)
    assert any(d.envelope.command.type == "courier.push" for d in deliveries)  # sent with verifiers
    code = codes_at(ops, "sf", "east-1")["sf-1"]
    dump = _dump(engine)
    assert code not in dump
    assert re.search(r"[0-9a-f]{128}", dump) is None  # no scrypt verifier anywhere
    columns = {c["name"] for c in inspect(engine).get_columns("courier")}
    assert not columns & {"pin_hash", "salt"}


def _dump(engine: Engine) -> str:
    rows = []
    with engine.connect() as connection:
        for table in METADATA.sorted_tables:
            found = connection.execute(text(f'SELECT * FROM "{table.name}"'))
            rows += [json.dumps(list(r), default=str) for r in found]
    return "\n".join(rows)


def test_a_code_opens_its_bank_on_its_day_and_nowhere_else(ops: Cloud, tmp_path: Path) -> None:
    """What the cloud sends a bank, applied there: the code fetched from the carriers' API opens
    it today; tomorrow's code, another bank's, another courier's do not."""
    for bank_id in ("east-1", "west-1"):
        offer(ops, bank_id)
        ops.ok("POST", f"/api/v1/shares/{bank_id}/accept", ops.keys["sf"])
    ops.ok("POST", "/api/v1/couriers", ops.keys["sf"], json={"id": "sf-2"})
    east = EdgeSide.create(tmp_path, "east-1", "mqtt://127.0.0.1:1")
    runner = CommandRunner(east.engine, east.key, lambda: None)
    for delivery in commands.due(ops.engine, 30.0, secret_key=ops.settings.secret_key):
        if delivery.bank_id == "east-1":
            ack = asyncio.run(runner.run(delivery.envelope, delivery.remaining_s))
            assert ack.outcome == "applied", ack
    flows = Flows(east.engine, east.config, east.key)
    today = codes_at(ops, "sf", "east-1")
    assert flows.sign_in("sf-1", today["sf-1"]).carrier == "sf"
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    for courier_id, wrong in (
        ("sf-1", codes_at(ops, "sf", "east-1", tomorrow)["sf-1"]),
        ("sf-1", codes_at(ops, "sf", "west-1")["sf-1"]),
        ("sf-1", today["sf-2"]),
    ):
        with pytest.raises(BadCredentials):
            flows.sign_in(courier_id, wrong)
    east.engine.dispose()


def test_a_bank_abroad_gets_its_codes_by_its_own_midnight(cloud: Cloud) -> None:
    """A site in Shanghai (UTC+8): the day's code is its local day's, and each code the bank is
    sent runs from one of its midnights to the next."""
    made = cloud.ok("POST", "/api/v1/operators", cloud.admin, json={"name": "Estates Ltd"})
    operator = bearer(made["api_key"])
    where = {"name": "Pudong", "lat": 31.2, "lon": 121.5, "timezone": "Asia/Shanghai"}
    site = cloud.ok("POST", "/api/v1/sites", operator, json=where)
    bad = cloud.call("POST", "/api/v1/sites", operator, json=where | {"timezone": "Mars/Olympus"})
    assert bad.status_code == 422
    cloud.ok("POST", "/api/v1/banks", operator, json={"id": "pudong-1", "site_id": site["id"],
             "compartments": [{"label": "A01", "size": "M"}]})  # fmt: skip
    made = cloud.ok("POST", "/api/v1/carriers", cloud.admin, json={"id": "sf", "name": "SF"})
    cloud.keys["sf"] = bearer(made["api_key"])
    cloud.ok("POST", "/api/v1/couriers", cloud.keys["sf"], json={"id": "sf-1"})
    cloud.ok("PUT", "/api/v1/banks/pudong-1/policies/sf", operator,
             json={"guaranteed": 0, "ceiling": 1})  # fmt: skip
    cloud.ok("POST", "/api/v1/shares/pudong-1/accept", cloud.keys["sf"])
    local_today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    [code] = cloud.ok("GET", "/api/v1/banks/pudong-1/courier-codes", cloud.keys["sf"])
    assert code["day"] == local_today.isoformat()
    engine = cloud.engine
    [push] = [d for d in commands.due(engine, 30.0, secret_key=cloud.settings.secret_key)
              if d.envelope.command.type == "courier.push"]  # fmt: skip
    first = push.envelope.command.codes[0]  # type: ignore[union-attr]
    assert first.day == local_today
    assert first.starts_at == datetime.combine(local_today, time(16), UTC) - timedelta(days=1)
    assert first.ends_at - first.starts_at == timedelta(hours=24)
    # the next window is due at the bank's midnight, not UTC's
    assert carriers.refresh_codes(engine, first.ends_at - timedelta(seconds=1)) == 0
    assert carriers.refresh_codes(engine, first.ends_at) == 1
