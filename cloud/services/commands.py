"""Commands to banks: recorded here; the link (MQTT) delivers them and brings the acks back.

``enqueue_command`` is the one way a command leaves the cloud. Each carries an id and a time to
live counted by the edge from receipt; the edge applies each at most once.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from cloud.models import Command, CommandAck, utcnow
from cloud.services.auth import Principal, audit
from cloud.services.errors import NotFound

DEFAULT_TTL_S = 24 * 3600.0


def enqueue_command(
    s: Session,
    bank_id: str,
    type_: str,
    payload: dict[str, object],
    *,
    who: Principal | None = None,
    ttl_s: float = DEFAULT_TTL_S,
) -> Command:
    """Record a command for ``bank_id`` in the caller's transaction (with what caused it)."""
    command = Command(bank_id=bank_id, type=type_, payload=payload, ttl_s=ttl_s)
    s.add(command)
    s.flush()
    audit(s, who, f"command:{type_}", bank_id, command_id=command.id, **payload)
    return command


def pending(s: Session, bank_id: str) -> list[Command]:
    query = select(Command).where(Command.bank_id == bank_id, Command.state == "pending")
    return list(s.exec(query.order_by(col(Command.created_at))))


def acknowledge(s: Session, command_id: str, outcome: str, detail: str = "") -> Command:
    """The edge's answer; a repeated ack changes nothing."""
    command = s.get(Command, command_id)
    if command is None:
        raise NotFound("no such command")
    if s.get(CommandAck, command_id) is None:
        s.add(CommandAck(command_id=command_id, outcome=outcome, detail=detail, at=utcnow()))
        command.state = "acknowledged"
        s.add(command)
    return command
