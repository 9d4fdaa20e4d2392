"""Who is calling: API keys resolved to a ``Principal``, and role checks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, select

from cloud.core.db import transaction
from cloud.core.security import key_hash, new_api_key
from cloud.models import ApiKey, AuditEntry, Role
from cloud.services.errors import Forbidden, Unauthorized


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
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this needs one of: {allowed}; your key is {self.role.value}")

    @property
    def carrier(self) -> str:
        self.require(Role.CARRIER)
        assert self.carrier_id is not None
        return self.carrier_id


def authenticate(engine: Engine, secret_key: str, api_key: str) -> Principal:
    with transaction(engine) as s:
        row = s.exec(select(ApiKey).where(ApiKey.key_hash == key_hash(secret_key, api_key))).first()
    if row is None or row.revoked:
        raise Unauthorized("unknown or revoked API key")
    return Principal(
        key_id=row.id,
        role=Role(row.role),
        carrier_id=row.carrier_id,
        operator_id=row.operator_id,
        site_id=row.site_id,
        courier_id=row.courier_id,
    )


def mint_key(
    s: Session, secret_key: str, role: Role, label: str = "", scope: Scope | None = None
) -> str:
    """Create an API key in the caller's transaction; return it (shown once, stored hashed)."""
    key = new_api_key()
    scope = scope or Scope()
    s.add(
        ApiKey(
            key_hash=key_hash(secret_key, key),
            role=role.value,
            label=label,
            carrier_id=scope.carrier_id,
            operator_id=scope.operator_id,
            site_id=scope.site_id,
            courier_id=scope.courier_id,
        )
    )
    return key


def audit(s: Session, who: Principal | None, action: str, target: str, **detail: object) -> None:
    """Append to the audit log, in the caller's transaction."""
    actor = who.key_id if who else "system"
    role = who.role.value if who else "system"
    s.add(AuditEntry(actor=actor, role=role, action=action, target=target, detail=detail))


def create_admin(engine: Engine, secret_key: str, label: str) -> str:
    """Bootstrap: the first admin key. There is no default password anywhere."""
    with transaction(engine) as s:
        key = mint_key(s, secret_key, Role.ADMIN, label)
        audit(s, None, "create_admin", label)
    return key
