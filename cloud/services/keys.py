"""API keys' lifecycle: list, revoke, rotate, for every role; every change audited.

Who manages which keys (one rule, ``_visible``, used by every query here):

- an admin: every key;
- an operator: its operator's keys and the manager keys of its sites;
- a carrier: its own keys and its couriers';
- any key: itself (a manager or a courier lists and rotates its own key).

A key nobody may manage answers 404, as if absent. A revoked key answers 401 at once: the API
reads the key's row on every request. A rotation mints a key for the same role and scope and
revokes the old one, at once by default or after an overlap of at most ``MAX_OVERLAP_S`` while
the caller's systems switch over (decision 0012).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, or_, true
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.core.db import transaction
from cloud.models import ApiKey, KeyPublic, KeyState, Role, Site
from cloud.services.auth import Principal, Scope, audit, is_live, mint
from cloud.services.errors import Conflict, Invalid, NotFound

MAX_OVERLAP_S = 3600.0  # a rotation's old key lives at most this long beside the new one

# the principal the ``locker cloud keys`` command acts as: whoever runs it holds the database
CONSOLE = Principal(key_id="locker-cli", role=Role.ADMIN)


def view(row: ApiKey, now: datetime) -> KeyPublic:
    return KeyPublic(
        id=row.id,
        role=Role(row.role),
        label=row.label,
        state=_state(row, now),
        carrier_id=row.carrier_id,
        operator_id=row.operator_id,
        site_id=row.site_id,
        courier_id=row.courier_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        replaces=row.replaces,
    )


def _state(row: ApiKey, now: datetime) -> KeyState:
    if not is_live(row, now):
        return KeyState.REVOKED
    return KeyState.EXPIRING if row.expires_at is not None else KeyState.ACTIVE


def _visible(who: Principal) -> ColumnElement[bool]:
    """The keys ``who`` may list, revoke and rotate, as a WHERE clause."""
    mine = col(ApiKey.id) == who.key_id
    if who.role is Role.ADMIN:
        return true()
    if who.role is Role.OPERATOR:
        sites = select(Site.id).where(Site.operator_id == who.operator_id)
        managers = and_(col(ApiKey.role) == Role.MANAGER, col(ApiKey.site_id).in_(sites))
        return or_(mine, col(ApiKey.operator_id) == who.operator_id, managers)
    if who.role is Role.CARRIER:
        return or_(mine, col(ApiKey.carrier_id) == who.carrier_id)
    return mine


def list_keys(
    engine: Engine, who: Principal, role: Role | None = None, now: datetime | None = None
) -> list[KeyPublic]:
    """The keys ``who`` manages, oldest first; of one role when ``role`` is given."""
    query = select(ApiKey).where(_visible(who))
    if role is not None:
        query = query.where(ApiKey.role == role)
    with transaction(engine) as s:
        rows = s.exec(query.order_by(col(ApiKey.created_at), col(ApiKey.id)))
        return [view(row, now or utcnow()) for row in rows]


def _managed(s: Session, who: Principal, key_id: str) -> ApiKey:
    query = select(ApiKey).where(ApiKey.id == key_id, _visible(who)).with_for_update()
    row = s.exec(query).first()
    if row is None:
        raise NotFound("no such key")
    return row


def revoke(engine: Engine, who: Principal, key_id: str, now: datetime | None = None) -> KeyPublic:
    """Revoke a key at once; revoking a revoked key changes nothing."""
    now = now or utcnow()
    with transaction(engine) as s:
        row = _managed(s, who, key_id)
        if is_live(row, now):
            end_key(s, row, now)
            audit(s, who, "revoke_key", row.id, role=row.role, label=row.label)
        return view(row, now)


def end_key(s: Session, row: ApiKey, at: datetime) -> None:
    """Revoke ``row`` from ``at``, in the caller's transaction (every revocation goes here)."""
    row.revoked = True
    row.revoked_at = at
    s.add(row)


@dataclass(frozen=True)
class Rotated:
    old: KeyPublic
    new: KeyPublic
    key: str  # the new key itself, shown this once


def rotate(
    engine: Engine,
    who: Principal,
    secret_key: str,
    key_id: str,
    *,
    overlap_s: float = 0.0,
    now: datetime | None = None,
) -> Rotated:
    """A new key for the same role, label and scope; the old one revoked at once, or accepted
    ``overlap_s`` longer (at most ``MAX_OVERLAP_S``). A key rotates once: a revoked or already
    rotated key is refused."""
    if not 0 <= overlap_s <= MAX_OVERLAP_S:
        raise Invalid(f"overlap_s must be between 0 and {MAX_OVERLAP_S:.0f} seconds")
    now = now or utcnow()
    with transaction(engine) as s:
        row = _managed(s, who, key_id)
        if _state(row, now) is not KeyState.ACTIVE:
            raise Conflict(f"key {row.id} is {_state(row, now)}; rotate its successor")
        scope = Scope(row.carrier_id, row.operator_id, row.site_id, row.courier_id)
        minted = mint(s, secret_key, Role(row.role), row.label, scope, replaces=row.id)
        if overlap_s > 0:
            row.expires_at = now + timedelta(seconds=overlap_s)
            s.add(row)
        else:
            end_key(s, row, now)
        audit(s, who, "rotate_key", row.id, role=row.role, new_key=minted.id, overlap_s=overlap_s)
        return Rotated(view(row, now), view(s.get_one(ApiKey, minted.id), now), minted.key)
