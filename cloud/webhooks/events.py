"""The events a carrier can subscribe to, each with our parcel status and the national codes
(docs/carriers.md cites the sources): one table, read by the outbox, the tracking history and
the tests.

Kuaidi100's codes are its ``state`` (the main status) and, where its documentation lists one, the
advanced status (``resultv2``): 501 in a locker or station, 304 signed for through a locker or
station, 14 refused. YZ/T 0154-2016 (快件寄递状态分类与代码) is the national standard for these
classes; its code values are not in any public source we could read, so none is claimed here
(docs/carriers.md: what is known of it, and how to add its codes once a copy is at hand).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cloud.models import ParcelStatus


class Kind(StrEnum):
    ANNOUNCED = "parcel.announced"
    RESERVATION_CONFIRMED = "reservation.confirmed"
    RESERVATION_MOVED = "reservation.moved"
    RESERVATION_UNFULFILLABLE = "reservation.unfulfillable"
    RESERVATION_EXPIRED = "reservation.expired"
    IN_LOCKER = "parcel.in_locker"
    REMINDER_SENT = "parcel.reminder_sent"
    PICKED_UP = "parcel.picked_up"
    REFUSED = "parcel.refused"
    EXPIRED = "parcel.expired"  # the storage period ended: ready to return
    RETURNED = "parcel.returned"  # the return collected by a courier
    DOOR_JAMMED = "exception.door_jammed"  # with a parcel inside
    BANK_OFFLINE = "exception.bank_offline"  # offline for a while, holding parcels
    PING = "webhook.ping"  # a test, sent only when asked for


@dataclass(frozen=True)
class Codes:
    """What a kind means in each vocabulary: our parcel status (None: not a parcel's), and
    Kuaidi100's main state and advanced state (None: no code of theirs fits)."""

    status: ParcelStatus | None
    kuaidi100_state: int | None
    kuaidi100_code: int | None


_P = ParcelStatus
MAPPING: dict[Kind, Codes] = {
    Kind.ANNOUNCED: Codes(_P.ANNOUNCED, 5, 5),  # 派件: on its way to the recipient
    Kind.RESERVATION_CONFIRMED: Codes(None, None, None),
    Kind.RESERVATION_MOVED: Codes(None, None, None),
    Kind.RESERVATION_UNFULFILLABLE: Codes(None, None, None),
    Kind.RESERVATION_EXPIRED: Codes(None, None, None),
    Kind.IN_LOCKER: Codes(_P.IN_LOCKER, 5, 501),  # 投柜或驿站
    Kind.REMINDER_SENT: Codes(_P.IN_LOCKER, 5, 501),
    Kind.PICKED_UP: Codes(_P.PICKED_UP, 3, 304),  # 投柜或站签收
    Kind.REFUSED: Codes(_P.RETURN_PENDING, 14, 14),  # 拒签
    Kind.EXPIRED: Codes(_P.RETURN_PENDING, 2, None),  # 疑难: not collected in time
    Kind.RETURNED: Codes(_P.RETURNED, 6, 6),  # 退回: on its way back to the sender
    Kind.DOOR_JAMMED: Codes(_P.IN_LOCKER, 2, None),  # 疑难
    Kind.BANK_OFFLINE: Codes(_P.IN_LOCKER, 2, None),  # 疑难
    Kind.PING: Codes(None, None, None),
}

SUBSCRIBABLE = tuple(k.value for k in Kind if k is not Kind.PING)


def vocabularies(kind: Kind) -> dict[str, object]:
    """The status fields every event carries."""
    codes = MAPPING[kind]
    return {
        "status": None if codes.status is None else codes.status.value,
        "kuaidi100": {"state": codes.kuaidi100_state, "code": codes.kuaidi100_code},
    }
