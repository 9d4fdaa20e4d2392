"""Couriers' per-bank, per-day kiosk codes (decision 0010): derived, never stored.

A code is ``day_code(key, courier, bank, day)`` under a key derived from the cloud's secret key
(the environment's, never the database's). What the cloud stores is an order to send a courier's
days to a bank (``CourierPushOrder``, no code and no verifier in it); ``render`` turns it into the
contract's ``courier.push``, with each day's verifier, only as the command leaves for the bank.
So the cloud's database holds nothing a guess can be tested against; a bank holds verifiers for a
few days, of codes that open nothing but itself on those days.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from locker_contract.credentials import code_day, day_bounds, day_code, day_salt, pin_verifier

DAYS_AHEAD = 3  # today and the next two: a bank offline for two days still takes its couriers
RENDERED_TYPE = "courier.push"


class CourierPushOrder(BaseModel):
    """What the ``command`` table keeps of a ``courier.push``: whose days, not their codes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["courier.push"] = "courier.push"  # the command it becomes
    courier_id: Annotated[str, Field(min_length=1, max_length=64)]
    carrier_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(max_length=120)] = ""
    days: Annotated[list[date], Field(min_length=1, max_length=14)]
    timezone: Annotated[str, Field(max_length=64)] = "UTC"  # the bank's site's


def code_key(secret_key: str) -> bytes:
    """The derivation key: the secret key's, for this one purpose."""
    return hmac.new(secret_key.encode(), b"locker courier codes v1", hashlib.sha256).digest()


def window(now: datetime, timezone: str = "UTC") -> list[date]:
    """The days a bank in ``timezone`` is sent codes for at ``now``: its local today on."""
    today = code_day(now, timezone)
    return [today + timedelta(days=n) for n in range(DAYS_AHEAD)]


def code(secret_key: str, courier_id: str, bank_id: str, day: date) -> str:
    return day_code(code_key(secret_key), courier_id, bank_id, day)


def render(secret_key: str, bank_id: str, payload: dict[str, object]) -> dict[str, object]:
    """The contract's ``courier.push`` for a stored order: one scrypt per day."""
    order = CourierPushOrder.model_validate(payload)
    key = code_key(secret_key)
    codes = []
    for day in order.days:
        salt = day_salt(key, order.courier_id, bank_id, day)
        verifier = pin_verifier(day_code(key, order.courier_id, bank_id, day), salt)
        starts_at, ends_at = day_bounds(day, order.timezone)
        bounds = {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()}
        codes.append({"day": day.isoformat(), **bounds, "salt": salt, "verifier": verifier})
    body = order.model_dump(mode="json", exclude={"type", "days", "timezone"})
    return body | {"codes": codes}
