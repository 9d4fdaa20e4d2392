"""A message's kinds and its lifecycle, as a table (decision 0015)."""

from __future__ import annotations

from enum import StrEnum

from cloud.lifecycles import Lifecycle


class MessageKind(StrEnum):
    DEPOSIT = "deposit"  # the code and where: one per pickup group per deposit visit
    ADDED = "added"  # a parcel joined a group already told: the code they hold opens it too
    REMINDER = "reminder"  # before the deadline, one per pickup group, never in quiet hours
    EXPIRED = "expired"  # the deadline passed: the parcel became a return for its carrier


class MessageState(StrEnum):
    QUEUED = "queued"  # waiting for its due time (or its next try after a failure)
    SENDING = "sending"  # claimed by a dispatcher until its lease ends
    SENT = "sent"  # the channel took it; its sealed code is purged
    DELIVERED = "delivered"  # the gateway's receipt says the phone got it
    FAILED = "failed"  # given up: refused by the channel, out of tries, or undeliverable
    CANCELLED = "cancelled"  # nothing left to tell: the parcels left the locker before it went


S = MessageState
MESSAGE: Lifecycle[MessageState] = Lifecycle(
    "message",
    {
        S.QUEUED: frozenset({S.SENDING, S.CANCELLED}),
        # a lease that ran out is claimed again (the dispatcher died mid-send)
        S.SENDING: frozenset({S.SENDING, S.SENT, S.QUEUED, S.FAILED, S.CANCELLED}),
        S.SENT: frozenset({S.DELIVERED, S.FAILED}),  # the gateway's receipt
        S.FAILED: frozenset({S.DELIVERED}),  # a late receipt: it got there after all
    },
)
