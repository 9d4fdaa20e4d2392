"""Setting up the fleet: operators, sites, banks, compartments, carriers, policies, keys.

Admins do anything; an operator only within its own operator's sites and banks.
"""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from cloud.core.db import transaction
from cloud.lifecycles import SHARE
from cloud.models import (
    Bank,
    BankCursor,
    Carrier,
    Compartment,
    CompartmentCreate,
    Operator,
    Role,
    ShareState,
    SharingPolicy,
    Site,
)
from cloud.recipients import consent
from cloud.services import storage_policy
from cloud.services.auth import Minted, Principal, Scope, audit, mint
from cloud.services.commands import enqueue_command
from cloud.services.errors import Conflict, Invalid, NotFound
from locker_contract import commands as contract


def create_operator(
    engine: Engine, who: Principal, secret_key: str, name: str
) -> tuple[Operator, Minted]:
    """A new operator and its first operator key (shown once)."""
    who.require(Role.ADMIN)
    with transaction(engine) as s:
        operator = Operator(name=name)
        s.add(operator)
        s.flush()
        key = mint(s, secret_key, Role.OPERATOR, name, Scope(operator_id=operator.id))
        audit(s, who, "create_operator", operator.id, name=name, key=key.id)
    return operator, key


def _operator_of(who: Principal, operator_id: str | None) -> str:
    who.require(Role.ADMIN, Role.OPERATOR)
    if who.role is Role.OPERATOR:
        return str(who.operator_id)
    if operator_id is None:
        raise Invalid("an admin must say which operator")
    return operator_id


def create_site(
    engine: Engine,
    who: Principal,
    *,
    name: str,
    lat: float,
    lon: float,
    address: str = "",
    operator_id: str | None = None,
    timezone: str = "UTC",
) -> Site:
    owner = _operator_of(who, operator_id)
    with transaction(engine) as s:
        if s.get(Operator, owner) is None:
            raise NotFound("no such operator")
        site = Site(
            operator_id=owner, name=name, lat=lat, lon=lon, address=address, timezone=timezone
        )
        s.add(site)
        s.flush()
        audit(s, who, "create_site", site.id, name=name)
        return site


def _own_site(s: Session, who: Principal, site_id: str) -> Site:
    site = s.get(Site, site_id)
    if site is None or (who.role is Role.OPERATOR and site.operator_id != who.operator_id):
        raise NotFound("no such site")
    return site


def create_bank(
    engine: Engine,
    who: Principal,
    *,
    bank_id: str,
    site_id: str,
    name: str,
    compartments: list[CompartmentCreate],
) -> Bank:
    who.require(Role.ADMIN, Role.OPERATOR)
    twice = sorted(
        {c.label for c in compartments if sum(o.label == c.label for o in compartments) > 1}
    )
    if twice:
        raise Invalid(f"compartments listed more than once: {', '.join(twice)}")
    with transaction(engine) as s:
        _own_site(s, who, site_id)
        if s.get(Bank, bank_id) is not None:
            raise Conflict(f"bank {bank_id} exists")
        bank = Bank(id=bank_id, site_id=site_id, name=name)
        s.add(bank)
        s.add(BankCursor(bank_id=bank_id))  # ingest locks it; never created concurrently
        for spec in compartments:
            s.add(
                Compartment(
                    bank_id=bank_id,
                    label=spec.label,
                    size=spec.size,
                    size_rank=spec.size.rank,
                    low=spec.low,
                    temperature_class=str(spec.temperature_class),  # issue 17
                    zone=spec.zone,
                )
            )
        audit(s, who, "create_bank", bank_id, compartments=len(compartments))
        storage_policy.push_to_new_bank(s, bank, who)  # the site's storage policy, if it has one
        consent.push_to_new_bank(s, bank_id)  # recipients' refusals of lockers (decision 0018)
        return bank


def own_bank(s: Session, who: Principal, bank_id: str) -> Bank:
    bank = s.get(Bank, bank_id)
    if bank is None:
        raise NotFound("no such bank")
    if who.role is Role.OPERATOR:
        _own_site(s, who, bank.site_id)
    elif who.role is Role.MANAGER and bank.site_id != who.site_id:
        raise NotFound("no such bank")
    return bank


def create_carrier(
    engine: Engine, who: Principal, secret_key: str, carrier_id: str, name: str
) -> Minted:
    """A carrier and its API key (shown once)."""
    who.require(Role.ADMIN)
    with transaction(engine) as s:
        if s.get(Carrier, carrier_id) is not None:
            raise Conflict(f"carrier {carrier_id} exists")
        s.add(Carrier(id=carrier_id, name=name))
        s.flush()
        key = mint(s, secret_key, Role.CARRIER, name, Scope(carrier_id=carrier_id))
        audit(s, who, "create_carrier", carrier_id, key=key.id)
    return key


def set_policy(
    engine: Engine, who: Principal, bank_id: str, carrier_id: str, *, guaranteed: int, ceiling: int
) -> SharingPolicy:
    who.require(Role.ADMIN, Role.OPERATOR)
    if not 0 <= guaranteed <= ceiling:
        raise Invalid("need 0 <= guaranteed <= ceiling")
    with transaction(engine) as s:
        own_bank(s, who, bank_id)
        if s.get(Carrier, carrier_id) is None:
            raise NotFound("no such carrier")
        others = s.exec(
            select(func.coalesce(func.sum(SharingPolicy.guaranteed), 0)).where(
                SharingPolicy.bank_id == bank_id, SharingPolicy.carrier_id != carrier_id
            )
        ).one()
        total = s.exec(
            select(func.count()).select_from(Compartment).where(Compartment.bank_id == bank_id)
        ).one()
        if guaranteed + others > total:
            raise Conflict("the guarantees at this bank would exceed its compartments")
        policy = s.get(SharingPolicy, (bank_id, carrier_id)) or SharingPolicy(
            bank_id=bank_id, carrier_id=carrier_id, guaranteed=guaranteed, ceiling=ceiling
        )
        policy.guaranteed, policy.ceiling = guaranteed, ceiling
        if policy.state != ShareState.ACCEPTED:  # a new offer, or one made again
            policy.state = SHARE.step(policy.state, ShareState.OFFERED)
        s.add(policy)
        audit(
            s,
            who,
            "set_policy",
            f"{bank_id}/{carrier_id}",
            guaranteed=guaranteed,
            ceiling=ceiling,
            state=policy.state,
        )
        if policy.state == ShareState.ACCEPTED:  # else nothing reaches the bank (0010)
            share = contract.PolicyPush(
                carrier_id=carrier_id, guaranteed=guaranteed, ceiling=ceiling
            )
            enqueue_command(s, bank_id, share, who=who)
        return policy


def create_manager_key(
    engine: Engine, who: Principal, secret_key: str, site_id: str, label: str
) -> Minted:
    """A property manager's key, scoped to one site."""
    who.require(Role.ADMIN, Role.OPERATOR)
    with transaction(engine) as s:
        _own_site(s, who, site_id)
        key = mint(s, secret_key, Role.MANAGER, label, Scope(site_id=site_id))
        audit(s, who, "create_manager_key", site_id, label=label, key=key.id)
    return key
