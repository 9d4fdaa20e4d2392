"""Commands to banks: recorded here; the link (MQTT) delivers them and brings the acks back.

``enqueue_command`` is the one way a command leaves the cloud: it takes the contract's typed
command models (checked by mypy where they are built; the type comes from the model). Each
carries an id and a time to live counted by the edge from receipt; the edge applies each at most
once. A courier's codes leave as a ``CourierPushOrder``, rendered into ``courier.push`` on the
way out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, or_
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.core.db import transaction
from cloud.lifecycles import COMMAND, CommandState
from cloud.models import AuditEntry, Bank, Command, CommandAck
from cloud.services import courier_codes
from cloud.services.auth import AuditRow, Principal, audit, audit_row
from cloud.services.errors import NotFound
from locker_contract import commands as contract
from locker_contract.commands import CommandEnvelope
from locker_contract.messages import CommandAck as CommandAckMessage

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 24 * 3600.0
SECRET_FIELDS = frozenset({"salt", "verifier"})  # a courier's PIN verifier stays out of the audit

# What may be enqueued: a contract command, or the order a courier.push is rendered from
Outgoing = contract.Command | courier_codes.CourierPushOrder


def enqueue_command(
    s: Session,
    bank_id: str,
    command: Outgoing,
    *,
    who: Principal | None = None,
    ttl_s: float = DEFAULT_TTL_S,
    now: datetime | None = None,
) -> Command:
    """Record ``command`` for ``bank_id`` in the caller's transaction (with what caused it),
    at ``now``: its time to live counts from then."""
    row = command_row(bank_id, command, ttl_s=ttl_s, now=now)
    s.add(row)
    s.flush()
    s.add(AuditEntry(**command_audit(who, row)))
    return row


def command_row(
    bank_id: str, command: Outgoing, *, ttl_s: float = DEFAULT_TTL_S, now: datetime | None = None
) -> Command:
    """``command`` for ``bank_id`` as its row, built, not added (``enqueue_command`` adds it;
    a reservation writes it with ``bulk.write``)."""
    now = now or utcnow()
    return Command(
        bank_id=bank_id,
        type=command.type,
        payload=command.model_dump(mode="json", exclude={"type"}),
        ttl_s=ttl_s,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )


def command_audit(who: Principal | None, row: Command) -> AuditRow:
    """The audit entry of an enqueued command: what it says, but a courier's PIN verifier."""
    public = {k: v for k, v in row.payload.items() if k not in SECRET_FIELDS}
    return audit_row(who, f"command:{row.type}", row.bank_id, command_id=row.id, **public)


def pending(s: Session, bank_id: str) -> list[Command]:
    query = select(Command).where(Command.bank_id == bank_id, Command.state == CommandState.PENDING)
    return list(s.exec(query.order_by(col(Command.created_at))))


def acknowledge(
    s: Session, command_id: str, outcome: str, detail: str = "", at: datetime | None = None
) -> Command:
    """The edge's answer; a repeated ack changes nothing. Every first answer is audited."""
    command = s.get(Command, command_id)
    if command is None:
        raise NotFound("no such command")
    if s.get(CommandAck, command_id) is None:
        s.add(CommandAck(command_id=command_id, outcome=outcome, detail=detail, at=at or utcnow()))
        command.state = COMMAND.step(command.state, CommandState.ACKNOWLEDGED)
        s.add(command)
        audit(
            s,
            None,
            f"ack:{command.type}",
            command.bank_id,
            command_id=command_id,
            outcome=outcome,
            detail=detail,
        )
    return command


def record_ack(engine: Engine, bank_id: str, ack: CommandAckMessage) -> None:
    """A ``cmd/ack`` from ``bank_id``; one naming another bank's command is ignored."""
    with transaction(engine) as s:
        command = s.get(Command, ack.command_id)
        if command is None or command.bank_id != bank_id:
            log.warning("bank %s acked unknown command %s", bank_id, ack.command_id)
            return
        acknowledge(s, ack.command_id, ack.outcome, ack.detail)


@dataclass(frozen=True)
class Delivery:
    bank_id: str
    envelope: CommandEnvelope
    remaining_s: float


def due(
    engine: Engine, retry_s: float, now: datetime | None = None, *, secret_key: str
) -> list[Delivery]:
    """Commands to publish now, marked sent: those never sent, and those an online bank has
    not answered for ``retry_s``. A bank offline gets no retries (each would wait at the broker
    as one more copy); its session holds the first. Commands past their time become expired.
    A courier's codes are derived here, after the transaction, from ``secret_key``."""
    now = now or utcnow()
    picked = _pick(engine, retry_s, now)
    return [_delivery(command, now, secret_key) for command in picked]


def _delivery(command: Command, now: datetime, secret_key: str) -> Delivery:
    assert command.expires_at is not None
    remaining = (_aware(command.expires_at) - now).total_seconds()
    body = command.payload
    if command.type == courier_codes.RENDERED_TYPE:
        body = courier_codes.render(secret_key, command.bank_id, body)
    envelope = CommandEnvelope.model_validate(
        {
            "command_id": command.id,
            "sent_at": now,
            "ttl_s": remaining,
            "command": {"type": command.type, **body},
        }
    )
    return Delivery(command.bank_id, envelope, remaining)


def _pick(engine: Engine, retry_s: float, now: datetime) -> list[Command]:
    with transaction(engine) as s:
        _expire(s, now)
        retry_before = now - timedelta(seconds=retry_s)
        query = (
            select(Command)
            .join(Bank, col(Bank.id) == col(Command.bank_id))
            .where(
                Command.state == CommandState.PENDING,
                col(Command.expires_at) > now,
                or_(
                    col(Command.last_sent_at).is_(None),
                    and_(col(Bank.online).is_(True), col(Command.last_sent_at) < retry_before),
                ),
            )
            .order_by(col(Command.created_at))
            .limit(500)
        )
        # several ingest processes: each command goes out from one (SQLite leaves FOR UPDATE out)
        query = query.with_for_update(of=Command, skip_locked=True)
        picked = list(s.exec(query))
        for command in picked:
            command.attempts += 1
            command.last_sent_at = now
            s.add(command)
        return picked


def _expire(s: Session, now: datetime) -> None:
    """Commands past their time become expired, each once: under its row lock, skipping rows
    another worker holds (it is expiring or sending them), so that no expiry is audited twice."""
    query = select(Command).where(
        Command.state == CommandState.PENDING, col(Command.expires_at) <= now
    )
    for command in s.exec(query.with_for_update(skip_locked=True)):
        command.state = COMMAND.step(command.state, CommandState.EXPIRED)
        s.add(command)
        audit(
            s,
            None,
            f"expired:{command.type}",
            command.bank_id,
            command_id=command.id,
            attempts=command.attempts,
        )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
