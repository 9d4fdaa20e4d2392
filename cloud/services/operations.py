"""Operating a bank from afar: every action here becomes a command to the bank, audited with
who asked and why, and answered by the bank on ``cmd/ack`` (see ``commands``).

Admins and the bank's operator may act; a property manager may open a door at its own site (a
resident's parcel stuck behind a jammed door) and see the commands, but not change the bank.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import col, select

from cloud.core.db import transaction
from cloud.models import Command, CommandAck, Compartment, Role
from cloud.services.auth import Principal
from cloud.services.commands import DEFAULT_TTL_S, enqueue_command
from cloud.services.errors import NotFound
from cloud.services.fleet import own_bank

REMOTE_OPEN_TTL_S = 300.0  # a door opened from afar is wanted now, not when the bank returns


def _command(
    engine: Engine, who: Principal, bank_id: str, type_: str, payload: dict[str, object],
    *, ttl_s: float = DEFAULT_TTL_S,
) -> Command:  # fmt: skip
    with transaction(engine) as s:
        own_bank(s, who, bank_id)
        label = payload.get("compartment")
        if label is not None:
            query = select(Compartment).where(
                Compartment.bank_id == bank_id, Compartment.label == str(label)
            )
            if s.exec(query).first() is None:
                raise NotFound(f"no compartment {label} at {bank_id}")
        return enqueue_command(s, bank_id, type_, payload, who=who, ttl_s=ttl_s)


def remote_open(engine: Engine, who: Principal, bank_id: str, label: str, reason: str) -> Command:
    who.require(Role.ADMIN, Role.OPERATOR, Role.MANAGER)
    payload: dict[str, object] = {"compartment": label, "reason": reason}
    payload["requested_by"] = f"{who.role.value}:{who.key_id}"
    return _command(engine, who, bank_id, "door.open", payload, ttl_s=REMOTE_OPEN_TTL_S)


def set_maintenance(engine: Engine, who: Principal, bank_id: str, *, on: bool) -> Command:
    who.require(Role.ADMIN, Role.OPERATOR)
    return _command(engine, who, bank_id, "bank.maintenance", {"on": on})


def set_service(
    engine: Engine, who: Principal, bank_id: str, label: str, *, in_service: bool, reason: str
) -> Command:
    who.require(Role.ADMIN, Role.OPERATOR)
    payload: dict[str, object] = {"compartment": label, "in_service": in_service}
    return _command(engine, who, bank_id, "compartment.service", payload | {"reason": reason})


def reenable_keypad(engine: Engine, who: Principal, bank_id: str) -> Command:
    who.require(Role.ADMIN, Role.OPERATOR)
    return _command(engine, who, bank_id, "keypad.reenable", {})


def commands(
    engine: Engine, who: Principal, bank_id: str
) -> list[tuple[Command, CommandAck | None]]:
    """The bank's commands, newest first, with the bank's answer where there is one."""
    who.require(Role.ADMIN, Role.OPERATOR, Role.MANAGER)
    with transaction(engine) as s:
        own_bank(s, who, bank_id)
        query = select(Command).where(Command.bank_id == bank_id)
        found = s.exec(query.order_by(col(Command.created_at).desc()).limit(200))
        return [(c, s.get(CommandAck, c.id)) for c in found]
