"""Who is calling: API keys resolved to a ``Principal``, and role checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypedDict

from sqlalchemy import Engine
from sqlalchemy import select as sql_select  # sqlmodel's types at most four columns
from sqlmodel import Session, col

from cloud.core.db import transaction
from cloud.core.security import key_hash, new_api_key
from cloud.models import ApiKey, AuditEntry, Role
from cloud.services.errors import Forbidden, Unauthorized
from cloud.services.personal_data import masked


@dataclass(frozen=True)
class Scope:
    """What a key is tied to: its carrier, operator, site or courier."""

    carrier_id: str | None = None
    operator_id: str | None = None
    site_id: str | None = None
    courier_id: str | None = None


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    carrier_id: str | None = None
    operator_id: str | None = None
    site_id: str | None = None
    courier_id: str | None = None

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(roles)
            raise Forbidden(f"this needs one of: {allowed}; your key is {self.role}")

    @property
    def carrier(self) -> str:
        self.require(Role.CARRIER)
        assert self.carrier_id is not None
        return self.carrier_id


# A key's row as a request needs it: columns, not an entity (every request reads it).
KEY = sql_select(
    *(
        col(column)
        for column in (
            ApiKey.id,
            ApiKey.role,
            ApiKey.carrier_id,
            ApiKey.operator_id,
            ApiKey.site_id,
            ApiKey.courier_id,
            ApiKey.revoked,
            ApiKey.expires_at,
        )
    )
)


def authenticate(engine: Engine, secret_key: str, api_key: str, now: datetime) -> Principal:
    """The principal of a live key; a revoked key, or one past its rotation's overlap, is
    refused at once (every request reads the key's row: nothing is cached)."""
    with transaction(engine) as s:
        return authenticate_in(s, secret_key, api_key, now)


def authenticate_in(s: Session, secret_key: str, api_key: str, now: datetime) -> Principal:
    """``authenticate`` in the caller's transaction (a route that does its work in one)."""
    query = KEY.where(col(ApiKey.key_hash) == key_hash(secret_key, api_key))
    row = s.execute(query).first()
    if row is None or not is_live(row, now):
        raise Unauthorized("unknown or revoked API key")
    return Principal(
        key_id=row.id,
        role=Role(row.role),
        carrier_id=row.carrier_id,
        operator_id=row.operator_id,
        site_id=row.site_id,
        courier_id=row.courier_id,
    )


class Lifetime(Protocol):
    """What ``is_live`` reads of a key: its row, or the columns a request selects."""

    revoked: bool
    expires_at: datetime | None


def is_live(row: Lifetime, now: datetime) -> bool:
    return not row.revoked and (row.expires_at is None or aware(row.expires_at) > now)


def aware(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; every one the cloud stores is UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Minted:
    """A new key: its id (what the API answers with) and the key itself, shown this once."""

    id: str
    key: str


def mint(
    s: Session,
    secret_key: str,
    role: Role,
    label: str = "",
    scope: Scope | None = None,
    *,
    replaces: str | None = None,
) -> Minted:
    """Create an API key in the caller's transaction (stored hashed)."""
    key = new_api_key()
    scope = scope or Scope()
    row = ApiKey(
        key_hash=key_hash(secret_key, key),
        role=role,
        label=label,
        carrier_id=scope.carrier_id,
        operator_id=scope.operator_id,
        site_id=scope.site_id,
        courier_id=scope.courier_id,
        replaces=replaces,
    )
    s.add(row)
    s.flush()
    return Minted(row.id, key)


def mint_key(
    s: Session, secret_key: str, role: Role, label: str = "", scope: Scope | None = None
) -> str:
    """Create an API key in the caller's transaction; return it (shown once, stored hashed)."""
    return mint(s, secret_key, role, label, scope).key


def audit(s: Session, who: Principal | None, action: str, target: str, **detail: object) -> None:
    """Append to the audit log, in the caller's transaction; phone numbers only masked."""
    s.add(AuditEntry(**audit_row(who, action, target, **detail)))


class AuditRow(TypedDict):
    actor: str
    role: str
    action: str
    target: str
    detail: dict[str, object]


def audit_row(who: Principal | None, action: str, target: str, **detail: object) -> AuditRow:
    """An audit entry's columns (``audit`` adds one; ``bulk.write`` writes several at once)."""
    actor = who.key_id if who else "system"
    role = str(who.role) if who else "system"
    detail = masked(detail)
    return {"actor": actor, "role": role, "action": action, "target": target, "detail": detail}


def create_admin(engine: Engine, secret_key: str, label: str) -> str:
    """Bootstrap: the first admin key. There is no default password anywhere."""
    with transaction(engine) as s:
        key = mint_key(s, secret_key, Role.ADMIN, label)
        audit(s, None, "create_admin", label)
    return key
