"""Storage policies per site: set by the site's operator, refused below the local minimum,
pushed to every bank of the site, and each parcel's deadline counted from what its bank
reported, as the bank counts it (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from cloud.messaging.states import MessageKind
from cloud.models import AuditEntry, Command, Notification, Parcel, Site
from cloud.services.ingest import ingest_event
from cloud.services.storage_policy import fee_rule, parcel_storage
from controller import storage as edge_storage
from controller.commands import CommandRunner
from controller.store import Parcel as EdgeParcel
from controller.store import emit, outbox, transaction
from locker_contract import sealing
from locker_contract import storage as rules
from locker_contract.commands import CommandEnvelope
from locker_contract.events import (
    Envelope,
    Event,
    ParcelDeposited,
    ParcelRefused,
    StorageOutageChanged,
)
from locker_contract.storage import EXPIRY_REASON, StoragePolicy
from tests.cloud.conftest import Cloud, fleet
from tests.controller.fakeclock import FakeClock
from tests.linkbench import EdgeSide

POLICY = {
    "free_hours": 18,
    "keep_hours": 168,
    "fee_minor": 50,
    "period_hours": 12,
    "cap_minor": 300,
    "currency": "CNY",
}
DEPOSIT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def url(cloud: Cloud, bank: str = "maple") -> str:
    return f"/api/v1/sites/{cloud.keys[f'site:{bank}']['id']}/storage-policy"


def test_an_operator_sets_the_policy_and_every_bank_of_the_site_is_sent_it(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 2}, "oak": {"M": 1}}, carriers=("sf",))
    operator = cloud.keys["operator"]
    assert cloud.call("GET", url(cloud), operator).status_code == 404  # none set yet
    assert cloud.ok("PUT", url(cloud), operator, json=POLICY) == POLICY
    assert cloud.ok("GET", url(cloud), cloud.keys["manager:maple"]) == POLICY
    site = cloud.keys["site:maple"]["id"]
    later = {
        "id": "maple-2",
        "site_id": site,
        "name": "maple 2",
        "compartments": [{"label": "A01", "size": "M"}],
    }
    cloud.ok("POST", "/api/v1/banks", operator, json=later)  # joins a site with a policy
    with Session(cloud.engine) as s:
        sent = s.exec(select(Command).where(Command.type == "storage.policy")).all()
        assert sorted(c.bank_id for c in sent) == ["maple", "maple-2"]  # not oak: another site
        assert all(c.payload == {"policy": POLICY} for c in sent)
        assert all(c.ttl_s >= 7 * 24 * 3600 for c in sent)  # outlives a bank's week offline
        [entry] = s.exec(select(AuditEntry).where(AuditEntry.action == "set_storage_policy"))
        assert (entry.target, entry.detail["free_hours"]) == (site, 18)


def test_a_policy_below_the_local_minimum_is_refused(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 1}}, carriers=("sf",))
    short = POLICY | {"free_hours": 12}
    refused = cloud.call("PUT", url(cloud), cloud.keys["operator"], json=short)
    assert refused.status_code == 422
    assert "below the local minimum of 18 h" in refused.json()["detail"]
    assert refused.json()["minimum_free_hours"] == 18
    back_first = POLICY | {"keep_hours": 10}  # back to the carrier before the free period ends
    assert cloud.call("PUT", url(cloud), cloud.keys["operator"], json=back_first).status_code == 422
    with Session(cloud.engine) as s:
        assert s.exec(select(Command).where(Command.type == "storage.policy")).all() == []


def test_only_the_sites_operator_sets_it(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 1}}, carriers=("sf",))
    other = cloud.ok("POST", "/api/v1/operators", cloud.admin, json={"name": "Other Estates"})
    stranger = {"Authorization": f"Bearer {other['api_key']}"}
    assert cloud.call("PUT", url(cloud), stranger, json=POLICY).status_code == 404
    assert cloud.call("GET", url(cloud), stranger).status_code == 404
    assert cloud.call("PUT", url(cloud), cloud.keys["sf"], json=POLICY).status_code == 403
    manager = cloud.keys["manager:maple"]
    assert cloud.call("PUT", url(cloud), manager, json=POLICY).status_code == 403
    assert cloud.ok("PUT", url(cloud), cloud.admin, json=POLICY) == POLICY


def envelope(seq: int, event: Event) -> Envelope:
    return Envelope(event_id=uuid.uuid4(), bank_id="maple", seq=seq, time=DEPOSIT, event=event)


def outage(outage_id: uuid.UUID, label: str | None, start: float, end: float | None) -> Event:
    return StorageOutageChanged(
        outage_id=outage_id,
        compartment=label,
        cause="maintenance" if label is None else "door_failed",
        started_at=DEPOSIT + timedelta(hours=start),
        ended_at=None if end is None else DEPOSIT + timedelta(hours=end),
    )


def test_the_deadline_is_counted_from_the_banks_events_as_the_bank_counts_it(
    cloud: Cloud,
) -> None:
    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf",))
    engine = cloud.engine
    with Session(engine) as s:  # the site is in Shanghai
        site = s.get_one(Site, cloud.keys["site:maple"]["id"])
        site.timezone = "Asia/Shanghai"
        s.add(site)
        s.commit()
    kept_under = StoragePolicy.model_validate(POLICY)
    deposit = ParcelDeposited(
        parcel_id=uuid.uuid4(), waybill="SF1", carrier="sf", courier_id="sf-1",
        compartment="A01", recipient_phone="13800138000", group_id=uuid.uuid4(),
        sealed_code=None, consent="recipient_app", flagged_for_review=False,
        deposited_at=DEPOSIT, storage=kept_under,
    )  # fmt: skip
    maintenance, door, elsewhere = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = [
        deposit,
        outage(maintenance, None, 2, None),
        outage(elsewhere, "A02", 3, None),  # another compartment's door: not this parcel's
        outage(maintenance, None, 2, 6),  # the maintenance ended: 4 h stopped
        outage(door, "A01", 30, None),  # its own door failed at 30 h, still jammed
    ]
    for seq, event in enumerate(events, start=1):
        ingest_event(engine, envelope(seq, event), now=DEPOSIT)
    now = DEPOSIT + timedelta(hours=40)
    with Session(engine) as s:
        parcel = s.exec(select(Parcel).where(Parcel.waybill == "SF1")).one()
        terms = parcel_storage(s, parcel, now)
        extended = parcel_storage(s, parcel, now, extra_hours=24)
    assert terms is not None
    assert extended is not None
    assert terms.policy == kept_under
    assert terms.free_until == DEPOSIT + timedelta(hours=22)  # 18 free + 4 of maintenance
    assert terms.free_until.isoformat() == "2026-12-02T08:00:00+08:00"  # in the site's zone
    # 168 h + 4 h of maintenance + the jammed door's 10 h so far (taken to end now)
    assert terms.deadline == DEPOSIT + timedelta(hours=182)
    assert terms.owed_minor == 50  # 26 h counted: 8 h past the free period, one period started
    assert extended.deadline == DEPOSIT + timedelta(hours=206)
    assert terms.free_hours == 18


def test_the_rule_in_words() -> None:
    policy = StoragePolicy.model_validate(POLICY)
    assert fee_rule(policy, "en") == (
        "Free for 18 h; then ¥0.50 per started 12 h, at most ¥3.00; "
        "after 168 h it goes back to the carrier."
    )
    assert fee_rule(policy, "zh") == (
        "免费保管18小时；超时每12小时收费¥0.50（不足12小时按12小时计），最高¥3.00；"
        "168小时后退回快递公司。"
    )
    free = StoragePolicy(free_hours=72, keep_hours=72)
    assert fee_rule(free, "en") == "Free for 72 h; then it goes back to the carrier."
    assert fee_rule(free, "zh") == "免费保管72小时，逾期退回快递公司。"


def test_a_parcel_returned_at_its_deadline_gets_its_recipient_an_expired_message(
    cloud: Cloud,
) -> None:
    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf",))
    engine = cloud.engine
    public, _ = sealing.new_key_pair()
    group = uuid.uuid4()
    deposits = [
        ParcelDeposited(
            parcel_id=uuid.uuid4(), waybill=waybill, carrier="sf", courier_id="sf-1",
            compartment=label, recipient_phone="13800138000", group_id=group,
            sealed_code=sealing.seal_code(sealing.public_key(public), "12345678")
            if label == "A01" else None,
            consent="recipient_app", flagged_for_review=False, deposited_at=DEPOSIT,
        )
        for waybill, label in (("SF-OLD", "A01"), ("SF-MINE", "A02"))
    ]  # fmt: skip
    events: list[Event] = [
        *deposits,
        ParcelRefused(parcel_id=deposits[1].parcel_id, waybill="SF-MINE", reason="damaged"),
        ParcelRefused(parcel_id=deposits[0].parcel_id, waybill="SF-OLD", reason=EXPIRY_REASON),
    ]
    for seq, event in enumerate(events, start=1):
        ingest_event(engine, envelope(seq, event), now=DEPOSIT)
    with Session(engine) as s:
        told = s.exec(select(Notification).where(Notification.kind == MessageKind.EXPIRED))
        [expired] = told.all()
        assert (expired.waybill, expired.group_id, expired.sealed_code) == (
            "SF-OLD",
            str(group),
            None,
        )
        assert expired.recipient_phone == "13800138000"


async def test_the_cloud_counts_the_deadline_the_bank_counts(cloud: Cloud, tmp_path: Path) -> None:
    """The bank's own events, from its outbox, ingested: both sides give one deadline and fee."""
    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf",))
    edge = EdgeSide.create(tmp_path, "maple", "mqtt://127.0.0.1:1")
    clock = FakeClock()
    runner = CommandRunner(edge.engine, edge.key, lambda: None, clock)

    async def command(body: dict[str, object]) -> None:
        sent = {"command_id": str(uuid.uuid4()), "sent_at": clock.wall(), "ttl_s": 60.0}
        await runner.run(CommandEnvelope.model_validate(sent | {"command": body}), 60)

    try:
        await command({"type": "storage.policy", "policy": POLICY})
        with transaction(edge.engine) as s:  # a deposit, recorded as ``recording`` does
            parcel = EdgeParcel(
                waybill="SF9", carrier="sf", courier_id="sf-1", recipient_phone="13800138000",
                compartment="A01", consent="recipient_app", deposited_at=clock.wall(),
            )  # fmt: skip
            s.add(parcel)
            s.flush()
            fallback = edge_storage.default_policy(edge.config.policy)
            kept = edge_storage.keep_terms(s, parcel.id, fallback)
            emit(
                s,
                ParcelDeposited(
                    parcel_id=uuid.UUID(parcel.id), waybill="SF9", carrier="sf",
                    courier_id="sf-1", compartment="A01", recipient_phone="13800138000",
                    group_id=uuid.uuid4(), sealed_code=None, consent="recipient_app",
                    flagged_for_review=False, deposited_at=clock.wall(), storage=kept,
                ),
            )  # fmt: skip
        clock.advance(3 * 3600)
        await command({"type": "bank.maintenance", "on": True})
        clock.advance(7 * 3600)
        await command({"type": "bank.maintenance", "on": False})
        clock.advance(20 * 3600)
        edge_storage.doors_failed(edge.engine, [("A01", "jammed")], clock.wall())
        clock.advance(5 * 3600)
        now = clock.wall()
        with transaction(edge.engine) as s:
            outages = edge_storage.outages_of(s, "A01")
            at_bank = rules.deadline(parcel.deposited_at, kept, outages, now)
            owed_at_bank = edge_storage.owed(s, s.get_one(EdgeParcel, parcel.id), fallback, now)
            sent = outbox(s, "maple")
    finally:
        edge.engine.dispose()
    for envelope in sent:
        ingest_event(cloud.engine, envelope, now=now)
    with Session(cloud.engine) as s:
        in_cloud = parcel_storage(
            s, s.exec(select(Parcel).where(Parcel.waybill == "SF9")).one(), now
        )
    assert in_cloud is not None
    assert at_bank == parcel.deposited_at + timedelta(hours=168 + 7 + 5)  # maintenance, the door
    assert in_cloud.deadline == at_bank
    assert (in_cloud.owed_minor, "CNY") == owed_at_bank == (50, "CNY")  # 23 h counted
