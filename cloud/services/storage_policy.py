"""Storage policies per site: set by the site's operator, pushed to its banks, and each
parcel's deadline, free period and fees counted as the bank counts them (decision 0017).

- ``set_policy`` checks the policy against the local minimum of free hours (a setting: Xiamen
  asks for 18), records and audits it, and sends ``storage.policy`` to every bank of the site;
  ``push_to_new_bank`` sends it to a bank added later.
- ``parcel_storage`` gives, for a parcel in a locker, its deadline and free period in the
  site's local time and the fee it owes: from the deposit time and the policy its bank said it
  keeps the parcel under (``parcel.deposited``), and the outages its bank reported
  (``storage.outage``), through the same functions the bank uses (``locker_contract.storage``).
- ``fee_rule`` says a policy in the recipient's language; the notifier and the recipient's page
  show it.
- ``on_refused``: a parcel its bank returned at its deadline (``parcel.refused`` with
  ``EXPIRY_REASON``) gets its recipient an ``expired`` message (``notices.record_expiry``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.core.db import transaction
from cloud.models import Bank, Compartment, InboundEvent, Parcel, ParcelEvent, Role, Site
from cloud.services import notices
from cloud.services.auth import Principal, audit
from cloud.services.commands import enqueue_command
from cloud.services.errors import Invalid, NotFound
from cloud.services.named import named_parcel
from cloud.storage.tables import SiteStoragePolicy
from locker_contract import storage as rules
from locker_contract.commands import StoragePolicyPush
from locker_contract.events import Envelope, ParcelDeposited, ParcelRefused, StorageOutageChanged
from locker_contract.storage import EXPIRY_REASON, PolicyRefused, StoragePolicy

DEFAULT = StoragePolicy()  # a bank's own default: three days, free ([policy] storage_days)
POLICY_TTL_S = 30 * 24 * 3600.0  # a bank offline for weeks still gets its site's policy
DEPOSITED, OUTAGE = "parcel.deposited", "storage.outage"
_FIELDS = tuple(StoragePolicy.model_fields)


# --- the policy of a site --------------------------------------------------------------------


def _site(s: Session, who: Principal, site_id: str) -> Site:
    """The site, if ``who`` may see it: an admin any, an operator its own, a manager its own."""
    site = s.get(Site, site_id)
    visible = site is not None and (
        who.role is Role.ADMIN
        or (who.role is Role.OPERATOR and site.operator_id == who.operator_id)
        or (who.role is Role.MANAGER and who.site_id == site_id)
    )
    if site is None or not visible:
        raise NotFound("no such site")
    return site


def _policy(row: SiteStoragePolicy) -> StoragePolicy:
    return StoragePolicy.model_validate(row.model_dump(include=set(_FIELDS)))


def site_policy(s: Session, site_id: str) -> StoragePolicy | None:
    row = s.get(SiteStoragePolicy, site_id)
    return _policy(row) if row is not None else None


def set_policy(
    engine: Engine,
    who: Principal,
    site_id: str,
    policy: StoragePolicy,
    *,
    minimum_hours: float,
    now: datetime,
) -> StoragePolicy:
    """Set the site's policy, audited, and send it to each of its banks; refused below the
    local minimum of free hours."""
    who.require(Role.ADMIN, Role.OPERATOR)
    try:
        rules.check_local_minimum(policy, minimum_hours)
    except PolicyRefused as exc:
        raise Invalid(str(exc), minimum_free_hours=minimum_hours) from None
    with transaction(engine) as s:
        _site(s, who, site_id)
        row = s.get(SiteStoragePolicy, site_id) or SiteStoragePolicy(
            site_id=site_id, **policy.model_dump()
        )
        row.sqlmodel_update(policy.model_dump() | {"updated_at": now})
        s.add(row)
        audit(s, who, "set_storage_policy", site_id, **policy.model_dump())
        push = StoragePolicyPush(policy=policy)
        for bank in s.exec(select(Bank).where(Bank.site_id == site_id).order_by(col(Bank.id))):
            enqueue_command(s, bank.id, push, who=who, ttl_s=POLICY_TTL_S, now=now)
        return policy


def get_policy(engine: Engine, who: Principal, site_id: str) -> StoragePolicy | None:
    who.require(Role.ADMIN, Role.OPERATOR, Role.MANAGER)
    with transaction(engine) as s:
        _site(s, who, site_id)
        return site_policy(s, site_id)


def push_to_new_bank(s: Session, bank: Bank, who: Principal | None = None) -> None:
    """A bank added to a site with a policy gets it, in the caller's transaction."""
    policy = site_policy(s, bank.site_id)
    if policy is not None:
        enqueue_command(s, bank.id, StoragePolicyPush(policy=policy), who=who, ttl_s=POLICY_TTL_S)


# --- a parcel's storage, counted as its bank counts it ---------------------------------------


@dataclass(frozen=True)
class ParcelStorage:
    """A parcel's terms: times in its site's zone; ``owed_minor`` at the moment asked."""

    policy: StoragePolicy
    deposited_at: datetime
    free_until: datetime
    deadline: datetime
    owed_minor: int
    zone: ZoneInfo

    @property
    def free_hours(self) -> float:
        return self.policy.free_hours

    def fee_rule(self, language: str) -> str:
        return fee_rule(self.policy, language)


def _deposit_event(s: Session, parcel: Parcel) -> dict[str, object] | None:
    query = (
        select(InboundEvent)
        .where(
            InboundEvent.bank_id == parcel.bank_id,
            InboundEvent.type == DEPOSITED,
            col(InboundEvent.body)["waybill"].as_string() == parcel.waybill,
            col(InboundEvent.body)["carrier"].as_string() == parcel.carrier_id,
        )
        .order_by(col(InboundEvent.seq).desc())
    )
    found = s.exec(query).first()
    return found.body if found is not None else None


def _in_locker_since(s: Session, parcel: Parcel) -> datetime | None:
    """When the cloud learnt the parcel was deposited: for a bank that does not say when."""
    query = select(ParcelEvent).where(
        ParcelEvent.parcel_id == parcel.id, ParcelEvent.status == "in_locker"
    )
    found = s.exec(query.order_by(col(ParcelEvent.at).desc())).first()
    return _utc(found.at) if found is not None else None


def _utc(at: datetime) -> datetime:
    """A stored time read back (SQLite keeps no zone) as the UTC it was written in."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def bank_outages(s: Session, bank_id: str, label: str) -> list[rules.Outage]:
    """The outages ``bank_id`` reported that stop the clock of a parcel in ``label``: the
    last word on each (its end, once it ended)."""
    query = select(InboundEvent).where(InboundEvent.bank_id == bank_id, InboundEvent.type == OUTAGE)
    latest: dict[str, StorageOutageChanged] = {}
    for row in s.exec(query.order_by(col(InboundEvent.seq))):
        try:
            event = StorageOutageChanged.model_validate(row.body)
        except ValidationError:
            continue  # set aside by ingest; it counts for nothing here
        if event.compartment in (None, label):
            latest[str(event.outage_id)] = event
    return [rules.Outage(o.started_at, o.ended_at) for o in latest.values()]


def parcel_storage(
    s: Session, parcel: Parcel, now: datetime, extra_hours: float = 0.0
) -> ParcelStorage | None:
    """The parcel's terms as its bank counts them (``extra_hours``: an extension its
    recipient was granted); None for a parcel not deposited."""
    body = _deposit_event(s, parcel)
    deposited = body.get("deposited_at") if body is not None else None
    since = datetime.fromisoformat(str(deposited)) if deposited else _in_locker_since(s, parcel)
    if since is None:
        return None
    bank = s.get_one(Bank, parcel.bank_id)
    said = body.get("storage") if body is not None else None
    policy = StoragePolicy.model_validate(said) if said else site_policy(s, bank.site_id)
    policy = policy or DEFAULT
    if extra_hours > 0:
        policy = policy.model_copy(update={"keep_hours": policy.keep_hours + extra_hours})
    compartment = s.get(Compartment, parcel.compartment_id) if parcel.compartment_id else None
    outages = bank_outages(s, parcel.bank_id, compartment.label if compartment else "")
    zone = ZoneInfo(s.get_one(Site, bank.site_id).timezone)
    return ParcelStorage(
        policy=policy,
        deposited_at=since.astimezone(zone),
        free_until=rules.free_until(since, policy, outages, now).astimezone(zone),
        deadline=rules.deadline(since, policy, outages, now).astimezone(zone),
        owed_minor=rules.fee_owed(since, policy, outages, now),
        zone=zone,
    )


# --- the rule in words -----------------------------------------------------------------------


def _hours(hours: float) -> str:
    return f"{hours:g}"


def fee_rule(policy: StoragePolicy, language: str) -> str:
    """The free period, the fee and the deadline in a sentence (Chinese unless ``en``)."""
    free, keep = _hours(policy.free_hours), _hours(policy.keep_hours)
    fee = rules.money(policy.fee_minor, policy.currency)
    cap = rules.money(policy.cap_minor, policy.currency)
    period = _hours(policy.period_hours)
    if language == "en":
        if not policy.charges:
            return f"Free for {keep} h; then it goes back to the carrier."
        return (
            f"Free for {free} h; then {fee} per started {period} h, at most {cap}; "
            f"after {keep} h it goes back to the carrier."
        )
    if not policy.charges:
        return f"免费保管{keep}小时，逾期退回快递公司。"
    return (
        f"免费保管{free}小时；超时每{period}小时收费{fee}（不足{period}小时按{period}小时计），"
        f"最高{cap}；{keep}小时后退回快递公司。"
    )


# --- expiry ----------------------------------------------------------------------------------


def on_refused(s: Session, row: InboundEvent, event: ParcelRefused, now: datetime) -> None:
    """A parcel its bank returned at its deadline: its recipient is told (the notifier's
    ``expired`` message, sent out of quiet hours). A refusal by the recipient tells nobody."""
    if event.reason != EXPIRY_REASON:
        return
    parcel = named_parcel(s, row.bank_id, event.parcel_id, event.waybill)
    body = _deposit_event(s, parcel) if parcel is not None else None
    if body is None:
        return  # deposited before the cloud knew it: nobody to tell
    deposit = ParcelDeposited.model_validate(body | {"sealed_code": None})
    envelope = Envelope(
        event_id=uuid.UUID(row.event_id), bank_id=row.bank_id, seq=row.seq, time=now, event=event
    )
    notices.record_expiry(s, envelope, deposit)
