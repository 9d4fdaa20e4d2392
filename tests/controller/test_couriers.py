"""Couriers at the edge: per-day codes from the cloud, one scrypt per sign-in whoever asks, keyed
throttle buckets that treat known and unknown ids alike, and announcements keyed by (carrier,
waybill)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from controller import codes
from controller.commands import CommandRunner
from controller.couriers import COURIER_ID_MAX, SCOPE_BUCKETS, SCOPE_HEX, scope
from controller.errors import BadCredentials, Invalid, LockedOut
from controller.flows import Flows
from controller.store import (
    CarrierPolicy,
    Courier,
    CourierCode,
    Expected,
    Hold,
    Parcel,
    Throttle,
    transaction,
)
from locker_contract.commands import CommandEnvelope
from locker_contract.credentials import day_bounds, day_code, day_salt, pin_verifier
from locker_contract.messages import CommandAck
from tests.linkbench import EdgeSide

CLOUD_KEY = b"k" * 32  # stands in for the cloud's derivation key
BANK = "maple-court-3"


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[EdgeSide]:
    side = EdgeSide.create(tmp_path, BANK, "mqtt://127.0.0.1:1")
    yield side
    side.engine.dispose()


@pytest.fixture
def flows(edge: EdgeSide) -> Flows:
    return Flows(edge.engine, edge.config, edge.key)


async def run(edge: EdgeSide, body: Mapping[str, object]) -> CommandAck:
    envelope = CommandEnvelope.model_validate(
        {"command_id": str(uuid.uuid4()), "sent_at": datetime.now(UTC), "ttl_s": 60.0,
         "command": body}
    )  # fmt: skip
    return await CommandRunner(edge.engine, edge.key, lambda: None).run(envelope, 60)


def push(
    courier_id: str, carrier: str, days: list[date], timezone: str = "UTC"
) -> dict[str, object]:
    """What the cloud sends: the verifiers of the courier's codes at BANK for ``days``, each
    from one local midnight of ``timezone`` to the next."""
    day_codes = []
    for day in days:
        salt = day_salt(CLOUD_KEY, courier_id, BANK, day)
        code = day_code(CLOUD_KEY, courier_id, BANK, day)
        starts_at, ends_at = day_bounds(day, timezone)
        day_codes.append({"day": day, "starts_at": starts_at, "ends_at": ends_at, "salt": salt,
                          "verifier": pin_verifier(code, salt)})  # fmt: skip
    return {"type": "courier.push", "courier_id": courier_id, "carrier_id": carrier,
            "codes": day_codes}  # fmt: skip


def today() -> date:
    return datetime.now(UTC).date()


# --- per-day codes --------------------------------------------------------------------------


async def test_a_pushed_code_opens_this_bank_today_only(edge: EdgeSide, flows: Flows) -> None:
    days = [today() + timedelta(days=n) for n in range(-1, 2)]  # yesterday, today, tomorrow
    assert (await run(edge, push("sf-1", "sf", days))).outcome == "applied"
    assert flows.sign_in("sf-1", day_code(CLOUD_KEY, "sf-1", BANK, today())).carrier == "sf"
    for wrong in (
        day_code(CLOUD_KEY, "sf-1", BANK, days[0]),  # yesterday's code, today
        day_code(CLOUD_KEY, "sf-1", BANK, days[2]),  # tomorrow's code, today
        day_code(CLOUD_KEY, "sf-1", "oak-1", today()),  # another bank's code for today
        day_code(CLOUD_KEY, "sf-2", BANK, today()),  # another courier's
    ):
        with pytest.raises(BadCredentials):
            flows.sign_in("sf-1", wrong)
    with transaction(edge.engine) as s:  # the bank keeps keyed verifiers, never a code
        stored = s.exec(select(CourierCode)).all()
        assert sorted(c.day for c in stored) == [d.isoformat() for d in days]
        assert not any(day_code(CLOUD_KEY, "sf-1", BANK, d) in repr(stored) for d in days)


async def test_a_code_opens_from_one_local_midnight_to_the_next(edge: EdgeSide) -> None:
    """A bank in Shanghai (UTC+8) takes the code of 1 December from 16:00 UTC on 30 November
    to 16:00 UTC on 1 December, by its clock alone."""
    from controller import couriers

    first = date(2026, 12, 1)
    days = [first, first + timedelta(days=1)]
    await run(edge, push("sf-1", "sf", days, "Asia/Shanghai"))
    code = day_code(CLOUD_KEY, "sf-1", BANK, first)
    at = {
        datetime(2026, 11, 30, 15, 59, tzinfo=UTC): False,  # 23:59 on 30 November there
        datetime(2026, 11, 30, 16, 0, tzinfo=UTC): True,  # midnight: 1 December begins
        datetime(2026, 12, 1, 15, 59, tzinfo=UTC): True,
        datetime(2026, 12, 1, 16, 0, tzinfo=UTC): False,  # 2 December: the next code
    }
    with transaction(edge.engine) as s:
        courier = s.get_one(Courier, "sf-1")
        opens = {now: couriers.matches(s, edge.key, courier, code, now) for now in at}
    assert opens == at


async def test_a_push_replaces_the_days_before_and_the_credential_ends_with_the_last(
    edge: EdgeSide, flows: Flows
) -> None:
    await run(edge, push("sf-1", "sf", [today() - timedelta(days=1)]))
    with pytest.raises(BadCredentials):  # yesterday's days only: nothing opens today
        flows.sign_in("sf-1", day_code(CLOUD_KEY, "sf-1", BANK, today()))
    await run(edge, push("sf-1", "sf", [today()]))
    with transaction(edge.engine) as s:
        assert [c.day for c in s.exec(select(CourierCode))] == [today().isoformat()]
        assert s.get_one(Courier, "sf-1").expires_at.date() == today() + timedelta(days=1)
    assert flows.sign_in("sf-1", day_code(CLOUD_KEY, "sf-1", BANK, today())).courier_id == "sf-1"


async def test_a_local_pin_still_works_beside_cloud_codes(edge: EdgeSide, flows: Flows) -> None:
    from controller import admin

    with transaction(edge.engine) as s:
        admin.add_courier(
            s,
            edge.key,
            courier_id="own-1",
            carrier="own",
            pin="97531",
            ttl_h=1,
            now=flows.clock.wall(),
        )
    assert flows.sign_in("own-1", "97531").carrier == "own"
    with pytest.raises(BadCredentials):
        flows.sign_in("own-1", "97530")
    with transaction(edge.engine) as s, pytest.raises(Invalid):  # no one could ever sign in
        admin.add_courier(s, edge.key, courier_id="x" * (COURIER_ID_MAX + 1), carrier="own",
                          pin="97531", ttl_h=1,
                          now=flows.clock.wall())  # fmt: skip


async def test_a_withdrawn_carrier_leaves_nothing_at_the_bank(edge: EdgeSide, flows: Flows) -> None:
    from controller import admin

    await run(edge, push("sf-1", "sf", [today()]))
    await run(edge, push("jd-1", "jd", [today()]))
    with transaction(edge.engine) as s:  # a PIN the bank's own staff gave one of sf's couriers
        admin.add_courier(
            s,
            edge.key,
            courier_id="sf-local",
            carrier="sf",
            pin="97531",
            ttl_h=1,
            now=flows.clock.wall(),
        )
    await run(edge, {"type": "policy.push", "carrier_id": "sf", "guaranteed": 1, "ceiling": 2})
    await run(edge, {"type": "reservation.push", "reservation_id": "r1", "carrier_id": "sf",
                     "compartment": "A03"})  # fmt: skip
    await run(edge, {"type": "parcel.announce", "waybill": "W1", "carrier_id": "sf",
                     "recipient_phone": "13800138000", "consent": "sms_reply"})  # fmt: skip
    assert (await run(edge, {"type": "carrier.withdraw", "carrier_id": "sf"})).outcome == "applied"
    with pytest.raises(BadCredentials):
        flows.sign_in("sf-1", day_code(CLOUD_KEY, "sf-1", BANK, today()))
    assert flows.sign_in("jd-1", day_code(CLOUD_KEY, "jd-1", BANK, today())).carrier == "jd"
    assert flows.sign_in("sf-local", "97531").carrier == "sf"  # the bank's own, not the cloud's
    with transaction(edge.engine) as s:
        assert s.get(Courier, "sf-1") is None
        assert s.get(CarrierPolicy, "sf") is None
        assert s.get(Hold, "r1") is None
        assert s.get(Expected, ("sf", "W1")) is None
    # shared again later: the carrier's couriers may come back (a withdrawal is no revocation)
    assert (await run(edge, push("sf-1", "sf", [today()]))).outcome == "applied"


# --- the same work, a bounded table -----------------------------------------------------------


def count_kdf(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = codes.pin_verifier

    def counted(pin: str, salt: str) -> str:
        calls.append(salt)
        return real(pin, salt)

    monkeypatch.setattr(codes, "pin_verifier", counted)
    return calls


async def test_unknown_revoked_and_known_ids_cost_one_scrypt_each(
    edge: EdgeSide, flows: Flows, monkeypatch: pytest.MonkeyPatch
) -> None:
    await run(edge, push("sf-1", "sf", [today()]))
    await run(edge, push("sf-2", "sf", [today()]))
    await run(edge, {"type": "courier.revoke", "courier_id": "sf-2"})
    await run(edge, push("sf-3", "sf", [today() - timedelta(days=1)]))  # no code for today
    calls = count_kdf(monkeypatch)
    for courier_id in ("sf-1", "sf-2", "sf-3", "nobody", "x" * (COURIER_ID_MAX + 1)):
        with pytest.raises(BadCredentials):
            flows.sign_in(courier_id, "12345678")
        assert len(calls) == 1, courier_id
        calls.clear()
    flows.sign_in("sf-1", day_code(CLOUD_KEY, "sf-1", BANK, today()))
    assert len(calls) == 1


def test_known_and_made_up_ids_are_throttled_alike_in_keyed_buckets(
    flows: Flows, edge: EdgeSide
) -> None:
    """The throttle tells nothing of whether an id exists: a real courier's id and a made-up
    one are each counted in the bucket a keyed hash of the id picks (once a shared row for all
    unknown ids and a row per real one let a guesser tell them apart by the tries left)."""
    from controller import admin

    bucket = scope(edge.key, "sf-1")
    assert bucket.startswith("pin:")
    assert len(bucket) == len("pin:") + SCOPE_HEX  # SCOPE_BUCKETS rows at most
    assert SCOPE_BUCKETS == 4096
    assert scope(edge.key, "sf-1") == bucket != scope(b"another bank's key" * 2, "sf-1")
    with transaction(edge.engine) as s:  # sf-1 is known to this bank, nobody-x is not
        admin.add_courier(
            s,
            edge.key,
            courier_id="sf-1",
            carrier="sf",
            pin="97531",
            ttl_h=1,
            now=flows.clock.wall(),
        )
    with pytest.raises(BadCredentials):
        flows.sign_in("made-up-0", "0000")  # once, a shared row for unknown ids counted this
    answers = {}
    for courier_id in ("sf-1", "nobody-x"):
        with pytest.raises(BadCredentials) as wrong:
            flows.sign_in(courier_id, "0000")
        answers[courier_id] = wrong.value.detail
    if len({scope(edge.key, i) for i in ("sf-1", "nobody-x", "made-up-0")}) == 3:  # ~1 - 1/1365
        assert answers["sf-1"] == answers["nobody-x"]  # the same tries left
    with pytest.raises(BadCredentials):
        flows.sign_in("y" * 100_000, "0000")  # a huge id is looked up nowhere
    with transaction(edge.engine) as s:
        rows = {t.scope: t.day_failures for t in s.exec(select(Throttle))}
    expected = [scope(edge.key, i) for i in ("sf-1", "nobody-x", "made-up-0", "y" * 100_000)]
    assert set(rows) == set(expected)
    for _ in range(flows.policy.lockout_after):
        with contextlib.suppress(BadCredentials, LockedOut):
            flows.sign_in("nobody-x", "0000")
    with pytest.raises(LockedOut):  # made-up ids are locked out like real ones
        flows.sign_in("nobody-x", "0000")


# --- announcements keyed by (carrier, waybill) --------------------------------------------


def announce(carrier: str, phone: str, waybill: str = "W1") -> dict[str, object]:
    return {"type": "parcel.announce", "waybill": waybill, "carrier_id": carrier,
            "recipient_phone": phone, "consent": "sms_reply"}  # fmt: skip


async def test_another_carriers_announcement_of_the_same_waybill_overwrites_nothing(
    edge: EdgeSide,
) -> None:
    assert (await run(edge, announce("sf", "13800138000"))).outcome == "applied"
    assert (await run(edge, announce("jd", "13900139000"))).outcome == "applied"
    with transaction(edge.engine) as s:
        assert s.get_one(Expected, ("sf", "W1")).recipient_phone == "13800138000"
        assert s.get_one(Expected, ("jd", "W1")).recipient_phone == "13900139000"


async def test_a_conflicting_announcement_is_refused_with_a_reason(edge: EdgeSide) -> None:
    await run(edge, announce("sf", "13800138000"))
    again = await run(edge, announce("sf", "138-0013-8000"))  # the same, spelled otherwise
    assert again.outcome == "applied"
    other = await run(edge, announce("sf", "13700137000"))
    assert (other.outcome, other.detail) == (
        "rejected", "waybill W1 of sf is already announced for another recipient"
    )  # fmt: skip
    with transaction(edge.engine) as s:
        assert s.get_one(Expected, ("sf", "W1")).recipient_phone == "13800138000"


async def test_an_announcement_after_its_deposit_names_the_same_recipient_or_is_refused(
    edge: EdgeSide,
) -> None:
    with transaction(edge.engine) as s:  # a walk-up deposit made before the announcement came
        s.add(Parcel(waybill="W2", carrier="sf", courier_id="sf-1", recipient_phone="13800138000",
                     compartment="A01", consent="phone_call"))  # fmt: skip
    late = await run(edge, announce("sf", "13700137000", "W2"))
    assert (late.outcome, late.detail) == (
        "rejected", "waybill W2 of sf is in the locker for another recipient"
    )  # fmt: skip
    assert (await run(edge, announce("sf", "13800138000", "W2"))).outcome == "applied"
    assert (await run(edge, announce("jd", "13700137000", "W2"))).outcome == "applied"
    with transaction(edge.engine) as s:
        assert s.get(Expected, ("sf", "W2")) is None  # already here: nothing left to expect
        assert s.get(Expected, ("jd", "W2")) is not None


def test_a_store_made_before_keeps_its_announcements_under_the_new_key(tmp_path: Path) -> None:
    import sqlite3

    from controller.store import open_store

    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.execute("CREATE TABLE expected (waybill VARCHAR NOT NULL, carrier VARCHAR NOT NULL, "
                    "recipient_phone VARCHAR NOT NULL, consent VARCHAR NOT NULL, "
                    "PRIMARY KEY (waybill))")  # fmt: skip
        old.execute("INSERT INTO expected VALUES ('W1', 'sf', '13800138000', 'sms_reply')")
    for _ in range(2):  # rebuilt once, then left alone
        engine = open_store(path)
        with transaction(engine) as s:
            s.merge(Expected(carrier="jd", waybill="W1", recipient_phone="1", consent="sms_reply"))
        with transaction(engine) as s:
            assert s.get_one(Expected, ("sf", "W1")).recipient_phone == "13800138000"
            assert s.get_one(Expected, ("jd", "W1")).recipient_phone == "1"
        engine.dispose()
