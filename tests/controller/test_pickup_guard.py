"""Pickup codes against a guesser, through the real API and pages on the twin: refusal needs the
pickup's session, every failure counts, one source's guesses lock out no one else's right code,
and the kiosk-wide budget slows and alarms but never disables entry. Time is a fake clock."""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from controller import admin, codes
from controller.api import PICKUP_SESSION_HEADER, create_app
from controller.config import load_config
from controller.daemon import Edge
from controller.store import Outbox, Parcel, PickupGroup, Throttle, transaction
from hil_sim import Simulator
from tests.controller.conftest import FAST_POLICY, config_text
from tests.controller.fakeclock import FakeClock
from tests.waiting import wait_until

SCREEN = {"X-Test-Client": "127.0.0.1"}  # the kiosk's own browser
LAN = {"X-Test-Client": "192.168.1.66"}  # anyone else who reaches the kiosk API
WRONG = {"code": "0000 0000"}


class AsClient:
    """Test only: the connection's client address taken from ``X-Test-Client``, as if the
    request had come from there (the app itself never reads such a header)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"x-test-client":
                    scope = {**scope, "client": (value.decode(), 50000)}
        await self.app(scope, receive, send)


@dataclass
class Guarded:
    client: TestClient
    edge: Edge
    sim: Simulator
    clock: FakeClock

    def pickup(self, headers: dict[str, str], body: dict[str, str] = WRONG) -> Any:
        return self.client.post("/api/pickup", json=body, headers=headers)

    def refuse(self, headers: dict[str, str], session: str, parcel_id: str) -> Any:
        body = {"session": session, "parcel_id": parcel_id, "reason": "box crushed"}
        return self.client.post("/api/pickup/refuse", json=body, headers=headers)

    def parcel(self, label: str, code: str, phone: str) -> str:
        """A parcel in ``label`` that ``code`` opens, as a recorded deposit leaves it."""
        with transaction(self.edge.engine) as s:
            group = PickupGroup(phone=phone, code_hash=codes.code_hash(self.edge.key, code))
            s.add(group)
            s.flush()
            parcel = Parcel(waybill=f"W-{label}", carrier="sf-express", courier_id="sf-1",
                            recipient_phone=phone, compartment=label, group_id=group.id,
                            consent="phone_call")  # fmt: skip
            s.add(parcel)
        return parcel.id

    def get(self, parcel_id: str) -> Parcel:
        with transaction(self.edge.engine) as s:
            return s.get_one(Parcel, parcel_id)

    def alarms(self) -> list[dict[str, Any]]:
        with transaction(self.edge.engine) as s:
            rows = s.exec(select(Outbox).where(Outbox.type == "kiosk.lockout"))
            return [json.loads(r.body) for r in rows]

    def throttle_rows(self) -> list[str]:
        with transaction(self.edge.engine) as s:
            return list(s.exec(select(Throttle.scope).order_by(col(Throttle.scope))))


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Guarded]:
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    path = tmp_path / "edge.toml"
    path.write_text(config_text(sim.start(), tmp_path / "edge.db", extra=FAST_POLICY))
    edge = Edge(load_config(path))
    clock = FakeClock()
    edge.flows.clock = clock
    try:
        with TestClient(AsClient(create_app(edge))) as client:
            yield Guarded(client, edge, sim, clock)
    finally:
        sim.stop()


def fail_until_locked(bank: Guarded, headers: dict[str, str]) -> float:
    for _ in range(bank.edge.config.policy.lockout_after):
        answer = bank.pickup(headers)
        assert answer.status_code == 401
    retry = float(answer.json()["retry_after_s"])
    assert bank.pickup(headers).status_code == 429
    return retry


def test_refusing_without_the_pickups_session_counts_like_a_wrong_code_and_locks(
    guarded: Guarded,
) -> None:
    parcel_id = guarded.parcel("A03", "12345678", "13800138000")
    answers = [
        guarded.refuse(SCREEN, "made-up", pid).json()
        for pid in (parcel_id, "no-such-parcel", parcel_id, "no-such-parcel")
    ]
    # a real parcel id and a made-up one get the same answer: nothing to learn by refusing
    assert [a["attempts_left"] for a in answers] == [4, 3, 2, 1]
    assert len({a["detail"] for a in answers}) == 1
    locked = guarded.refuse(SCREEN, "made-up", parcel_id)
    assert (locked.status_code, locked.json()["retry_after_s"]) == (401, 30)
    again = guarded.refuse(SCREEN, "made-up", parcel_id)
    assert again.status_code == 429  # no answer at all during the lockout
    assert guarded.pickup(SCREEN, {"code": "12345678"}).status_code == 429  # one count for both
    guarded.clock.advance(30)
    assert guarded.pickup(SCREEN, {"code": "12345678"}).status_code == 200
    assert guarded.get(parcel_id).state == "in_locker"


def test_the_pickups_session_refuses_what_it_opened_until_it_expires(guarded: Guarded) -> None:
    first = guarded.parcel("A03", "12345678", "13800138000")
    other = guarded.parcel("A05", "87654321", "13900139000")
    opened = guarded.pickup(SCREEN, {"code": "1234 5678"})
    assert opened.status_code == 200, opened.text
    session = opened.headers[PICKUP_SESSION_HEADER]
    wait_until(lambda: guarded.get(first).opened_for == "pickup")
    stranger = guarded.refuse(SCREEN, session, other)  # not this pickup's parcel
    assert (stranger.status_code, stranger.json()["attempts_left"]) == (401, 4)
    refused = guarded.refuse(SCREEN, session, first)
    assert refused.status_code == 200, refused.text
    assert guarded.get(first).state == "return_pending"
    twice = guarded.refuse(SCREEN, session, first)
    assert twice.status_code == 409  # the session's holder may be told the parcel's state
    later = guarded.pickup(SCREEN, {"code": "87654321"}).headers[PICKUP_SESSION_HEADER]
    wait_until(lambda: guarded.get(other).opened_for == "pickup")
    guarded.clock.advance(guarded.edge.config.policy.pickup_session_s)
    expired = guarded.refuse(SCREEN, later, other)
    assert expired.status_code == 401
    assert guarded.get(other).state == "in_locker"


def test_a_guesser_on_the_network_does_not_lock_out_the_screen(guarded: Guarded) -> None:
    parcel_id = guarded.parcel("A03", "12345678", "13800138000")
    assert fail_until_locked(guarded, LAN) == 30
    for _ in range(3):
        assert guarded.pickup(LAN).status_code == 429
    doors = guarded.pickup(SCREEN, {"code": "12345678"})
    assert doors.status_code == 200, doors.text
    assert [(d["parcel_id"], d["outcome"]) for d in doors.json()] == [(parcel_id, "opened")]
    # and the recipient's success there gives the guesser nothing back
    locked = guarded.pickup(LAN)
    assert locked.status_code == 429
    assert float(locked.json()["retry_after_s"]) == 30
    assert guarded.throttle_rows() == ["code:kiosk", "code:network", "code:terminal"]


def test_a_success_clears_only_its_own_sources_failures(guarded: Guarded) -> None:
    guarded.parcel("A03", "12345678", "13800138000")
    for left in (4, 3):
        assert guarded.pickup(SCREEN).json()["attempts_left"] == left
    assert guarded.pickup(LAN, {"code": "12345678"}).status_code == 200
    assert guarded.pickup(SCREEN).json()["attempts_left"] == 2  # still counted down
    assert guarded.pickup(SCREEN, {"code": "12345678"}).status_code == 200
    assert guarded.pickup(SCREEN).json()["attempts_left"] == 4  # its own success cleared it


def test_the_kiosk_budget_slows_and_alarms_and_never_disables_entry(guarded: Guarded) -> None:
    policy = guarded.edge.config.policy
    parcel_id = guarded.parcel("A03", "12345678", "13800138000")
    for _ in range(policy.kiosk_failure_budget - 1):
        answer = guarded.pickup(LAN)
        assert answer.status_code == 401
        guarded.clock.advance(float(answer.json().get("retry_after_s", 0)))
    assert [a["scope"] for a in guarded.alarms()] == ["code:network"] * 5  # each lockout
    spent = guarded.pickup(LAN)
    assert spent.json()["retry_after_s"] == policy.slow_lockout_s
    assert spent.json().get("disabled") is None
    [kiosk] = [a for a in guarded.alarms() if a["scope"] == "code:kiosk"]
    assert kiosk == kiosk | {"failures": policy.kiosk_failure_budget, "disabled": False,
                             "lockout_s": policy.slow_lockout_s}  # fmt: skip
    slowed = guarded.pickup(LAN)
    assert slowed.status_code == 429
    assert slowed.headers["Retry-After"] == str(int(policy.slow_lockout_s))
    # the screen, which made no mistake, still opens the right code at once
    opened = guarded.pickup(SCREEN, {"code": "12345678"})
    assert opened.status_code == 200, opened.text
    assert opened.json()[0]["parcel_id"] == parcel_id
    # and the guesser gets one more try per slow lockout, never a 423 for everyone
    guarded.clock.advance(policy.slow_lockout_s - 1)
    assert guarded.pickup(LAN).status_code == 429
    guarded.clock.advance(1)
    assert guarded.pickup(LAN).status_code == 401
    assert guarded.pickup(LAN).status_code == 429
    with transaction(guarded.edge.engine) as s:  # a manager ends the slow mode
        admin.reenable_keypad(s)
    assert guarded.pickup(LAN).json()["attempts_left"] == 4


def test_the_pages_count_wrong_codes_and_refusals_per_source(guarded: Guarded) -> None:
    parcel_id = guarded.parcel("A03", "12345678", "13800138000")
    form = {"session": "made-up", "parcel_id": parcel_id}
    refused = guarded.client.post("/kiosk/pickup/refuse", data=form, headers=LAN)
    assert refused.status_code == 401
    assert "本次取件已结束" in refused.text
    for _ in range(4):
        page = guarded.client.post("/kiosk/pickup", data={"code": "0000 0000"}, headers=LAN)
    assert page.status_code == 401
    assert 'data-countdown="30"' in page.text
    opened = guarded.client.post("/kiosk/pickup", data={"code": "12345678"}, headers=SCREEN)
    assert opened.status_code == 200
    assert "12345678" not in opened.text  # the page holds the session, not the code
    session = opened.text.split('name="session" value="')[1].split('"')[0]
    wait_until(lambda: guarded.get(parcel_id).opened_for == "pickup")
    form = {"session": session, "parcel_id": parcel_id}
    done = guarded.client.post("/kiosk/pickup/refuse", data=form, headers=SCREEN)
    assert done.status_code == 200
    assert "已拒收包裹 W-A03" in done.text
    assert guarded.get(parcel_id).state == "return_pending"
