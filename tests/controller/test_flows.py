"""The edge daemon on the twin: every courier and recipient case through the kiosk API.

Nothing here has a cloud: the bank works offline throughout, as a building's own locker would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from controller.flows import CourierIdentity, D
from controller.lifecycles import IntentState, UnlockFlow
from controller.sessions import Sessions
from controller.store import (
    ACTIVE_DEPOSIT_STATES,
    Compartment,
    Deposit,
    Hold,
    Intent,
    Outbox,
    Parcel,
    PickupGroup,
    outbox,
)
from hil_sim import Simulator
from hil_sim.door import DoorState
from locker_cli.main import app as locker_app
from locker_contract.events import Envelope, ParcelDeposited
from tests.controller.conftest import FAST_POLICY, Bank, config_text, make_bank
from tests.controller.fakeclock import FakeClock
from tests.waiting import wait_until

pytestmark = pytest.mark.pty


def door_of(bank: Bank, label: str) -> tuple[int, int]:
    first = 1 if bank.sim.protocol == "xor8a" else 0
    return first + "AB".index(label[0]), int(label[1:])


def shut(bank: Bank, label: str) -> None:
    board, lock = door_of(bank, label)
    wait_until(lambda: bank.sim.door(board, lock).state is DoorState.OPEN)
    assert bank.sim.close_door(board, lock)


def deposit(
    bank: Bank, headers: dict[str, str], waybill: str, **extra: object
) -> dict[str, object]:
    body = {
        "waybill": waybill,
        "phone": "13800138000",
        "size": "M",
        "consent": "phone_call",
        **extra,
    }
    answer = bank.client.post("/api/deposits", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def recorded(bank: Bank, headers: dict[str, str], deposit_id: object) -> dict[str, object]:
    url = f"/api/deposits/{deposit_id}"
    wait_until(lambda: bank.client.get(url, headers=headers).json()["state"] == "recorded")
    return dict(bank.client.get(url, headers=headers).json())


def deposit_and_shut(
    bank: Bank, headers: dict[str, str], waybill: str, **extra: object
) -> dict[str, object]:
    started = deposit(bank, headers, waybill, **extra)
    shut(bank, str(started["compartment"]))
    return recorded(bank, headers, started["deposit_id"])


def codes_sent(bank: Bank) -> list[str | None]:
    """The codes each deposit's courier was shown to hand on, in order: this bank has no
    notifier key, so its events carry none (decision 0011)."""
    with bank.session() as s:
        rows = s.exec(
            select(Outbox).where(Outbox.type == "parcel.deposited").order_by(col(Outbox.seq))
        )
        bodies = [json.loads(r.body) for r in rows]
        assert [b["sealed_code"] for b in bodies] == [None] * len(bodies)
        deposits = [s.exec(select(Deposit).where(Deposit.parcel_id == b["parcel_id"])).one()
                    for b in bodies]  # fmt: skip
    return [bank.edge.flows.handoff.show(d.id, d.courier_id) for d in deposits]


def contains(events: Callable[[], list[str]], kind: str) -> bool:
    return kind in events()


def parcel(bank: Bank, parcel_id: object) -> Parcel:
    with bank.session() as s:
        return s.get_one(Parcel, str(parcel_id))


# --- couriers -----------------------------------------------------------------------------


def test_deposit_records_the_parcel_only_after_open_then_close(bank: Bank) -> None:
    headers = bank.courier("sf-0042", "sf-express")
    started = deposit(bank, headers, "SF100")
    assert started["compartment"] == "A03"  # smallest free M
    assert started["state"] == "open"
    assert started["flagged_for_review"] is True  # consent declared at the kiosk
    with bank.session() as s:
        assert s.exec(select(Parcel)).first() is None
    shut(bank, "A03")
    done = recorded(bank, headers, started["deposit_id"])
    assert parcel(bank, done["parcel_id"]).compartment == "A03"
    assert bank.events() == [
        "door.unlock_requested",
        "door.opened",
        "door.closed",
        "parcel.deposited",
    ]
    [code] = codes_sent(bank)
    assert code is not None
    assert len(code) == 8
    with bank.session() as s:
        group = s.exec(select(PickupGroup)).one()
    assert code not in group.code_hash


def test_announced_waybill_uses_the_consent_on_record(bank: Bank) -> None:
    headers = bank.courier("jd-7", "jd")
    runner = CliRunner()
    args = [
        "edge",
        "--config",
        str(bank.config_path),
        "expect",
        "--waybill",
        "JD1",
        "--carrier",
        "jd",
    ]
    done = runner.invoke(
        locker_app, [*args, "--phone", "13900139000", "--consent", "recipient_app"]
    )
    assert done.exit_code == 0, done.output
    started = deposit(bank, headers, "JD1", phone="", consent=None)
    assert started["flagged_for_review"] is False
    # another carrier's waybill of that number is not jd's announcement: its recipient is not
    # handed to sf's courier, who must name one as for any unannounced parcel
    other = bank.courier("sf-1", "sf-express")
    refused = bank.client.post("/api/deposits", json={"waybill": "JD1", "size": "M"}, headers=other)
    assert refused.status_code == 422
    assert refused.json()["detail"] == "enter the recipient's phone number"


def test_unannounced_waybill_needs_a_declared_consent(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    body = {"waybill": "X1", "phone": "13800138000", "size": "M"}
    answer = bank.client.post("/api/deposits", json=body, headers=headers)
    assert answer.status_code == 422
    assert "phone_call" in answer.json()["choices"]


def test_a_low_compartment_when_asked(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    assert deposit(bank, headers, "LOW1", size="S", low=True)["compartment"] == "A01"


def test_does_not_fit_moves_to_the_next_size_up(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    started = deposit(bank, headers, "BIG1")
    moved = bank.client.post(f"/api/deposits/{started['deposit_id']}/does-not-fit", headers=headers)
    assert moved.json()["state"] == "resizing"
    shut(bank, "A03")
    url = f"/api/deposits/{started['deposit_id']}"
    wait_until(lambda: bank.client.get(url, headers=headers).json()["compartment"] == "A05")
    shut(bank, "A05")
    done = recorded(bank, headers, started["deposit_id"])
    assert done["size"] == "L"
    assert parcel(bank, done["parcel_id"]).compartment == "A05"


def test_a_door_that_fails_to_open_moves_to_the_next_compartment(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    deposit_and_shut(bank, headers, "FILL-A03")
    started = deposit(bank, headers, "NEXT1")  # A04 is jammed in the twin
    assert started["compartment"] == "B03"
    assert started["state"] == "open"
    assert "door.jammed" in bank.events()


def test_cancel_leaves_nothing_recorded(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    started = deposit(bank, headers, "CANCEL1")
    bank.client.post(f"/api/deposits/{started['deposit_id']}/cancel", headers=headers)
    shut(bank, "A03")
    url = f"/api/deposits/{started['deposit_id']}"
    wait_until(lambda: bank.client.get(url, headers=headers).json()["state"] == "abandoned")
    assert bank.client.get(url, headers=headers).json()["outcome"] == "cancelled"
    assert "parcel.deposited" not in bank.events()
    again = bank.client.post(f"/api/deposits/{started['deposit_id']}/cancel", headers=headers)
    assert again.status_code == 409


def test_a_full_bank_says_so(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    with bank.session() as s:
        for row in s.exec(select(Compartment).where(Compartment.size == "XL")):
            row.in_service = False
            s.add(row)
        s.commit()
    answer = bank.client.post(
        "/api/deposits",
        json={"waybill": "XL1", "phone": "13800138000", "size": "XL", "consent": "phone_call"},
        headers=headers,
    )
    assert answer.status_code == 409
    assert answer.json()["detail"] == "no free compartment fits size XL"


def test_a_door_left_open_raises_an_alarm(tmp_path: Path) -> None:
    """On the bank's clock: an hour's limit passes when the test moves the clock an hour."""
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    policy = FAST_POLICY.replace("left_open_after_s = 1.0", "left_open_after_s = 3600.0")
    for bank in make_bank(tmp_path, sim, extra=policy):
        assert bank.edge.doors is not None
        clock = FakeClock(follow=True)
        bank.edge.doors.clock = clock
        headers = bank.courier("sf-1", "sf-express")
        deposit(bank, headers, "OPEN1")
        assert "door.left_open" not in bank.events()
        clock.advance(3600)
        wait_until(partial(contains, bank.events, "door.left_open"))
        assert bank.events().count("door.left_open") == 1


def test_wrong_pin_and_unknown_courier_look_the_same(bank: Bank) -> None:
    bank.courier("sf-1", "sf-express")
    wrong = bank.client.post("/api/courier/sign-in", json={"courier_id": "sf-1", "pin": "0000"})
    unknown = bank.client.post("/api/courier/sign-in", json={"courier_id": "nobody", "pin": "0000"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert bank.client.post("/api/deposits", json={"waybill": "A"}).status_code == 401


def test_courier_sessions_time_out() -> None:
    clock = FakeClock()
    sessions = Sessions(timeout_s=30, clock=clock)
    token = sessions.open(CourierIdentity("c", "acme"))
    clock.advance(29.9)
    assert sessions.courier(token).carrier == "acme"  # and used: 30 s more from here
    clock.advance(30.1)
    with pytest.raises(Exception, match="session has ended"):
        sessions.courier(token)


# --- recipients ---------------------------------------------------------------------------


def test_one_code_opens_two_companies_parcels(bank: Bank) -> None:
    sf = bank.courier("sf-1", "sf-express")
    jd = bank.courier("jd-1", "jd")
    first = deposit_and_shut(bank, sf, "SF1", phone="13800138000")
    second = deposit_and_shut(bank, jd, "JD1", phone="138-0013-8000")
    code, joined = codes_sent(bank)
    assert code is not None
    assert joined is None  # the second parcel joined the recipient's group
    assert parcel(bank, first["parcel_id"]).group_id == parcel(bank, second["parcel_id"]).group_id
    doors = bank.client.post("/api/pickup", json={"code": f"{code[:4]} {code[4:]}"}).json()
    assert [d["outcome"] for d in doors] == ["opened", "opened"]
    for d in doors:
        shut(bank, d["compartment"])
    for taken in (first["parcel_id"], second["parcel_id"]):  # each door's close, in its time
        wait_until(partial(lambda p: parcel(bank, p).state == "picked_up", taken))
    used = bank.client.post("/api/pickup", json={"code": code})
    assert used.status_code == 401  # the group is empty: the code is used up


def test_wrong_codes_show_tries_left_then_lock_out(bank: Bank) -> None:
    for left in (4, 3, 2, 1):
        answer = bank.client.post("/api/pickup", json={"code": "00000000"})
        assert answer.status_code == 401
        assert answer.json()["attempts_left"] == left
    locked = bank.client.post("/api/pickup", json={"code": "00000000"})
    assert locked.status_code == 401
    assert locked.json()["retry_after_s"] == 30
    again = bank.client.post("/api/pickup", json={"code": "11111111"})
    assert again.status_code == 429
    assert again.headers["Retry-After"] == "30"


def test_a_jammed_door_keeps_its_parcel_in_the_group(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    done = deposit_and_shut(bank, headers, "J1")
    [code] = codes_sent(bank)
    assert code is not None
    bank.sim.door(1, 3).jammed = True
    [door] = bank.client.post("/api/pickup", json={"code": code}).json()
    assert door["outcome"] == "jammed"
    assert parcel(bank, done["parcel_id"]).state == "in_locker"
    bank.sim.door(1, 3).jammed = False
    [door] = bank.client.post("/api/pickup", json={"code": code}).json()
    assert door["outcome"] == "opened"


def test_refusal_becomes_a_return_the_courier_collects(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    done = deposit_and_shut(bank, headers, "DMG1")
    [code] = codes_sent(bank)
    assert code is not None
    session = bank.client.post("/api/pickup", json={"code": code}).headers["X-Pickup-Session"]
    wait_until(lambda: parcel(bank, done["parcel_id"]).opened_for == "pickup")
    refused = bank.client.post(
        "/api/pickup/refuse",
        json={"session": session, "parcel_id": done["parcel_id"], "reason": "box crushed"},
    )
    assert refused.status_code == 200, refused.text
    shut(bank, "A03")
    wait_until(lambda: bank.events().count("door.closed") == 2)  # the bank saw it shut
    assert parcel(bank, done["parcel_id"]).state == "return_pending"
    other = bank.courier("jd-1", "jd")
    assert bank.client.get("/api/returns", headers=other).json() == []
    [listed] = bank.client.get("/api/returns", headers=headers).json()
    assert listed["reason"] == "box crushed"
    [door] = bank.client.post("/api/returns/collect", headers=headers).json()
    assert door["outcome"] == "opened"
    shut(bank, "A03")
    wait_until(lambda: parcel(bank, done["parcel_id"]).state == "returned")
    assert bank.events().count("parcel.returned") == 1


def test_an_old_unanswered_unlock_does_not_excuse_a_forced_door(bank: Bank) -> None:
    with bank.session() as s:  # an unlock whose outcome was never read, an hour ago
        stale = datetime.now(UTC) - timedelta(hours=1)
        remote, unknown = UnlockFlow.REMOTE, IntentState.UNKNOWN
        s.add(Intent(compartment="A05", reason="remote", flow=remote, ref="c-1", state=unknown,
                     created_at=stale))  # fmt: skip
        s.add(Intent(compartment="A06", reason="remote", flow=remote, ref="c-2", state=unknown))
        s.commit()
    bank.sim.force_open(1, 5)
    bank.sim.force_open(1, 6)
    wait_until(lambda: bank.events().count("door.forced_open") + bank.events().count(
        "door.opened") == 2)  # fmt: skip
    with bank.session() as s:
        rows = list(s.exec(select(Outbox).order_by(col(Outbox.seq))))
    opened = {json.loads(r.body)["compartment"]: r.type for r in rows if r.type.startswith("door.")}
    assert opened == {"A05": "door.forced_open", "A06": "door.opened"}


def test_a_forced_door_is_reported(bank: Bank) -> None:
    bank.sim.force_open(2, 7)
    wait_until(lambda: "door.forced_open" in bank.events())
    with bank.session() as s:
        assert s.get_one(Compartment, "B07").door == "open"


def test_a_board_offline_and_back(bank: Bank) -> None:
    bank.sim.unplug(2)
    wait_until(lambda: bank.client.get("/api/status").json()["boards_online"]["main/2"] is False)
    bank.sim.plug(2)
    wait_until(
        lambda: bank.client.get("/api/status").json()["boards_online"]["main/2"] is True, timeout=40
    )
    with bank.session() as s:
        health = [
            json.loads(r.body) for r in s.exec(select(Outbox).where(Outbox.type == "board.health"))
        ]
    assert [h["online"] for h in health] == [False, True]


def test_maintenance_stops_the_kiosk(bank: Bank) -> None:
    args = ["edge", "--config", str(bank.config_path), "maintenance"]
    assert CliRunner().invoke(locker_app, [*args, "on"]).exit_code == 0
    answer = bank.client.post("/api/pickup", json={"code": "12345678"})
    assert answer.status_code == 503
    assert CliRunner().invoke(locker_app, [*args, "off"]).exit_code == 0
    assert bank.client.post("/api/pickup", json={"code": "12345678"}).status_code == 401


def test_metrics_and_status_agree_on_what_is_free(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    assert 'locker_compartments{state="free"} 16.0' in bank.client.get("/metrics").text
    deposit(bank, headers, "BUSY1")  # door open, deposit in progress: not free, not a parcel yet
    free = sum(bank.client.get("/api/status").json()["free"].values())
    text = bank.client.get("/metrics").text
    assert free == 15
    assert f'locker_compartments{{state="free"}} {free}.0' in text
    assert 'locker_compartments{state="busy"} 1.0' in text
    assert 'locker_bus_transactions_total{bus="main"}' in text


def test_the_outbox_reads_back_as_contract_envelopes(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    deposit_and_shut(bank, headers, "ENV1")
    with bank.session() as s:
        envelopes = outbox(s, "maple-court-3")
        later = outbox(s, "maple-court-3", after=2)
    assert [e.seq for e in envelopes] == [1, 2, 3, 4]
    assert [e.event.type for e in envelopes] == bank.events()
    assert len({e.event_id for e in envelopes}) == 4
    assert [e.seq for e in later] == [3, 4]
    deposited = envelopes[-1].event
    assert isinstance(deposited, ParcelDeposited)
    assert deposited.waybill == "ENV1"
    assert Envelope.model_validate_json(envelopes[-1].model_dump_json()) == envelopes[-1]


# --- item sensors (Kerong) ------------------------------------------------------------------


def test_nothing_put_in_is_not_recorded(kerong_bank: Bank) -> None:
    headers = kerong_bank.courier("sf-1", "sf-express")
    started = deposit(kerong_bank, headers, "EMPTY1")
    shut(kerong_bank, "A03")
    url = f"/api/deposits/{started['deposit_id']}"
    wait_until(lambda: kerong_bank.client.get(url, headers=headers).json()["state"] == "abandoned")
    assert kerong_bank.client.get(url, headers=headers).json()["outcome"] == "nothing_put_in"


def test_a_parcel_left_behind_stays_active(kerong_bank: Bank) -> None:
    headers = kerong_bank.courier("sf-1", "sf-express")
    started = deposit(kerong_bank, headers, "ITEM1")
    board, lock = door_of(kerong_bank, "A03")
    wait_until(lambda: kerong_bank.sim.door(board, lock).state is DoorState.OPEN)
    kerong_bank.sim.put_item(board, lock)
    shut(kerong_bank, "A03")
    done = recorded(kerong_bank, headers, started["deposit_id"])
    [code] = codes_sent(kerong_bank)
    assert code is not None
    kerong_bank.client.post("/api/pickup", json={"code": code})
    shut(kerong_bank, "A03")  # closed again without taking the parcel
    wait_until(lambda: kerong_bank.events().count("door.closed") == 2)  # the close is handled
    assert parcel(kerong_bank, done["parcel_id"]).state == "in_locker"
    kerong_bank.client.post("/api/pickup", json={"code": code})
    wait_until(lambda: kerong_bank.sim.door(board, lock).state is DoorState.OPEN)
    kerong_bank.sim.take_item(board, lock)
    shut(kerong_bank, "A03")
    wait_until(lambda: parcel(kerong_bank, done["parcel_id"]).state == "picked_up")


def test_another_carriers_reservation_is_never_used(kerong_bank: Bank) -> None:
    with kerong_bank.session() as s:
        s.add(Hold(reservation_id="r-1", compartment="A03", carrier="jd"))
        s.commit()
    sf = kerong_bank.courier("sf-1", "sf-express")
    assert deposit(kerong_bank, sf, "R1")["compartment"] == "A04"
    jd = kerong_bank.courier("jd-1", "jd")
    started = deposit(kerong_bank, jd, "R2")
    assert started["compartment"] == "A03"
    board, lock = door_of(kerong_bank, "A03")
    wait_until(lambda: kerong_bank.sim.door(board, lock).state is DoorState.OPEN)
    kerong_bank.sim.put_item(board, lock)
    shut(kerong_bank, "A03")
    recorded(kerong_bank, jd, started["deposit_id"])
    with kerong_bank.session() as s:
        assert s.get(Hold, "r-1") is None  # fulfilled by jd's parcel


def test_deposit_states_are_the_active_ones() -> None:
    assert set(ACTIVE_DEPOSIT_STATES) == {
        d.value for d in (D.OPENING, D.OPEN, D.RESIZING, D.CANCELLING)
    }


# --- commissioning --------------------------------------------------------------------------


def test_commissioning_records_which_doors_work(tmp_path: Path) -> None:
    with Simulator("xor8a", [1, 2], 8, faults="jammed@2/6", close_after=0.2) as sim:
        path = tmp_path / "edge.toml"
        path.write_text(config_text(sim.path, tmp_path / "edge.db", extra=FAST_POLICY))
        # --wait is a deadline (the twin's person shuts each door after 0.2 s), not a pause
        done = CliRunner().invoke(
            locker_app, ["edge", "--config", str(path), "commission", "--wait", "30"]
        )
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert len(lines) == 16, lines
    assert "A01: works (opened)" in lines, lines
    assert "B06: FAILED (jammed)" in lines, lines


def test_a_bad_config_is_refused_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('[bank]\nid = "Bad Id"\n')
    done = CliRunner().invoke(locker_app, ["edge", "--config", str(path), "parcels"])
    assert done.exit_code == 2
    assert "bank.id" in done.output
    assert "bus: Field required" in done.output
    assert "compartment: Field required" in done.output


# --- guessing limits and administration ---------------------------------------------------


@pytest.fixture
def strict_bank(tmp_path: Path) -> Iterator[Bank]:
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    yield from make_bank(
        tmp_path,
        sim,
        extra=FAST_POLICY
        + "lockout_after = 50\ndaily_failure_limit = 6\nkiosk_failure_budget = 6\n",
    )


def test_a_day_of_wrong_codes_slows_the_kiosk_until_a_manager_reenables(strict_bank: Bank) -> None:
    slow = strict_bank.edge.config.policy.slow_lockout_s
    for _ in range(5):
        assert strict_bank.client.post("/api/pickup", json={"code": "00000000"}).status_code == 401
    last = strict_bank.client.post("/api/pickup", json={"code": "00000000"})
    assert last.json()["retry_after_s"] == slow
    assert "disabled" not in last.json()
    assert strict_bank.client.post("/api/pickup", json={"code": "00000000"}).status_code == 429
    with strict_bank.session() as s:
        alarms = [
            json.loads(r.body) for r in s.exec(select(Outbox).where(Outbox.type == "kiosk.lockout"))
        ]
    assert [(a["scope"], a["failures"], a["lockout_s"]) for a in alarms] == [
        ("code:kiosk", 6, slow),
        ("code:network", 6, slow),
    ]
    assert not any(a["disabled"] for a in alarms)
    done = CliRunner().invoke(
        locker_app, ["edge", "--config", str(strict_bank.config_path), "keypad"]
    )
    assert done.exit_code == 0, done.output
    assert strict_bank.client.post("/api/pickup", json={"code": "00000000"}).status_code == 401


def test_courier_pins_are_throttled_per_courier(bank: Bank) -> None:
    bank.courier("sf-1", "sf-express")
    for _ in range(4):
        answer = bank.client.post(
            "/api/courier/sign-in", json={"courier_id": "sf-1", "pin": "1111"}
        )
        assert answer.status_code == 401
    locked = bank.client.post("/api/courier/sign-in", json={"courier_id": "sf-1", "pin": "1111"})
    assert locked.json()["retry_after_s"] == 30
    right_pin = bank.client.post("/api/courier/sign-in", json={"courier_id": "sf-1", "pin": "2468"})
    assert right_pin.status_code == 429  # even the right PIN waits out the lockout
    assert "kiosk.lockout" in bank.events()


def test_revoked_and_listed_couriers(bank: Bank) -> None:
    bank.courier("sf-1", "sf-express")
    args = ["edge", "--config", str(bank.config_path), "couriers"]
    assert CliRunner().invoke(locker_app, [*args, "revoke", "sf-1"]).exit_code == 0
    listed = CliRunner().invoke(locker_app, [*args, "list"]).output
    assert "sf-1\tsf-express" in listed
    assert "revoked" in listed
    answer = bank.client.post("/api/courier/sign-in", json={"courier_id": "sf-1", "pin": "2468"})
    assert answer.status_code == 401
    missing = CliRunner().invoke(locker_app, [*args, "revoke", "nobody"])
    assert missing.exit_code == 1


def test_parcels_listing_hides_phone_numbers(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    deposit_and_shut(bank, headers, "SF-LIST-1")
    out = (
        CliRunner()
        .invoke(locker_app, ["edge", "--config", str(bank.config_path), "parcels"])
        .output
    )
    assert out.strip() == "A03\tSF-LIST-1\tsf-express\t*******8000\tin_locker"


def test_parcels_past_the_storage_period_become_returns(tmp_path: Path) -> None:
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    for bank in make_bank(tmp_path, sim, extra=FAST_POLICY + "storage_days = 0.00001\n"):
        headers = bank.courier("sf-1", "sf-express")
        done = deposit_and_shut(bank, headers, "OLD1")
        [code] = codes_sent(bank)
        clock = FakeClock(follow=True)
        bank.edge.flows.clock = clock
        assert bank.edge.flows.expire_storage() == 0
        clock.advance(1.0)  # 0.00001 days is 0.86 s
        assert bank.edge.flows.expire_storage() == 1
        assert parcel(bank, done["parcel_id"]).refusal == "storage period ended"
        assert bank.client.post("/api/pickup", json={"code": code}).status_code == 401
        [listed] = bank.client.get("/api/returns", headers=headers).json()
        assert listed["waybill"] == "OLD1"
        assert bank.edge.flows.expire_storage() == 0


def test_a_door_that_jams_twice_goes_out_of_service(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    deposit_and_shut(bank, headers, "FILL-A03")
    assert deposit(bank, headers, "J-1")["compartment"] == "B03"  # A04 jammed once
    shut(bank, "B03")
    assert deposit(bank, headers, "J-2")["compartment"] == "B04"  # A04 jammed twice
    with bank.session() as s:
        a04 = s.get_one(Compartment, "A04")
        service = [
            json.loads(r.body)
            for r in s.exec(select(Outbox).where(Outbox.type == "compartment.service"))
        ]
    assert (a04.in_service, a04.jam_count) == (False, 2)
    assert service == [
        {
            "type": "compartment.service",
            "compartment": "A04",
            "in_service": False,
            "reason": "jammed 2 times",
        }
    ]
    assert bank.events().count("door.jammed") == 2


def test_courier_credentials_expire_offline(bank: Bank) -> None:
    args = ["edge", "--config", str(bank.config_path), "couriers", "add", "--id", "tmp-1"]
    done = CliRunner().invoke(
        locker_app, [*args, "--carrier", "acme", "--pin", "2468", "--ttl-hours", "0.0001"]
    )
    assert done.exit_code == 0, done.output
    clock = FakeClock(follow=True)
    bank.edge.flows.clock = clock
    clock.advance(0.5)  # 0.0001 h is 0.36 s
    answer = bank.client.post("/api/courier/sign-in", json={"courier_id": "tmp-1", "pin": "2468"})
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_the_kiosk_says_wrong_pin_and_session_ended_apart(bank: Bank) -> None:
    bank.courier("sf-1", "sf-express")
    wrong = bank.client.post("/kiosk/courier", data={"courier_id": "sf-1", "pin": "0000"})
    assert wrong.status_code == 401
    assert "快递员编号或密码错误，或登录凭证已过期。" in wrong.text
    bank.client.cookies.set("kiosk_session", "stale")
    ended = bank.client.get("/api/deposits/x")
    assert ended.json()["detail"] == "your session has ended; sign in again"


def test_a_courier_revoked_while_signed_in_is_signed_out(bank: Bank) -> None:
    """Revocation does not wait for the session to time out: the next request is refused, and
    the courier's returns stay shut."""
    headers = bank.courier("sf-1", "sf-express")
    assert bank.client.get("/api/returns", headers=headers).status_code == 200
    args = ["edge", "--config", str(bank.config_path), "couriers", "revoke", "sf-1"]
    assert CliRunner().invoke(locker_app, args).exit_code == 0
    assert bank.client.get("/api/returns", headers=headers).status_code == 401
    assert bank.client.post("/api/returns/collect", headers=headers).status_code == 401
