"""What a property manager sees: the health of the banks at its own site."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import col, select

from cloud.core.db import transaction
from cloud.models import Alarm, Bank, BankHealthPublic, Compartment, Role, Site
from cloud.services.auth import Principal
from cloud.services.errors import NotFound


def site_health(
    engine: Engine, who: Principal, site_id: str
) -> tuple[Site, list[BankHealthPublic]]:
    who.require(Role.MANAGER, Role.OPERATOR, Role.ADMIN)
    with transaction(engine) as s:
        site = s.get(Site, site_id)
        visible = site is not None and (
            who.role is Role.ADMIN
            or (who.role is Role.MANAGER and who.site_id == site_id)
            or (who.role is Role.OPERATOR and site.operator_id == who.operator_id)
        )
        if site is None or not visible:
            raise NotFound("no such site")
        health = []
        for bank in s.exec(select(Bank).where(Bank.site_id == site_id).order_by(col(Bank.id))):
            of_bank = select(Compartment).where(Compartment.bank_id == bank.id)
            count = select(func.count()).select_from(Compartment)
            compartments = s.exec(count.where(Compartment.bank_id == bank.id)).one()
            idle = of_bank.where(col(Compartment.in_service).is_(False))
            alarms = s.exec(
                select(Alarm).where(Alarm.bank_id == bank.id, col(Alarm.cleared_at).is_(None))
            )
            health.append(
                BankHealthPublic(
                    bank_id=bank.id,
                    name=bank.name,
                    online=bank.online,
                    last_heartbeat_at=bank.last_heartbeat_at,
                    clock_skew_s=bank.clock_skew_s,
                    compartments=compartments,
                    out_of_service=sorted(c.label for c in s.exec(idle)),
                    open_alarms=[f"{a.kind} {a.compartment}".strip() for a in alarms],
                )
            )
        return site, health
