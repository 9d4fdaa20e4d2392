"""Storage fees paid at pickup, through a payment provider (decision 0017).

``PaymentProvider`` is the seam: one ``charge`` per parcel's fee, answered with a ``Receipt``.
``DevelopmentProvider`` approves every charge (its references start ``dev-``, so that nobody
takes them for money). ``pay`` never raises: a provider that is down, slow or failing, or
that declines, comes back as a receipt that is not approved, and the fee is recorded as owed;
the parcel is released all the same (a parcel is never held hostage by an outage).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

PAYMENT_TIMEOUT_S = 10.0  # a recipient stands at the kiosk: past this, the fee is owed


class PaymentUnavailable(Exception):
    """The provider cannot take a payment now (down, unreachable, refusing service)."""


@dataclass(frozen=True)
class Charge:
    """One parcel's storage fee; ``reference`` (the parcel's id) names it to the provider, so
    that a repeat of the same charge can be recognised."""

    reference: str
    amount_minor: int
    currency: str
    description: str


@dataclass(frozen=True)
class Receipt:
    approved: bool
    reference: str = ""  # the provider's, for a payment taken
    detail: str = ""


class PaymentProvider(Protocol):
    async def charge(self, charge: Charge) -> Receipt:
        """Take ``charge``: an approved receipt, one declined, or ``PaymentUnavailable``."""
        ...


class DevelopmentProvider:
    """Approves every charge, at once, and takes no money."""

    async def charge(self, charge: Charge) -> Receipt:
        return Receipt(approved=True, reference=f"dev-{uuid.uuid4().hex[:16]}")


async def pay(
    provider: PaymentProvider, charge: Charge, timeout_s: float = PAYMENT_TIMEOUT_S
) -> Receipt:
    """``charge`` through ``provider``; whatever goes wrong is a receipt not approved."""
    try:
        async with asyncio.timeout(timeout_s):
            receipt = await provider.charge(charge)
    except TimeoutError:
        receipt = Receipt(approved=False, detail=f"no answer within {timeout_s:g} s")
    except (PaymentUnavailable, OSError) as exc:
        receipt = Receipt(approved=False, detail=f"provider unavailable: {type(exc).__name__}")
    except Exception as exc:  # a provider's bug holds no parcel either
        log.exception("payment provider failed")
        receipt = Receipt(approved=False, detail=f"provider failed: {type(exc).__name__}")
    if not receipt.approved:
        log.warning("storage fee of parcel %s recorded as owed: %s", charge.reference, receipt)
    return receipt
