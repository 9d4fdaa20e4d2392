"""Words both sides must agree on, defined once: the cloud's API, the contract's commands, the
kiosk and ``locker edge expect`` all take their choices from here.

``Size`` is a compartment's size class, smallest first: a parcel fits any compartment of its
rank or above (the edge's config and walk-up deposits, the cloud's allocation).

``Consent`` is how the recipient agreed to delivery into a locker. China's 2019 measures for
smart parcel lockers (智能快件箱寄递服务管理办法, Art. 22) ask for the *recipient's* consent;
a term in the sender's contract with the carrier is not the recipient's word, so ``contract``
is not a consent here (the cloud once accepted it and the kiosk refused it).
"""

from __future__ import annotations

from enum import StrEnum


class Size(StrEnum):
    """A compartment's size class, smallest first."""

    S = "S"
    M = "M"
    L = "L"
    XL = "XL"

    @property
    def rank(self) -> int:
        """Its place, smallest first: a parcel fits compartments of its rank or above."""
        return list(Size).index(self)


class Consent(StrEnum):
    """How the recipient agreed to locker delivery, as recorded with the parcel."""

    RECIPIENT_APP = "recipient_app"  # in the carrier's or the platform's app
    PHONE_CALL = "phone_call"
    SMS_REPLY = "sms_reply"
    WRITTEN_NOTE = "written_note"


CONSENTS: tuple[str, ...] = tuple(c.value for c in Consent)
