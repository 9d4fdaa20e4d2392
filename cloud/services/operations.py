"""Operating a bank from afar: every action here becomes a command to the bank, audited with
who asked and why, and answered by the bank on ``cmd/ack`` (see ``commands``).

Admins and the bank's operator may act; a property manager may open a door at its own site (a
resident's parcel stuck behind a jammed door) and see the commands, but not change the bank.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sqlalchemy import Engine
from sqlmodel import col, select

from cloud.core.db import transaction
from cloud.models import Command, CommandAck, Compartment, Role
from cloud.services.auth import Principal
from cloud.services.commands import DEFAULT_TTL_S, enqueue_command
from cloud.services.errors import NotFound
from cloud.services.fleet import own_bank
from locker_contract import commands as contract

REMOTE_OPEN_TTL_S = 300.0  # a door opened from afar is wanted now, not when the bank returns


def _command(
    engine: Engine,
    who: Principal,
    bank_id: str,
    command: Callable[[], contract.Command],
    *,
    label: str | None = None,
    ttl_s: float = DEFAULT_TTL_S,
) -> Command:
    """Enqueue what ``command`` builds, once the bank (and the door ``label``, if one) is known
    to exist for the caller: an unknown door is 404 whatever its name looks like."""
    with transaction(engine) as s:
        own_bank(s, who, bank_id)
        if label is not None:
            query = select(Compartment).where(
                Compartment.bank_id == bank_id, Compartment.label == label
            )
            if s.exec(query).first() is None:
                raise NotFound(f"no compartment {label} at {bank_id}")
        return enqueue_command(s, bank_id, command(), who=who, ttl_s=ttl_s)


def remote_open(engine: Engine, who: Principal, bank_id: str, label: str, reason: str) -> Command:
    who.require(Role.ADMIN, Role.OPERATOR, Role.MANAGER)
    asked_by = f"{who.role}:{who.key_id}"
    command = partial(contract.RemoteOpen, compartment=label, reason=reason, requested_by=asked_by)
    return _command(engine, who, bank_id, command, label=label, ttl_s=REMOTE_OPEN_TTL_S)


def set_maintenance(engine: Engine, who: Principal, bank_id: str, *, on: bool) -> Command:
    who.require(Role.ADMIN, Role.OPERATOR)
    return _command(engine, who, bank_id, partial(contract.MaintenanceSet, on=on))


def set_service(
    engine: Engine, who: Principal, bank_id: str, label: str, *, in_service: bool, reason: str
) -> Command:
    who.require(Role.ADMIN, Role.OPERATOR)
    command = partial(
        contract.CompartmentServiceSet, compartment=label, in_service=in_service, reason=reason
    )
    return _command(engine, who, bank_id, command, label=label)


def reenable_keypad(engine: Engine, who: Principal, bank_id: str) -> Command:
    who.require(Role.ADMIN, Role.OPERATOR)
    return _command(engine, who, bank_id, contract.KeypadReenable)


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
